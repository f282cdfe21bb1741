//! The auditors' console: server-rendered pages in Japanese (English with `?lang=en`),
//! behind a sign-in. Today it answers a resident's access-history request; the report is
//! the one the CLI and the API make, and each sign-in, failed sign-in and report is an
//! event in the log.
//!
//! Passwords are checked against Argon2id hashes (`mamori user add`); five failed
//! sign-ins lock a name for fifteen minutes; a session is a random 256-bit token in an
//! `HttpOnly`, `SameSite=Strict` cookie, kept hashed in `console.db` for eight hours at
//! most and thirty minutes unused; sessions and lockouts survive a restart, and a new
//! password ends the user's sessions.

use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Form, Router};
use sha2::{Digest, Sha256};

use crate::{DisclosureQuery, Server};

const SESSION_COOKIE: &str = "mamori_session";
const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
/// A session unused this long ends (a terminal left signed in at lunch).
const SESSION_IDLE: Duration = Duration::from_secs(30 * 60);
/// The console's sessions and lockouts, in the data directory.
pub const SESSIONS_FILE: &str = "console.db";
/// Failed sign-ins to one name before it is locked, and for how long.
const MAX_FAILURES: u32 = 5;
const LOCKOUT: Duration = Duration::from_secs(15 * 60);

/// Hashes a password for storage: Argon2id with a random salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    argon2::Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// Signed-in users by the SHA-256 of their session token, and failed sign-ins by name,
/// kept in `console.db` beside the journal (0600): a restart neither signs everyone out
/// nor lifts a lockout.
pub struct Sessions(std::sync::Mutex<rusqlite::Connection>);

const SESSIONS_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sessions(key BLOB PRIMARY KEY, user TEXT NOT NULL, until INTEGER NOT NULL, idle_until INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS failures(name TEXT PRIMARY KEY, count INTEGER NOT NULL, since INTEGER NOT NULL);
";

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn ms(d: Duration) -> i64 {
    d.as_millis() as i64
}

impl Sessions {
    /// The console's session store in the data directory `dir`.
    pub fn open(dir: &std::path::Path) -> Result<Sessions, String> {
        let path = dir.join(SESSIONS_FILE);
        #[cfg(unix)]
        if !path.exists() {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        let conn = rusqlite::Connection::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(|e| e.to_string())?;
        conn.execute_batch(SESSIONS_SCHEMA).map_err(|e| e.to_string())?;
        Ok(Sessions(std::sync::Mutex::new(conn)))
    }

    /// Ends every session of `user` (a new password, a removed user): run by the CLI
    /// beside a running server, so it works on the file.
    pub fn end_all(dir: &std::path::Path, user: &str) -> Result<usize, String> {
        let sessions = Sessions::open(dir)?;
        let conn = sessions.0.lock().expect("sessions lock");
        conn.execute("DELETE FROM sessions WHERE user = ?1", [user]).map_err(|e| e.to_string())
    }

    /// Whether `name` is locked out after repeated failures (guessing is slowed by Argon2
    /// and stopped here).
    fn locked(&self, name: &str) -> bool {
        let conn = self.0.lock().expect("sessions lock");
        let row: Option<(i64, i64)> = conn.query_row("SELECT count, since FROM failures WHERE name = ?1", [name], |r| Ok((r.get(0)?, r.get(1)?))).ok();
        row.is_some_and(|(n, since)| n >= MAX_FAILURES as i64 && now_ms() - since < ms(LOCKOUT))
    }

    fn failed(&self, name: &str) {
        let conn = self.0.lock().expect("sessions lock");
        let now = now_ms();
        let row: Option<(i64, i64)> = conn.query_row("SELECT count, since FROM failures WHERE name = ?1", [name], |r| Ok((r.get(0)?, r.get(1)?))).ok();
        let next = match row {
            // A wrong try during a lockout does not extend it: the owner can get back in
            // when it ends, whatever a guesser keeps sending.
            Some((n, since)) if n >= MAX_FAILURES as i64 && now - since < ms(LOCKOUT) => return,
            Some((n, since)) if now - since < ms(LOCKOUT) => (n + 1, now),
            _ => (1, now),
        };
        let _ = conn.execute("INSERT OR REPLACE INTO failures(name, count, since) VALUES (?1, ?2, ?3)", rusqlite::params![name, next.0, next.1]);
    }

    fn succeeded(&self, name: &str) {
        let _ = self.0.lock().expect("sessions lock").execute("DELETE FROM failures WHERE name = ?1", [name]);
    }

    fn open_session(&self, user: &str) -> String {
        let mut bytes = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
        let token = crate::hex(&bytes);
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = now_ms();
        let conn = self.0.lock().expect("sessions lock");
        let _ = conn.execute("DELETE FROM sessions WHERE until <= ?1 OR idle_until <= ?1", [now]);
        let _ = conn.execute(
            "INSERT INTO sessions(key, user, until, idle_until) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![key.as_slice(), user, now + ms(SESSION_TTL), now + ms(SESSION_IDLE)],
        );
        token
    }

    /// The signed-in user, if the session is alive; each use keeps it from idling out.
    fn user(&self, headers: &HeaderMap) -> Option<String> {
        let key: [u8; 32] = Sha256::digest(token(headers)?.as_bytes()).into();
        let now = now_ms();
        let conn = self.0.lock().expect("sessions lock");
        let user: String = conn
            .query_row("SELECT user FROM sessions WHERE key = ?1 AND until > ?2 AND idle_until > ?2", rusqlite::params![key.as_slice(), now], |r| r.get(0))
            .ok()?;
        let _ = conn.execute("UPDATE sessions SET idle_until = ?2 WHERE key = ?1", rusqlite::params![key.as_slice(), now + ms(SESSION_IDLE)]);
        Some(user)
    }

    fn close(&self, headers: &HeaderMap) {
        if let Some(token) = token(headers) {
            let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
            let _ = self.0.lock().expect("sessions lock").execute("DELETE FROM sessions WHERE key = ?1", [key.as_slice()]);
        }
    }
}

/// The session token from the request's cookies.
fn token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(&format!("{SESSION_COOKIE}=")).map(str::to_owned))
}

#[derive(Clone, Copy, PartialEq)]
enum Lang {
    Ja,
    En,
}

#[derive(serde::Deserialize, Default)]
struct LangQuery {
    lang: Option<String>,
    error: Option<String>,
}

fn lang(q: Option<&str>) -> Lang {
    if q == Some("en") { Lang::En } else { Lang::Ja }
}

/// The console's words: (Japanese, English).
fn t(l: Lang, key: &str) -> &'static str {
    let (ja, en) = match key {
        "title" => ("mamori 監査コンソール", "mamori audit console"),
        "signin" => ("ログイン", "Sign in"),
        "user" => ("ユーザー名", "User name"),
        "password" => ("パスワード", "Password"),
        "bad" => ("ユーザー名またはパスワードが違います。", "Wrong user name or password."),
        "disclosure" => ("アクセス履歴の開示（開示請求）", "Access-history disclosure"),
        "resident" => ("宛名番号", "Resident number (宛名番号)"),
        "from" => ("期間（開始日）", "From (date)"),
        "to" => ("期間（終了日）", "To (date, inclusive)"),
        "request" => ("開示請求番号", "Request number"),
        "format" => ("形式", "Format"),
        "make" => ("作成", "Make the report"),
        "signout" => ("ログアウト", "Sign out"),
        "signed" => ("ログイン中", "Signed in as"),
        "findings" => ("所見一覧", "Findings"),
        "none" => ("所見はありません（mamori detect を実行すると表示されます）。", "No findings (run mamori detect)."),
        "severity" => ("重大度", "Severity"),
        "rule" => ("ルール", "Rule"),
        "employee" => ("職員", "Employee"),
        "period" => ("期間", "Period"),
        "evidence" => ("証拠", "Evidence"),
        "explanation" => ("説明", "Explanation"),
        "note" => (
            "作成した開示は、操作者を非開示として出力し、作成したこと自体が改ざん検知ログに記録されます。",
            "Operators are withheld in the report, and making it is recorded in the tamper-evident log.",
        ),
        _ => ("", ""),
    };
    if l == Lang::En { en } else { ja }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn page(l: Lang, body: &str) -> Html<String> {
    Html(format!(
        r#"<!DOCTYPE html>
<html lang="{code}">
<head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: "Noto Sans CJK JP", "IPAexGothic", sans-serif; margin: 2em auto; max-width: 60em; }}
table {{ border-collapse: collapse; width: 100%; }} th, td {{ border: 1px solid #888; padding: 2px 4px; vertical-align: top; }} th {{ white-space: nowrap; }}
tr.high td, tr.critical td {{ background: #fff3f3; }} td.n {{ text-align: right; }}
label {{ display: block; margin: .6em 0 .2em; }}
input, select {{ font-size: 1em; padding: .3em; width: 20em; }}
button {{ font-size: 1em; padding: .4em 1.2em; margin-top: 1em; }}
.error {{ color: #a00; }}
header {{ display: flex; justify-content: space-between; border-bottom: 1px solid #888; margin-bottom: 1em; }}
</style></head>
<body>
{body}
</body></html>
"#,
        code = if l == Lang::En { "en" } else { "ja" },
        title = t(l, "title"),
    ))
}

fn lang_suffix(l: Lang) -> &'static str {
    if l == Lang::En { "?lang=en" } else { "" }
}

async fn login_page(Query(q): Query<LangQuery>) -> Html<String> {
    let l = lang(q.lang.as_deref());
    let error = if q.error.is_some() { format!("<p class=\"error\" role=\"alert\">{}</p>", t(l, "bad")) } else { String::new() };
    page(
        l,
        &format!(
            r#"<h1>{title}</h1>
<h2>{signin}</h2>
{error}
<form method="post" action="/console/login{suffix}">
<label for="name">{user}</label><input id="name" name="name" autocomplete="username" required>
<label for="password">{password}</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">{signin}</button>
</form>
<p><a href="/console/login">日本語</a> | <a href="/console/login?lang=en">English</a></p>"#,
            title = t(l, "title"),
            signin = t(l, "signin"),
            user = t(l, "user"),
            password = t(l, "password"),
            suffix = lang_suffix(l),
        ),
    )
}

#[derive(serde::Deserialize)]
struct Login {
    name: String,
    password: String,
}

/// Sign-ins hashed at once: Argon2 takes about 20 MiB each, so a storm of sign-ins waits
/// here (or is told 429) instead of taking the server's memory.
static ARGON2_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
/// How long a sign-in waits for a slot before it is told to try later.
const ARGON2_WAIT: Duration = Duration::from_secs(10);
/// The longest user name and password a form may carry (the body itself is bounded too).
const MAX_NAME: usize = 128;
const MAX_PASSWORD: usize = 1024;

async fn login(State(server): State<Arc<Server>>, Query(q): Query<LangQuery>, Form(form): Form<Login>) -> Response {
    let l = lang(q.lang.as_deref());
    if form.name.len() > MAX_NAME || form.password.len() > MAX_PASSWORD {
        return (StatusCode::BAD_REQUEST, "user name or password too long").into_response();
    }
    let Ok(Ok(_slot)) = tokio::time::timeout(ARGON2_WAIT, ARGON2_SLOTS.acquire()).await else {
        return (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "5")], "too many sign-ins at once; try again shortly").into_response();
    };
    let worker = server.clone();
    let name = form.name.trim().to_owned();
    // Argon2 is slow on purpose: off the async threads.
    let checked = tokio::task::spawn_blocking(move || {
        let locked = worker.sessions.locked(&name);
        let stored = worker.reader.lock().expect("reader lock").user(&name).ok().flatten();
        // An unknown user costs the same as a wrong password, so names cannot be probed.
        let phc = stored.as_ref().map(|s| s.0.clone()).unwrap_or_else(|| worker.decoy.clone());
        let ok = verify_password(&form.password, &phc) && stored.is_some() && !locked;
        if ok {
            worker.sessions.succeeded(&name);
        } else {
            worker.sessions.failed(&name);
        }
        if let Some(reports) = &worker.reports {
            let mut journal = worker.journal.lock().expect("journal lock");
            let what = if ok { "console.signin" } else { "console.signin-failed" };
            let detail = if locked { "locked after repeated failures" } else { "" };
            let _ = reports.record(&mut journal, &format!("console:{name}"), what, detail);
        }
        (ok, name)
    })
    .await;
    match checked {
        Ok((true, name)) => {
            let token = server.sessions.open_session(&name);
            let cookie = format!("{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/console; Max-Age={}", SESSION_TTL.as_secs());
            ([(header::SET_COOKIE, cookie)], Redirect::to(&format!("/console/disclosure{}", lang_suffix(l)))).into_response()
        }
        _ => Redirect::to(&format!("/console/login?error=1{}", if l == Lang::En { "&lang=en" } else { "" })).into_response(),
    }
}

async fn logout(State(server): State<Arc<Server>>, headers: HeaderMap) -> Response {
    if let Some(user) = server.sessions.user(&headers)
        && let Some(reports) = &server.reports
    {
        let mut journal = server.journal.lock().expect("journal lock");
        let _ = reports.record(&mut journal, &format!("console:{user}"), "console.signout", "");
    }
    server.sessions.close(&headers);
    let cookie = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/console; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/console/login")).into_response()
}

async fn home(State(server): State<Arc<Server>>, headers: HeaderMap) -> Redirect {
    if server.sessions.user(&headers).is_some() { Redirect::to("/console/disclosure") } else { Redirect::to("/console/login") }
}

fn header_bar(l: Lang, user: &str) -> String {
    let q = lang_suffix(l);
    format!(
        r#"<header><span>{title} — <a href="/console/disclosure{q}">{disclosure}</a> | <a href="/console/findings{q}">{findings}</a></span><span>{signed} <strong class="user">{user}</strong> <form method="post" action="/console/logout" style="display:inline"><button type="submit">{out}</button></form></span></header>"#,
        title = t(l, "title"),
        disclosure = t(l, "disclosure"),
        findings = t(l, "findings"),
        signed = t(l, "signed"),
        user = esc(user),
        out = t(l, "signout"),
    )
}

async fn disclosure_form(State(server): State<Arc<Server>>, headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let l = lang(q.lang.as_deref());
    let Some(user) = server.sessions.user(&headers) else { return Redirect::to("/console/login").into_response() };
    page(
        l,
        &format!(
            r#"{bar}
<h1>{heading}</h1>
<form method="get" action="/console/disclosure/report">
<label for="resident">{resident}</label><input id="resident" name="resident" required pattern="[0-9]+">
<label for="from">{from}</label><input id="from" name="from" type="date">
<label for="to">{to}</label><input id="to" name="to" type="date">
<label for="request_no">{request}</label><input id="request_no" name="request_no">
<label for="format">{format}</label><select id="format" name="format"><option value="html">HTML（印刷用）</option><option value="csv">CSV (UTF-8)</option><option value="csv-sjis">CSV (Shift_JIS)</option><option value="json">JSON</option></select>
<button type="submit">{make}</button>
</form>
<p>{note}</p>"#,
            bar = header_bar(l, &user),
            heading = t(l, "disclosure"),
            resident = t(l, "resident"),
            from = t(l, "from"),
            to = t(l, "to"),
            request = t(l, "request"),
            format = t(l, "format"),
            make = t(l, "make"),
            note = t(l, "note"),
        ),
    )
    .into_response()
}

fn jst(ms: i64) -> String {
    let offset = chrono::FixedOffset::east_opt(9 * 3600).expect("JST");
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.with_timezone(&offset).format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()
}

async fn findings_page(State(server): State<Arc<Server>>, headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let l = lang(q.lang.as_deref());
    let Some(user) = server.sessions.user(&headers) else { return Redirect::to("/console/login").into_response() };
    let worker = server.clone();
    let reader = format!("console:{user}");
    let found = tokio::task::spawn_blocking(move || {
        let Some(reports) = &worker.reports else { return Ok(Vec::new()) };
        let mut journal = worker.journal.lock().expect("journal lock");
        reports.findings(&mut journal, &reader)
    })
    .await;
    let findings = match found {
        Ok(Ok(f)) => f,
        Ok(Err(e)) => return (StatusCode::INTERNAL_SERVER_ERROR, esc(&e)).into_response(),
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let mut rows = String::new();
    for f in &findings {
        let severity = match (f["severity"].as_str().unwrap_or(""), l) {
            ("critical", Lang::Ja) => "重大",
            ("high", Lang::Ja) => "高",
            ("medium", Lang::Ja) => "中",
            ("low", Lang::Ja) => "低",
            (other, _) => other,
        };
        let employees: Vec<&str> = f["employees"].as_array().into_iter().flatten().filter_map(|e| e.as_str()).collect();
        let explanation = if l == Lang::En { &f["explanation_en"] } else { &f["explanation_ja"] };
        rows.push_str(&format!(
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{} 〜 {}</td><td class=\"n\">{}</td><td>{}</td></tr>\n",
            esc(f["severity"].as_str().unwrap_or("")),
            esc(severity),
            esc(f["rule"].as_str().unwrap_or("")),
            esc(&employees.join("、")),
            jst(f["from"].as_i64().unwrap_or(0)),
            jst(f["to"].as_i64().unwrap_or(0)),
            f["evidence"].as_array().map_or(0, Vec::len),
            esc(explanation.as_str().unwrap_or("")),
        ));
    }
    let table = if findings.is_empty() {
        format!("<p class=\"none\">{}</p>", t(l, "none"))
    } else {
        format!(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>\n{rows}</tbody></table>",
            t(l, "severity"),
            t(l, "rule"),
            t(l, "employee"),
            t(l, "period"),
            t(l, "evidence"),
            t(l, "explanation")
        )
    };
    page(l, &format!("{}\n<h1>{}</h1>\n{table}", header_bar(l, &user), t(l, "findings"))).into_response()
}

async fn disclosure_report(State(server): State<Arc<Server>>, headers: HeaderMap, Query(mut q): Query<DisclosureQuery>) -> Response {
    let Some(user) = server.sessions.user(&headers) else { return Redirect::to("/console/login").into_response() };
    // A date input left empty arrives as an empty string: no bound.
    q.from = q.from.filter(|s| !s.is_empty());
    q.to = q.to.filter(|s| !s.is_empty());
    let worker = server.clone();
    let made = tokio::task::spawn_blocking(move || {
        let Some(reports) = &worker.reports else { return Err("this server makes no reports".to_owned()) };
        let mut journal = worker.journal.lock().expect("journal lock");
        reports.disclosure(&mut journal, &format!("console:{user}"), &q)
    })
    .await;
    match made {
        Ok(Ok((content_type, body))) => ([(header::CONTENT_TYPE, content_type)], body).into_response(),
        Ok(Err(e)) => (StatusCode::BAD_REQUEST, page(Lang::Ja, &format!("<p class=\"error\" role=\"alert\">{}</p><p><a href=\"/console/disclosure\">戻る</a></p>", esc(&e)))).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// A console form is a few fields: anything larger is refused before it is read.
const MAX_FORM: usize = 16 * 1024;

pub fn routes() -> Router<Arc<Server>> {
    use axum::routing::{get, post};
    Router::new()
        .route("/console", get(home))
        .route("/console/login", get(login_page).post(login))
        .route("/console/logout", post(logout))
        .route("/console/disclosure", get(disclosure_form))
        .route("/console/disclosure/report", get(disclosure_report))
        .route("/console/findings", get(findings_page))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_FORM))
}
