//! The auditors' console: server-rendered pages (askama templates in `templates/`,
//! escaped automatically) in Japanese, English on request (`?lang=en`, then kept in a
//! cookie across every page and form), behind a sign-in.
//!
//! Pages: `/console` (what needs attention today), `/console/findings` (filters, paging,
//! sorting), `/console/findings/{id}` (explanation, evidence timeline with each event's
//! inclusion proved), `/console/employees/{id}` (postings, activity, findings,
//! back-search), `/console/disclosure` (a resident's disclosure; the resident number goes
//! in a POST body, never a URL), `/console/admin` (users, API keys, the console's own
//! audit trail; revoking and removing).
//!
//! Every route asks who is signing in or signed in and what their role lets them see
//! (`mamori_app::console::Role`); every page showing personal data is recorded in the log
//! by the application services it calls. State changes are POSTs carrying the session's
//! CSRF token (the sign-in form a token of its own, in a cookie), and POSTs from another
//! origin are refused whatever they carry.
//!
//! Passwords are checked against Argon2id hashes (`mamori user add`), two at a time;
//! five failed sign-ins lock a name, and twenty an address, for fifteen minutes, and a
//! wrong try during a lockout does not extend it; a session is a random 256-bit token in
//! an `HttpOnly`, `SameSite=Strict` cookie (`Secure` when served over TLS or
//! `--secure-cookies`), kept hashed in `console.db` for eight hours at most and thirty
//! minutes unused; sessions and lockouts survive a restart, and a new password or a
//! removed user ends the user's sessions.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use askama::Template;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header, request::Parts};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Form, Router};
use anyhow::Context;
use mamori_app::audit;
use mamori_app::console::{self as app, Reader, Role, View};
use mamori_journal::SqliteJournal;
use mamori_model::{Finding, Severity};
use sha2::{Digest, Sha256};

use crate::{Held, Server};

const SESSION_COOKIE: &str = "mamori_session";
const LOGIN_COOKIE: &str = "mamori_login";
const LANG_COOKIE: &str = "mamori_lang";
const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
/// A session unused this long ends (a terminal left signed in at lunch).
const SESSION_IDLE: Duration = Duration::from_secs(30 * 60);
/// The console's sessions and lockouts, in the data directory.
pub const SESSIONS_FILE: &str = "console.db";
/// Failed sign-ins to one name, and from one address, before it is locked, and for how
/// long. An address gets more tries: several staff share an office's NAT address.
const MAX_FAILURES: i64 = 5;
const MAX_ADDRESS_FAILURES: i64 = 20;
const LOCKOUT: Duration = Duration::from_secs(15 * 60);

/// Hashes a password for storage: Argon2id with a random salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    argon2::Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

/// Whether `password` is the one `phc` (an Argon2id PHC string) was made from.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// Signed-in users by the SHA-256 of their session token (with the session's CSRF
/// token), and failed sign-ins by name and by address, kept in `console.db` beside the
/// journal (0600): a restart neither signs everyone out nor lifts a lockout.
pub struct Sessions(std::sync::Mutex<rusqlite::Connection>);

const SESSIONS_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sessions(key BLOB PRIMARY KEY, user TEXT NOT NULL, until INTEGER NOT NULL, idle_until INTEGER NOT NULL,
                                    csrf TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS failures(name TEXT PRIMARY KEY, count INTEGER NOT NULL, since INTEGER NOT NULL);
";

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn ms(d: Duration) -> i64 {
    d.as_millis() as i64
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    crate::hex(&bytes)
}

/// Compares two tokens in time that does not depend on where they differ.
fn same_token(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A live session: who, and the token its forms must carry.
#[derive(Clone)]
struct Session {
    user: String,
    csrf: String,
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
        // Sessions made before they carried a CSRF token cannot post forms: end them.
        let has_csrf: i64 = conn.query_row("SELECT count(*) FROM pragma_table_info('sessions') WHERE name = 'csrf'", [], |r| r.get(0)).map_err(|e| e.to_string())?;
        if has_csrf == 0 {
            conn.execute_batch("DROP TABLE sessions;").map_err(|e| e.to_string())?;
            conn.execute_batch(SESSIONS_SCHEMA).map_err(|e| e.to_string())?;
        }
        Ok(Sessions(std::sync::Mutex::new(conn)))
    }

    /// Ends every session of `user` (a new password, a removed user): run by the CLI
    /// beside a running server, so it works on the file.
    pub fn end_all(dir: &std::path::Path, user: &str) -> Result<usize, String> {
        Sessions::open(dir)?.end_user(user)
    }

    fn end_user(&self, user: &str) -> Result<usize, String> {
        let conn = self.0.lock().expect("sessions lock");
        conn.execute("DELETE FROM sessions WHERE user = ?1", [user]).map_err(|e| e.to_string())
    }

    /// Whether the counter `key` (a name, or `addr:` and an address) is locked out after
    /// `max` failures (guessing is slowed by Argon2 and stopped here).
    fn locked(&self, key: &str, max: i64) -> bool {
        let conn = self.0.lock().expect("sessions lock");
        let row: Option<(i64, i64)> = conn.query_row("SELECT count, since FROM failures WHERE name = ?1", [key], |r| Ok((r.get(0)?, r.get(1)?))).ok();
        row.is_some_and(|(n, since)| n >= max && now_ms() - since < ms(LOCKOUT))
    }

    fn failed(&self, key: &str, max: i64) {
        let conn = self.0.lock().expect("sessions lock");
        let now = now_ms();
        let row: Option<(i64, i64)> = conn.query_row("SELECT count, since FROM failures WHERE name = ?1", [key], |r| Ok((r.get(0)?, r.get(1)?))).ok();
        let next = match row {
            // A wrong try during a lockout does not extend it: the owner can get back in
            // when it ends, whatever a guesser keeps sending.
            Some((n, since)) if n >= max && now - since < ms(LOCKOUT) => return,
            Some((n, since)) if now - since < ms(LOCKOUT) => (n + 1, now),
            _ => (1, now),
        };
        let _ = conn.execute("INSERT OR REPLACE INTO failures(name, count, since) VALUES (?1, ?2, ?3)", rusqlite::params![key, next.0, next.1]);
    }

    fn succeeded(&self, name: &str) {
        let _ = self.0.lock().expect("sessions lock").execute("DELETE FROM failures WHERE name = ?1", [name]);
    }

    fn open_session(&self, user: &str) -> String {
        let token = random_token();
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = now_ms();
        let conn = self.0.lock().expect("sessions lock");
        let _ = conn.execute("DELETE FROM sessions WHERE until <= ?1 OR idle_until <= ?1", [now]);
        let _ = conn.execute(
            "INSERT INTO sessions(key, user, until, idle_until, csrf) VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![key.as_slice(), user, now + ms(SESSION_TTL), now + ms(SESSION_IDLE), random_token()],
        );
        token
    }

    /// The signed-in session, if alive; each use keeps it from idling out.
    fn session(&self, headers: &HeaderMap) -> Option<Session> {
        let key: [u8; 32] = Sha256::digest(cookie(headers, SESSION_COOKIE)?.as_bytes()).into();
        let now = now_ms();
        let conn = self.0.lock().expect("sessions lock");
        let session = conn
            .query_row("SELECT user, csrf FROM sessions WHERE key = ?1 AND until > ?2 AND idle_until > ?2", rusqlite::params![key.as_slice(), now], |r| {
                Ok(Session { user: r.get(0)?, csrf: r.get(1)? })
            })
            .ok()?;
        let _ = conn.execute("UPDATE sessions SET idle_until = ?2 WHERE key = ?1", rusqlite::params![key.as_slice(), now + ms(SESSION_IDLE)]);
        Some(session)
    }

    fn close(&self, headers: &HeaderMap) {
        if let Some(token) = cookie(headers, SESSION_COOKIE) {
            let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
            let _ = self.0.lock().expect("sessions lock").execute("DELETE FROM sessions WHERE key = ?1", [key.as_slice()]);
        }
    }
}

/// A cookie's value from the request.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(name)?.strip_prefix('=').map(str::to_owned))
}

/// The client's address, as the socket saw it (behind a TLS proxy: the proxy's).
struct ClientAddr(Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip())))
    }
}

impl ClientAddr {
    fn text(&self) -> String {
        self.0.map_or_else(|| "unknown".to_owned(), |a| a.to_string())
    }
}

/// The language: `?lang=` when given (and then kept in a cookie), else the cookie, else
/// Japanese.
#[derive(Clone, Copy, PartialEq)]
struct Lang {
    en: bool,
    /// Set the cookie on the answer (the page was asked for with `?lang=`).
    chosen: bool,
}

#[derive(serde::Deserialize, Default)]
struct LangQuery {
    lang: Option<String>,
    error: Option<String>,
}

fn lang(headers: &HeaderMap, asked: Option<&str>) -> Lang {
    match asked {
        Some(l) => Lang { en: l == "en", chosen: true },
        None => Lang { en: cookie(headers, LANG_COOKIE).as_deref() == Some("en"), chosen: false },
    }
}

impl Lang {
    /// Adds the language cookie to `response` when the language was just chosen.
    fn keep(self, mut response: Response) -> Response {
        if self.chosen {
            let value = format!("{LANG_COOKIE}={}; SameSite=Strict; Path=/console; Max-Age=31536000", if self.en { "en" } else { "ja" });
            if let Ok(v) = header::HeaderValue::from_str(&value) {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        response
    }
}

/// The console's words: (Japanese, English).
fn t(en: bool, key: &str) -> &'static str {
    let (ja, en_text) = match key {
        "title" => ("mamori 監査コンソール", "mamori audit console"),
        "menu" => ("メニュー", "Menu"),
        "signin" => ("ログイン", "Sign in"),
        "user" => ("ユーザー名", "User name"),
        "password" => ("パスワード", "Password"),
        "bad" => ("ユーザー名またはパスワードが違います。", "Wrong user name or password."),
        "dashboard" => ("ダッシュボード", "Dashboard"),
        "disclosure" => ("アクセス履歴の開示（開示請求）", "Access-history disclosure"),
        "resident" => ("宛名番号", "Resident number (宛名番号)"),
        "residents" => ("住民（宛名番号）", "Residents"),
        "from" => ("期間（開始日）", "From (date)"),
        "to" => ("期間（終了日）", "To (date, inclusive)"),
        "request" => ("開示請求番号", "Request number"),
        "format" => ("形式", "Format"),
        "make" => ("作成", "Make the report"),
        "signout" => ("ログアウト", "Sign out"),
        "signed" => ("ログイン中", "Signed in as"),
        "findings" => ("所見一覧", "Findings"),
        "none" => ("条件に合う所見はありません。", "No findings match."),
        "none_employee" => ("この職員の所見はありません。", "No findings about this employee."),
        "severity" => ("重大度", "Severity"),
        "rule" => ("ルール", "Rule"),
        "employee" => ("職員", "Employee"),
        "period" => ("期間", "Period"),
        "evidence" => ("証拠", "Evidence"),
        "explanation" => ("説明", "Explanation"),
        "critical" => ("重大", "critical"),
        "high" => ("高", "high"),
        "medium" => ("中", "medium"),
        "low" => ("低", "low"),
        "any" => ("すべて", "any"),
        "department" => ("所属", "Department"),
        "sort" => ("並び順", "Sort by"),
        "filter" => ("表示", "Show"),
        "matching" => ("件", "matching"),
        "pages" => ("ページ", "Pages"),
        "prev" => ("← 前へ", "← Previous"),
        "next" => ("次へ →", "Next →"),
        "urgent" => ("対応が必要な所見（重大・高）", "Findings needing attention (critical, high)"),
        "by_severity" => ("重大度別の所見", "Findings by severity"),
        "none_urgent" => ("重大・高の所見はありません。", "No critical or high findings."),
        "all_findings" => ("所見一覧へ", "All findings"),
        "events" => ("記録済みイベント", "Events recorded"),
        "last_event" => ("最新", "latest"),
        "checkpoint" => ("最新の署名付きチェックポイント（木のサイズ）", "Latest signed checkpoint (tree size)"),
        "reviews_due" => ("未完了のアクセスログ点検（先月分）", "Monthly reviews not signed off (last month)"),
        "none_reviews" => ("未完了の点検はありません。", "Every review is signed off."),
        "month" => ("月", "Month"),
        "due" => ("期限", "Due"),
        "state" => ("状態", "State"),
        "overdue" => ("期限超過", "overdue"),
        "due_state" => ("期限前", "due"),
        "timeline" => ("証拠の時系列（各イベントの包含証明を検証済み）", "Evidence timeline (each event's inclusion proof checked)"),
        "time" => ("日時", "Time"),
        "event" => ("記録番号", "Event"),
        "account" => ("アカウント", "Account"),
        "system" => ("システム", "System"),
        "operation" => ("操作", "Operation"),
        "host" => ("端末", "Terminal"),
        "object" => ("対象", "Object"),
        "proof" => ("包含証明", "Inclusion proof"),
        "proved" => ("検証済み", "proved"),
        "unproved" => ("未検証", "not proved"),
        "more_evidence" => ("件の証拠は省略しました（mamori findings --json で全件）。", "more evidence events not shown (mamori findings --json has them all)."),
        "files" => ("ファイル", "Files"),
        "devices" => ("機器", "Devices"),
        "postings" => ("配属", "Postings"),
        "role" => ("役割", "Role"),
        "accounts" => ("アカウント", "Accounts"),
        "activity" => ("日ごとの照会件数（赤: 業務の記録がない照会を含む日）", "Record accesses per day (red: days with accesses without business on file)"),
        "activity_note" => ("棒にカーソルを合わせると日付と件数を表示します。", "Hover over a bar for the date and counts."),
        "unexplained" => ("根拠なし", "unexplained"),
        "risk_over_time" => ("リスクの推移（各月末時点。所見の重大度と件数で重み付けし、時間とともに減衰）", "Risk over time (at each month's end: findings weighed by severity and evidence, fading with time)"),
        "backsearch" => ("照会記録（遡及調査）", "Record accesses (back-search)"),
        "accesses" => ("件", "accesses"),
        "hidden" => ("件は所属外の期間のため非表示", "hidden (posted outside your department then)"),
        "business" => ("業務上の根拠", "Business"),
        "admin" => ("管理", "Administration"),
        "users" => ("コンソール利用者", "Console users"),
        "keys" => ("API キー", "API keys"),
        "scope" => ("用途", "Scope"),
        "label" => ("ラベル", "Label"),
        "created" => ("作成日時", "Created"),
        "remove" => ("削除", "Remove"),
        "revoke" => ("失効", "Revoke"),
        "key_made" => ("API キーを作成しました:", "API key made:"),
        "key_once" => ("この画面を閉じると二度と表示されません。送信元システムに設定してください。", "It is shown this once: put it in the sending system now."),
        "make_key" => ("API キーを作成", "Make an API key"),
        "user_add_note" => (
            "利用者の追加とパスワードの設定はサーバー上で mamori user add で行います（パスワードがブラウザーを通らないため）。",
            "Users are added, and passwords set, on the server with mamori user add (passwords never pass through a browser).",
        ),
        "actions" => ("監査担当者の操作記録（直近 30 日）", "The console's own audit trail (last 30 days)"),
        "actions_note" => ("誰が何を見たか。すべて改ざん検知ログの記録です。", "Who looked at what: every row is an event in the tamper-evident log."),
        "actor" => ("操作者", "Actor"),
        "detail" => ("内容", "Detail"),
        "forbidden" => ("この画面を表示する権限がありません。", "Your role may not open this page."),
        "forbidden_h" => ("権限がありません", "Forbidden"),
        "notfound" => ("見つからないか、表示する権限がありません。", "Not found, or not yours to see."),
        "notfound_h" => ("見つかりません", "Not found"),
        "badrequest_h" => ("入力に誤りがあります", "Bad request"),
        "csrf" => ("フォームの有効期限が切れました。ページを開き直してください。", "The form has expired: open the page again."),
        "cases" => ("事案", "Cases"),
        "cases_note" => ("事案の開始・メモ・担当・終結はすべて改ざん検知ログの記録です。", "Every step of a case is an event in the tamper-evident log."),
        "none_cases" => ("事案はありません。所見の画面から開始できます。", "No cases yet: open one from a finding."),
        "case_no" => ("事案番号", "Case"),
        "case_title" => ("件名", "Title"),
        "opened" => ("開始", "Opened"),
        "assigned" => ("担当", "Assigned to"),
        "closed" => ("終結", "closed"),
        "open_state" => ("調査中", "open"),
        "pick" => ("選択", "Pick"),
        "open_case_picked" => ("選択した所見で事案を開始", "Open a case from the findings picked"),
        "open_case" => ("この所見で事案を開始", "Open a case from this finding"),
        "events_in_log" => ("ログ上の記録番号", "Events in the log"),
        "notes" => ("メモ", "Notes"),
        "none_notes" => ("メモはありません。", "No notes yet."),
        "note_text" => ("内容", "Note"),
        "add_note" => ("メモを追加", "Add a note"),
        "assign_to" => ("担当を変更", "Assign to"),
        "close_case" => ("事案を終結", "Close the case"),
        "disposition" => ("判定", "Disposition"),
        "misuse" => ("不正利用", "misuse"),
        "legitimate" => ("業務上正当", "legitimate"),
        "false_alarm" => ("誤検知", "false alarm"),
        "reason" => ("理由", "Reason"),
        "raised" => ("検知中", "raised"),
        "suppressed_state" => ("抑制中", "suppressed"),
        "suppressed_by" => ("抑制", "Suppressed"),
        "suppress_days" => ("同じ職員・同じルールの所見を抑制する日数（誤検知・業務上正当のとき。0 で抑制しない）", "Days to set aside findings of this rule about the same staff (false alarm or legitimate only; 0: none)"),
        "suppress_note" => ("次回の検知から適用されます。", "Applies from the next detection run."),
        "review" => ("アクセスログ点検", "Monthly access review"),
        "review_states" => ("点検の状況（直近 3 か月、期限超過を先頭に）", "Review state (last three months, overdue first)"),
        "review_sheet" => ("点検票", "Review sheet"),
        "review_counts" => ("対象の照会件数", "Accesses in the month"),
        "sampled" => ("無作為抽出", "sampled"),
        "review_empty" => ("この月の点検対象はありません。", "Nothing to review this month."),
        "why_on_sheet" => ("抽出理由", "Why on the sheet"),
        "mark" => ("判定", "Mark"),
        "signoff" => ("点検を完了して署名", "Sign off the review"),
        "signoff_note" => (
            "すべての行に 業務・業務外・確認 のいずれかを付けてください。署名は改ざん検知ログに記録され、取り消せません。",
            "Mark every row 業務 (business), 業務外 (not business) or 確認 (ask). The sign-off is recorded in the tamper-evident log and cannot be undone.",
        ),
        "signed_off" => ("点検済み", "Signed off"),
        "signed_state" => ("点検済み", "signed"),
        "breach" => ("漏えい等の規模の算定と報告書案", "Breach sizing and the PPC draft"),
        "nav_breach" => ("漏えい等報告", "Breach"),
        "nav_gate" => ("利用目的の確認", "Gate"),
        "gate" => ("利用目的の確認（ゲート）の記録（直近 30 日）", "The purpose-of-use gate (last 30 days)"),
        "gate_note" => (
            "業務システムが照会の前に問い合わせた結果と、職員が申告した利用目的です。緊急時利用（ブレークグラス）は所見にもなり、事案として点検できます。",
            "What business systems were told before opening records, and the purposes staff declared. Broken glass is also a finding, to review in a case.",
        ),
        "gate_warnings" => ("注意表示", "Warnings"),
        "gate_declare_asked" => ("目的の申告を求めた照会", "Purpose asked for"),
        "gate_declarations" => ("申告された目的", "Purposes declared"),
        "gate_break_glass" => ("緊急時利用", "Broken glass"),
        "gate_decision" => ("判定", "Decision"),
        "gate_purpose" => ("目的", "Purpose"),
        "gate_declared" => ("申告", "declared"),
        "none_gate" => ("記録はありません。", "Nothing recorded."),
        "nav_residents" => ("住民の照会履歴", "Residents"),
        "breach_findings" => ("所見 ID（空白・改行区切り）", "Finding ids (separated by spaces or lines)"),
        "breach_events" => ("記録番号（空白区切り）", "Event numbers (separated by spaces)"),
        "aware" => ("事態を知った日", "Date the body became aware"),
        "improper_purpose" => ("不正の目的によるおそれがある", "May have been for an improper purpose"),
        "breach_draft" => ("報告書案（HTML）", "Draft report (HTML)"),
        "notice_csv" => ("本人通知の対象者一覧（CSV）", "People to notify (CSV)"),
        "breach_note" => (
            "回収したファイル（USB メモリの中身など）の検査はサーバー上で mamori report breach --evidence で行います。算定したこと自体が改ざん検知ログに記録されます。",
            "Recovered files (a USB stick's contents) are inspected on the server with mamori report breach --evidence. Making the sizing is recorded in the tamper-evident log.",
        ),
        "residents_page" => ("住民の照会履歴（調査用・操作者表示）", "A resident's access history (investigation; operators named)"),
        "residents_note" => (
            "調査用の履歴は操作者を氏名で表示します。照会したこと自体（該当なしを含む）が改ざん検知ログに記録されます。",
            "The investigation history names each operator. The look-up itself, a failed one too, is recorded in the tamper-evident log.",
        ),
        "sources" => ("ログの取り込み元", "Sources"),
        "none_sources" => ("まだ取り込んだログはありません。", "No logs imported yet."),
        "silent" => ("途絶", "silent"),
        "silent_sources" => ("途絶しているログ（いつもの間隔を超えて記録がない）", "Sources gone silent (quiet longer than ever before)"),
        "none_silent" => ("途絶しているログはありません。", "No source has gone silent."),
        "quiet_days" => ("最終記録からの日数", "Days since its last event"),
        "longest_gap" => ("過去最長の空白", "longest gap before"),
        "dead_letters" => ("取り込めなかった行", "Lines refused"),
        "none_dead" => ("取り込めなかった行はありません。", "No line was refused."),
        "per_day" => ("日ごとの件数", "Events per day"),
        "source" => ("取り込み元", "Source"),
        "line" => ("行", "Line"),
        "quality" => ("データ品質（mamori check）", "Data quality (mamori check)"),
        "run_check" => ("データ品質の検査を実行", "Run the data-quality check"),
        "check_note" => ("すべてのイベントを読むため、大きな町では時間がかかります。", "It reads every event: on a large town it takes a while."),
        "open_cases" => ("調査中の事案（古い順）", "Open cases (oldest first)"),
        "none_open_cases" => ("調査中の事案はありません。", "No open cases."),
        "age_days" => ("経過日数", "Age (days)"),
        "last_verify" => ("最後の検証（mamori verify --record）", "Last verification (mamori verify --record)"),
        "never_verified" => ("記録なし", "none recorded"),
        "note" => (
            "作成した開示は、操作者を非開示として出力し、作成したこと自体が改ざん検知ログに記録されます。",
            "Operators are withheld in the report, and making it is recorded in the tamper-evident log.",
        ),
        _ => ("", ""),
    };
    if en { en_text } else { ja }
}

/// What every page's frame shows: language, who is signed in, the menu their role
/// allows, and the CSRF token for its forms.
pub struct Chrome {
    en: bool,
    user: String,
    role: String,
    /// (href, label, current)
    nav: Vec<(&'static str, &'static str, bool)>,
    csrf: String,
}

impl Chrome {
    pub fn t(&self, key: &str) -> &'static str {
        t(self.en, key)
    }

    fn anonymous(l: Lang) -> Chrome {
        Chrome { en: l.en, user: String::new(), role: String::new(), nav: Vec::new(), csrf: String::new() }
    }

    fn of(l: Lang, reader: &Reader, csrf: &str, current: &str) -> Chrome {
        let items: [(&str, &str, View); 10] = [
            ("/console", "dashboard", View::Dashboard),
            ("/console/findings", "findings", View::Findings),
            ("/console/cases", "cases", View::Cases),
            ("/console/review", "review", View::Review),
            ("/console/gate", "nav_gate", View::Gate),
            ("/console/residents", "nav_residents", View::Residents),
            ("/console/disclosure", "disclosure", View::Disclosure),
            ("/console/breach", "nav_breach", View::Breach),
            ("/console/sources", "sources", View::Sources),
            ("/console/admin", "admin", View::Admin),
        ];
        let nav = items
            .iter()
            .filter(|(_, _, view)| reader.role.may(*view))
            .map(|(href, key, _)| (*href, t(l.en, key), *href == current))
            .collect();
        Chrome { en: l.en, user: reader.name.clone(), role: reader.role.label(l.en).to_owned(), nav, csrf: csrf.to_owned() }
    }
}

fn render(l: Lang, status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => l.keep((status, Html(html)).into_response()),
        Err(e) => {
            tracing::error!(error = %e, "console template");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    c: Chrome,
    heading: &'static str,
    message: String,
}

fn error_page(c: Chrome, l: Lang, status: StatusCode, message: String) -> Response {
    let heading = match status {
        StatusCode::FORBIDDEN => t(l.en, "forbidden_h"),
        StatusCode::NOT_FOUND => t(l.en, "notfound_h"),
        _ => t(l.en, "badrequest_h"),
    };
    render(l, status, &ErrorPage { c, heading, message })
}

/// A signed-in request: who, with their role and department as the users table says now
/// (a removed user or a changed role takes effect on the next request).
struct Signed {
    reader: Reader,
    csrf: String,
    lang: Lang,
}

impl Signed {
    fn chrome(&self, current: &str) -> Chrome {
        Chrome::of(self.lang, &self.reader, &self.csrf, current)
    }

    /// 403 unless the reader's role may open `view`.
    fn may(&self, view: View) -> Result<(), Response> {
        if self.reader.role.may(view) {
            Ok(())
        } else {
            Err(error_page(self.chrome(""), self.lang, StatusCode::FORBIDDEN, t(self.lang.en, "forbidden").to_owned()))
        }
    }

    fn not_found(&self) -> Response {
        error_page(self.chrome(""), self.lang, StatusCode::NOT_FOUND, t(self.lang.en, "notfound").to_owned())
    }

    fn bad_request(&self, message: String) -> Response {
        error_page(self.chrome(""), self.lang, StatusCode::BAD_REQUEST, message)
    }

    /// Refuses a form whose CSRF token is not the session's.
    fn check_csrf(&self, sent: &str) -> Result<(), Response> {
        if !sent.is_empty() && same_token(sent, &self.csrf) {
            Ok(())
        } else {
            Err(error_page(self.chrome(""), self.lang, StatusCode::FORBIDDEN, t(self.lang.en, "csrf").to_owned()))
        }
    }
}

/// The signed-in reader, or a redirect to the sign-in page.
fn signed_in(server: &Server, headers: &HeaderMap, asked_lang: Option<&str>) -> Result<Signed, Response> {
    let l = lang(headers, asked_lang);
    let to_login = || l.keep(Redirect::to("/console/login").into_response());
    let session = server.sessions.session(headers).ok_or_else(to_login)?;
    let row = server.reader.held().user(&session.user).ok().flatten();
    let Some(row) = row else {
        server.sessions.close(headers);
        return Err(to_login());
    };
    let Some(role) = Role::parse(&row.role) else { return Err(to_login()) };
    let department = Some(row.department).filter(|d| !d.is_empty());
    Ok(Signed { reader: Reader { name: row.name, role, department }, csrf: session.csrf, lang: l })
}

/// The signed-in reader whose role may open `view`: else the sign-in page, or 403.
fn signed_for(server: &Server, headers: &HeaderMap, asked_lang: Option<&str>, view: View) -> Result<Signed, Response> {
    let s = signed_in(server, headers, asked_lang)?;
    s.may(view)?;
    Ok(s)
}

/// Runs `f` on the journal off the async threads.
/// Runs `f` on the store off the async threads, its messages in the page's language.
async fn with_journal<T: Send + 'static>(server: &Arc<Server>, lang: Lang, f: impl FnOnce(&mut SqliteJournal) -> T + Send + 'static) -> Result<T, Response> {
    let worker = server.clone();
    tokio::task::spawn_blocking(move || {
        let mut journal = worker.journal.held();
        mamori_app::lang::in_language(lang.en, || f(&mut journal))
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "console worker");
        (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
    })
}

fn internal(e: anyhow::Error) -> Response {
    tracing::error!(error = format!("{e:#}"), "console");
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    c: Chrome,
    error: bool,
    login_csrf: String,
}

/// The sign-in form carries a token that must match a cookie set with it: a form posted
/// from another site has neither (login CSRF).
async fn login_page(State(server): State<Arc<Server>>, headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let l = lang(&headers, q.lang.as_deref());
    let token = random_token();
    let mut response = render(l, StatusCode::OK, &LoginPage { c: Chrome::anonymous(l), error: q.error.is_some(), login_csrf: token.clone() });
    let secure = if server.secure_cookies { "; Secure" } else { "" };
    let cookie = format!("{LOGIN_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/console/login; Max-Age=3600{secure}");
    if let Ok(v) = header::HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

#[derive(serde::Deserialize)]
struct Login {
    name: String,
    password: String,
    #[serde(default)]
    csrf: String,
}

/// Sign-ins hashed at once: Argon2 takes about 20 MiB each, so a storm of sign-ins waits
/// here (or is told 429) instead of taking the server's memory.
static ARGON2_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
/// How long a sign-in waits for a slot before it is told to try later.
const ARGON2_WAIT: Duration = Duration::from_secs(10);
/// The longest user name and password a form may carry (the body itself is bounded too).
const MAX_NAME: usize = 128;
const MAX_PASSWORD: usize = 1024;

async fn login(State(server): State<Arc<Server>>, addr: ClientAddr, headers: HeaderMap, Form(form): Form<Login>) -> Response {
    let l = lang(&headers, None);
    if form.name.len() > MAX_NAME || form.password.len() > MAX_PASSWORD {
        return (StatusCode::BAD_REQUEST, "user name or password too long").into_response();
    }
    if !cookie(&headers, LOGIN_COOKIE).is_some_and(|c| same_token(&c, &form.csrf)) {
        return error_page(Chrome::anonymous(l), l, StatusCode::FORBIDDEN, t(l.en, "csrf").to_owned());
    }
    let Ok(Ok(_slot)) = tokio::time::timeout(ARGON2_WAIT, ARGON2_SLOTS.acquire()).await else {
        return (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "5")], "too many sign-ins at once; try again shortly").into_response();
    };
    let worker = server.clone();
    let name = form.name.trim().to_owned();
    let address = addr.text();
    // Argon2 is slow on purpose: off the async threads.
    let checked = tokio::task::spawn_blocking(move || {
        let address_key = format!("addr:{address}");
        let locked = worker.sessions.locked(&name, MAX_FAILURES) || worker.sessions.locked(&address_key, MAX_ADDRESS_FAILURES);
        let stored = worker.reader.held().user(&name).ok().flatten();
        // An unknown user costs the same as a wrong password, so names cannot be probed.
        let phc = stored.as_ref().map(|s| s.phc.clone()).unwrap_or_else(|| worker.decoy.clone());
        let ok = verify_password(&form.password, &phc) && stored.is_some() && !locked;
        if ok {
            worker.sessions.succeeded(&name);
        } else {
            worker.sessions.failed(&name, MAX_FAILURES);
            worker.sessions.failed(&address_key, MAX_ADDRESS_FAILURES);
        }
        let mut journal = worker.journal.held();
        let action = if ok { mamori_app::audit::Action::SignIn } else { mamori_app::audit::Action::SignInFailed };
        let detail = format!("from {address}{}", if locked { "; locked after repeated failures" } else { "" });
        if let Err(e) = app::record_session(&mut journal, &format!("console:{name}"), action, &detail) {
            tracing::error!(error = format!("{e:#}"), "recording a sign-in failed: the sign-in is refused");
            // A sign-in the log does not hold is not let through.
            return (false, name);
        }
        (ok, name)
    })
    .await;
    match checked {
        Ok((true, name)) => {
            let token = server.sessions.open_session(&name);
            let secure = if server.secure_cookies { "; Secure" } else { "" };
            let session = format!("{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/console; Max-Age={}{secure}", SESSION_TTL.as_secs());
            let spent = format!("{LOGIN_COOKIE}=; HttpOnly; SameSite=Strict; Path=/console/login; Max-Age=0");
            let mut response = Redirect::to("/console").into_response();
            for c in [session, spent] {
                if let Ok(v) = header::HeaderValue::from_str(&c) {
                    response.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            response
        }
        _ => Redirect::to("/console/login?error=1").into_response(),
    }
}

#[derive(serde::Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(State(server): State<Arc<Server>>, addr: ClientAddr, headers: HeaderMap, Form(form): Form<CsrfForm>) -> Response {
    let signed = match signed_in(&server, &headers, None) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(r) = signed.check_csrf(&form.csrf) {
        return r;
    }
    let actor = signed.reader.actor();
    let detail = format!("from {}", addr.text());
    let _ = with_journal(&server, signed.lang, move |j| app::record_session(j, &actor, mamori_app::audit::Action::SignOut, &detail)).await;
    server.sessions.close(&headers);
    let cookie = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/console; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/console/login")).into_response()
}

/// A finding as a row of a table: every value already in the reader's language.
pub struct FindingRow {
    id: String,
    id_path: String,
    severity: &'static str,
    severity_class: &'static str,
    rule: String,
    rule_name: String,
    employees: String,
    period: String,
    evidence: usize,
    explanation: String,
}

fn severity_text(s: Severity, en: bool) -> (&'static str, &'static str) {
    let class = match s {
        Severity::Critical => "critical",
        Severity::High => "high",
        Severity::Medium => "medium",
        Severity::Low => "low",
    };
    (t(en, class), class)
}

/// A path segment: finding ids hold `:` and `/`, escaped so the id comes back whole.
fn path_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn finding_row(f: &Finding, en: bool) -> FindingRow {
    let (severity, severity_class) = severity_text(f.severity, en);
    let title = if en { &f.title_en } else { &f.title_ja };
    FindingRow {
        id: f.id.clone(),
        id_path: path_segment(&f.id),
        severity,
        severity_class,
        rule: f.rule.clone(),
        rule_name: if title.is_empty() { f.rule.clone() } else { title.clone() },
        employees: f.employees.join(if en { ", " } else { "、" }),
        period: format!("{} 〜 {}", app::jst_time(f.from), app::jst_time(f.to)),
        evidence: f.evidence.len(),
        explanation: if en { f.explanation_en.clone() } else { f.explanation_ja.clone() },
    }
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    c: Chrome,
    findings_shown: bool,
    urgent_total: usize,
    by_severity: (usize, usize, usize, usize),
    urgent: Vec<FindingRow>,
    events: u64,
    last_event: String,
    checkpoint: String,
    reviews_shown: bool,
    reviews: Vec<(String, String, String, &'static str)>,
    cases_shown: bool,
    /// (number, title, opened, assigned, age in days)
    open_cases: Vec<(String, String, String, String, i64)>,
    sources_shown: bool,
    /// (source, last day, quiet days, longest gap before)
    silent: Vec<(String, String, i64, i64)>,
    last_verify: String,
}

async fn dashboard(State(server): State<Arc<Server>>, headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let s = match signed_in(&server, &headers, q.lang.as_deref()) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let reader = s.reader.clone();
    let today = jst_today();
    let d = match with_journal(&server, s.lang, move |j| app::dashboard(j, &reader, today)).await {
        Ok(Ok(d)) => d,
        Ok(Err(e)) => return internal(e),
        Err(r) => return r,
    };
    let en = s.lang.en;
    let page = DashboardPage {
        c: s.chrome("/console"),
        findings_shown: s.reader.role.may(View::Findings),
        urgent_total: d.urgent_total,
        by_severity: (d.by_severity[0], d.by_severity[1], d.by_severity[2], d.by_severity[3]),
        urgent: d.urgent.iter().map(|f| finding_row(f, en)).collect(),
        events: d.events,
        last_event: d.last_event,
        checkpoint: d.checkpoint_size.map_or_else(|| "-".to_owned(), |n| n.to_string()),
        reviews_shown: s.reader.role.may(View::Review),
        reviews: d.reviews.into_iter().map(|r| (r.department, r.month, r.due, if r.state == "overdue" { t(en, "overdue") } else { t(en, "due_state") })).collect(),
        cases_shown: s.reader.role.may(View::Cases),
        open_cases: d.open_cases.into_iter().map(|(k, age)| (k.number, k.title, k.opened_at, k.assigned_to, age)).collect(),
        sources_shown: s.reader.role.may(View::Sources),
        silent: d.silent.into_iter().map(|a| (a.source, a.last_day, a.quiet_days, a.longest_gap)).collect(),
        last_verify: d.last_verify.map_or_else(|| t(en, "never_verified").to_owned(), |(at, said)| format!("{at} {said}")),
    };
    render(s.lang, StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "findings.html")]
struct FindingsPage {
    c: Chrome,
    /// The reader may open a case from the findings ticked.
    cases_shown: bool,
    severities: Vec<(&'static str, &'static str, bool)>,
    states: Vec<(&'static str, &'static str, bool)>,
    rules: Vec<(String, String, bool)>,
    departments: Vec<(String, String, bool)>,
    sorts: Vec<(&'static str, &'static str, bool)>,
    from: String,
    to: String,
    matched: usize,
    rows: Vec<FindingRow>,
    page: usize,
    pages: usize,
    prev: Option<String>,
    next: Option<String>,
}

#[derive(serde::Deserialize, Default)]
struct FindingsQuery {
    lang: Option<String>,
    #[serde(flatten)]
    filter: app::FindingFilter,
}

fn findings_link(filter: &app::FindingFilter, page: usize) -> String {
    let mut parts = Vec::new();
    for (k, v) in [("severity", &filter.severity), ("rule", &filter.rule), ("department", &filter.department), ("from", &filter.from), ("to", &filter.to), ("state", &filter.state), ("sort", &filter.sort)] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            parts.push(format!("{k}={}", path_segment(v)));
        }
    }
    parts.push(format!("page={page}"));
    format!("/console/findings?{}", parts.join("&"))
}

async fn findings_page(State(server): State<Arc<Server>>, headers: HeaderMap, Query(q): Query<FindingsQuery>) -> Response {
    let s = match signed_for(&server, &headers, q.lang.as_deref(), View::Findings) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (reader, filter) = (s.reader.clone(), q.filter.clone());
    let found = match with_journal(&server, s.lang, move |j| app::findings(j, &reader, &filter)).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let found = match found {
        Ok(f) => f,
        Err(e) => return s.bad_request(format!("{e:#}")),
    };
    let en = s.lang.en;
    let f = &q.filter;
    let chosen = |v: &Option<String>, o: &str| v.as_deref().unwrap_or("") == o;
    let severities = [("", "any"), ("low", "low"), ("medium", "medium"), ("high", "high"), ("critical", "critical")]
        .iter()
        .map(|(v, k)| (*v, t(en, k), chosen(&f.severity, v)))
        .collect();
    let states = [("raised", "raised"), ("suppressed", "suppressed_state"), ("all", "any")]
        .iter()
        .map(|(v, k)| (*v, t(en, k), chosen(&f.state, v) || (f.state.is_none() && *v == "raised")))
        .collect();
    let sorts = [("severity", "severity"), ("time", "time"), ("rule", "rule"), ("employee", "employee")]
        .iter()
        .map(|(v, k)| (*v, t(en, k), chosen(&f.sort, v) || (f.sort.is_none() && *v == "severity")))
        .collect();
    let page = FindingsPage {
        cases_shown: s.reader.role.may(View::Cases),
        c: s.chrome("/console/findings"),
        severities,
        states,
        rules: found.rules.iter().map(|(r, ja, en_name)| {
            let name = if en { en_name } else { ja };
            (r.clone(), if name.is_empty() { r.clone() } else { format!("{name}（{r}）") }, chosen(&f.rule, r))
        }).collect(),
        departments: found.departments.iter().map(|(code, name)| (code.clone(), format!("{code} {name}"), chosen(&f.department, code))).collect(),
        sorts,
        from: f.from.clone().unwrap_or_default(),
        to: f.to.clone().unwrap_or_default(),
        matched: found.matched,
        rows: found.findings.iter().map(|x| finding_row(x, en)).collect(),
        page: found.page,
        pages: found.pages,
        prev: (found.page > 1).then(|| findings_link(f, found.page - 1)),
        next: (found.page < found.pages).then(|| findings_link(f, found.page + 1)),
    };
    render(s.lang, StatusCode::OK, &page)
}

pub struct EvidenceView {
    seq: u64,
    at: String,
    actor: String,
    product: String,
    operation: String,
    resident: String,
    host: String,
    object: String,
    proved_at: Option<u64>,
}

#[derive(Template)]
#[template(path = "finding.html")]
struct FindingPage {
    c: Chrome,
    f: FindingRow,
    employees: Vec<(String, String)>,
    residents: String,
    files: String,
    devices: String,
    evidence: Vec<EvidenceView>,
    more: usize,
    /// "C-… until …: reason" when a closed case set the finding aside.
    suppressed: String,
    cases_shown: bool,
    /// (case number, closed)
    cases: Vec<(String, bool)>,
    finding_id: String,
}

async fn finding_page(State(server): State<Arc<Server>>, headers: HeaderMap, Path(id): Path<String>, Query(q): Query<LangQuery>) -> Response {
    let s = match signed_for(&server, &headers, q.lang.as_deref(), View::Findings) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let reader = s.reader.clone();
    let cases_shown = reader.role.may(View::Cases);
    let found = with_journal(&server, s.lang, move |j| -> anyhow::Result<_> {
        let Some(d) = app::finding(j, &reader, &id)? else { return Ok(None) };
        let cases = if cases_shown { mamori_app::cases::cases_of_finding(j, &id)? } else { Vec::new() };
        Ok(Some((d, cases)))
    })
    .await;
    let (detail, cases) = match found {
        Ok(Ok(Some(d))) => d,
        Ok(Ok(None)) => return s.not_found(),
        Ok(Err(e)) => return internal(e),
        Err(r) => return r,
    };
    let en = s.lang.en;
    let sep = if en { ", " } else { "、" };
    let page = FindingPage {
        c: s.chrome("/console/findings"),
        f: finding_row(&detail.finding, en),
        employees: detail.employees.iter().map(|(id, name)| (path_segment(id), name.clone())).collect(),
        residents: detail.finding.residents.join(sep),
        files: detail.finding.files.join(sep),
        devices: detail.finding.devices.join(sep),
        evidence: detail
            .evidence
            .into_iter()
            .map(|e| EvidenceView { seq: e.seq, at: e.at, actor: e.actor, product: e.product, operation: e.operation, resident: e.resident, host: e.host, object: e.object, proved_at: e.proved_at })
            .collect(),
        more: detail.more,
        suppressed: detail.finding.suppressed.as_ref().map(|x| format!("{} 〜{}: {}", x.case, x.until, x.reason)).unwrap_or_default(),
        cases_shown,
        cases,
        finding_id: detail.finding.id.clone(),
    };
    render(s.lang, StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "employee.html")]
struct EmployeePage {
    c: Chrome,
    v: app::EmployeeView,
    accounts: String,
    /// (date, accesses, height %, unexplained)
    bars: Vec<(String, usize, usize, usize)>,
    findings: Vec<FindingRow>,
    /// (month end, score, height %)
    risk: Vec<(String, String, usize)>,
    entries_total: usize,
    unexplained: usize,
}

#[derive(serde::Deserialize, Default)]
struct PeriodQuery {
    lang: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

async fn employee_page(State(server): State<Arc<Server>>, headers: HeaderMap, Path(id): Path<String>, Query(q): Query<PeriodQuery>) -> Response {
    let s = match signed_for(&server, &headers, q.lang.as_deref(), View::Employees) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let reader = s.reader.clone();
    let (from, to) = (q.from.clone(), q.to.clone());
    let risk = server.risk.clone();
    let view = match with_journal(&server, s.lang, move |j| app::employee(j, &reader, &id, from.as_deref(), to.as_deref(), &risk)).await {
        Ok(Ok(app::Shown::Shown(v))) => v,
        Ok(Ok(app::Shown::Missing)) => return s.not_found(),
        // Another department's employee: refused, nothing of them shown.
        Ok(Ok(app::Shown::Refused)) => return error_page(s.chrome(""), s.lang, StatusCode::FORBIDDEN, t(s.lang.en, "forbidden").to_owned()),
        Ok(Err(e)) => return s.bad_request(format!("{e:#}")),
        Err(r) => return r,
    };
    let en = s.lang.en;
    let top = view.days.iter().map(|d| d.1).max().unwrap_or(1).max(1);
    let page = EmployeePage {
        c: s.chrome(""),
        accounts: view.accounts.join(if en { ", " } else { "、" }),
        bars: view.days.iter().map(|(d, n, u)| (d.clone(), *n, (n * 100).div_ceil(top), *u)).collect(),
        findings: view.findings.iter().map(|f| finding_row(f, en)).collect(),
        risk: {
            let top = view.risk.iter().map(|r| r.1).fold(0.0f64, f64::max);
            view.risk.iter().map(|(d, score)| (d.clone(), format!("{score:.1}"), if top > 0.0 { (score / top * 100.0).ceil() as usize } else { 0 })).collect()
        },
        entries_total: view.entries.len(),
        unexplained: view.entries.iter().filter(|e| !e.explained).count(),
        v: view,
    };
    render(s.lang, StatusCode::OK, &page)
}

/// A resident's look-up form: the disclosure (operators withheld, a choice of formats) or
/// the investigators' history (operators named); the number travels in the POST body.
#[derive(Template)]
#[template(path = "disclosure.html")]
struct DisclosurePage {
    c: Chrome,
    error: String,
    heading: &'static str,
    action: &'static str,
    number_label: &'static str,
    formats: bool,
    note: &'static str,
}

impl DisclosurePage {
    fn disclosure(c: Chrome, error: String) -> DisclosurePage {
        DisclosurePage { c, error, heading: "disclosure", action: "/console/disclosure", number_label: "request", formats: true, note: "note" }
    }

    fn residents(c: Chrome, error: String) -> DisclosurePage {
        DisclosurePage { c, error, heading: "residents_page", action: "/console/residents", number_label: "case_no", formats: false, note: "residents_note" }
    }
}

async fn disclosure_form(State(server): State<Arc<Server>>, headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let s = match signed_for(&server, &headers, q.lang.as_deref(), View::Disclosure) {
        Ok(s) => s,
        Err(r) => return r,
    };
    render(s.lang, StatusCode::OK, &DisclosurePage::disclosure(s.chrome("/console/disclosure"), String::new()))
}

#[derive(serde::Deserialize)]
struct DisclosureForm {
    #[serde(default)]
    csrf: String,
    resident: String,
    from: Option<String>,
    to: Option<String>,
    #[serde(default)]
    request_no: String,
    format: Option<String>,
}

fn disclosure_query(form: DisclosureForm) -> app::DisclosureQuery {
    app::DisclosureQuery {
        resident: form.resident.trim().to_owned(),
        // A date input left empty arrives as an empty string: no bound.
        from: form.from.filter(|s| !s.is_empty()),
        to: form.to.filter(|s| !s.is_empty()),
        request_no: form.request_no,
        format: form.format,
    }
}

/// The disclosure itself: a POST, so the resident's number is in no URL, no history and
/// no proxy log.
async fn disclosure_report(State(server): State<Arc<Server>>, headers: HeaderMap, Form(form): Form<DisclosureForm>) -> Response {
    let s = match signed_for(&server, &headers, None, View::Disclosure) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(r) = s.check_csrf(&form.csrf) {
        return r;
    }
    let q = disclosure_query(form);
    let actor = s.reader.actor();
    match with_journal(&server, s.lang, move |j| app::disclosure(j, &actor, "the console", &q)).await {
        Ok(Ok((content_type, body))) => ([(header::CONTENT_TYPE, content_type)], body).into_response(),
        Ok(Err(e)) => render(s.lang, StatusCode::BAD_REQUEST, &DisclosurePage::disclosure(s.chrome("/console/disclosure"), e)),
        Err(r) => r,
    }
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    c: Chrome,
    message: String,
    /// A key just created: shown this once, never stored.
    new_key: String,
    /// The sources a key may be made for.
    sources: Vec<String>,
    manage: bool,
    users: Vec<(String, &'static str, String, String)>,
    keys: Vec<(String, String, String, String)>,
    actions: Vec<(String, u64, String, String, String)>,
}

#[derive(serde::Deserialize, Default)]
struct AdminQuery {
    lang: Option<String>,
    done: Option<String>,
}

async fn admin_page(State(server): State<Arc<Server>>, headers: HeaderMap, Query(q): Query<AdminQuery>) -> Response {
    let s = match signed_for(&server, &headers, q.lang.as_deref(), View::Admin) {
        Ok(s) => s,
        Err(r) => return r,
    };
    admin_answer(&server, s, q.done.filter(|d| d.len() <= 200).unwrap_or_default(), String::new()).await
}

/// The administration page, with a message and, once, a key just made.
async fn admin_answer(server: &Arc<Server>, s: Signed, message: String, new_key: String) -> Response {
    let reader = s.reader.clone();
    let gathered = with_journal(server, s.lang, move |j| -> anyhow::Result<_> { Ok((j.users()?, j.api_keys()?, app::console_actions(j, &reader, 30, 200)?)) }).await;
    let (users, keys, actions) = match gathered {
        Ok(Ok(g)) => g,
        Ok(Err(e)) => return internal(e),
        Err(r) => return r,
    };
    let en = s.lang.en;
    let page = AdminPage {
        c: s.chrome("/console/admin"),
        message,
        new_key,
        sources: server.sources.keys().cloned().collect(),
        manage: s.reader.role == Role::Administrator,
        users: users
            .into_iter()
            .map(|u| (u.name, Role::parse(&u.role).map_or("?", |r| r.label(en)), u.department, app::jst_time(u.created)))
            .collect(),
        keys: keys.into_iter().map(|k| (k.id, k.scope, k.label, app::jst_time(k.created))).collect(),
        actions: actions.into_iter().map(|a| (a.time, a.seq, a.actor, a.operation, a.detail)).collect(),
    };
    render(s.lang, StatusCode::OK, &page)
}

#[derive(serde::Deserialize)]
struct CreateKeyForm {
    #[serde(default)]
    csrf: String,
    /// A configured source, or `@reports`.
    scope: String,
    #[serde(default)]
    label: String,
}

/// Makes an API key and shows it once, in the answer to the POST (never in a URL, a
/// redirect or the store, which keeps only its SHA-256).
async fn create_key(State(server): State<Arc<Server>>, headers: HeaderMap, Form(form): Form<CreateKeyForm>) -> Response {
    let s = match signed_for(&server, &headers, None, View::Admin) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if s.reader.role != Role::Administrator {
        return error_page(s.chrome(""), s.lang, StatusCode::FORBIDDEN, t(s.lang.en, "forbidden").to_owned());
    }
    if let Err(r) = s.check_csrf(&form.csrf) {
        return r;
    }
    // A report key reads any resident's history: an administrator, who sees no personal
    // data, makes none (they are made on the server: `mamori apikey create --reports`).
    if !server.sources.contains_key(&form.scope) {
        return s.bad_request(format!("`{}` is not a source this server takes (report keys are made on the server with mamori apikey create --reports)", form.scope));
    }
    let (key, hash) = crate::new_api_key();
    let actor = s.reader.actor();
    let (scope, label) = (form.scope.clone(), form.label.trim().to_owned());
    match with_journal(&server, s.lang, move |j| mamori_app::admin::create_api_key(j, &actor, &scope, &label, &hash)).await {
        Ok(Ok(())) => {
            let message = format!("{} {} ({})", t(s.lang.en, "key_made"), form.scope, form.label.trim());
            admin_answer(&server, s, message, key).await
        }
        Ok(Err(e)) => s.bad_request(format!("{e:#}")),
        Err(r) => r,
    }
}

#[derive(Template)]
#[template(path = "cases.html")]
struct CasesPage {
    c: Chrome,
    /// (number, title, opened, assigned, state, findings)
    rows: Vec<(String, String, String, String, String, usize)>,
}

fn case_state(case: &mamori_app::cases::Case, en: bool) -> String {
    match &case.closed {
        Some((d, _, at, _)) => format!("{}（{}） {at}", t(en, "closed"), d.label(en)),
        None => t(en, "open_state").to_owned(),
    }
}

async fn cases_page(State(server): State<Arc<Server>>, headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let s = match signed_for(&server, &headers, q.lang.as_deref(), View::Cases) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let reader = s.reader.clone();
    let cases = match with_journal(&server, s.lang, move |j| mamori_app::cases::list(j, &reader)).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return internal(e),
        Err(r) => return r,
    };
    let en = s.lang.en;
    let rows = cases.iter().map(|k| (k.number.clone(), k.title.clone(), format!("{} {}", k.opened_at, k.opened_by), k.assigned_to.clone(), case_state(k, en), k.findings.len())).collect();
    render(s.lang, StatusCode::OK, &CasesPage { c: s.chrome("/console/cases"), rows })
}

#[derive(Template)]
#[template(path = "case.html")]
struct CasePage {
    c: Chrome,
    number: String,
    title: String,
    opened: String,
    assigned: String,
    state: String,
    /// (path segment, id)
    findings: Vec<(String, String)>,
    events: String,
    notes: Vec<(String, String, String)>,
    open: bool,
    /// Why it was closed, and by whom.
    reason: String,
    /// What closing set aside: "rule, employees, until".
    suppression: Vec<String>,
}

async fn case_page(State(server): State<Arc<Server>>, headers: HeaderMap, Path(number): Path<String>, Query(q): Query<LangQuery>) -> Response {
    let s = match signed_for(&server, &headers, q.lang.as_deref(), View::Cases) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let reader = s.reader.clone();
    let wanted = number.clone();
    let case = match with_journal(&server, s.lang, move |j| -> anyhow::Result<_> {
        let case = mamori_app::cases::get(j, &reader, &wanted)?;
        if case.is_some() {
            audit::record_by(j, &reader.actor(), audit::Action::View, &format!("case {wanted} viewed"), &[])?;
        }
        Ok(case)
    })
    .await
    {
        Ok(Ok(Some(c))) => c,
        Ok(Ok(None)) => return s.not_found(),
        Ok(Err(e)) => return internal(e),
        Err(r) => return r,
    };
    let en = s.lang.en;
    let page = CasePage {
        c: s.chrome("/console/cases"),
        state: case_state(&case, en),
        number: case.number,
        title: case.title,
        opened: format!("{} {}", case.opened_at, case.opened_by),
        assigned: case.assigned_to,
        findings: case.findings.iter().map(|f| (path_segment(f), f.clone())).collect(),
        events: case.events.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
        suppression: case.suppression.iter().map(|x| format!("{} / {} 〜{}", x.rule, x.employees.join("、"), x.until)).collect(),
        reason: case.closed.as_ref().map(|(_, why, _, who)| format!("{why}（{who}）")).unwrap_or_default(),
        notes: case.notes,
        open: case.closed.is_none(),
    };
    render(s.lang, StatusCode::OK, &page)
}

/// A case from one finding (its page's button) or several (ticked on the findings page):
/// `title`, and `finding` once per finding.
async fn open_case(State(server): State<Arc<Server>>, headers: HeaderMap, Form(fields): Form<Vec<(String, String)>>) -> Response {
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let (csrf, title) = (field("csrf"), field("title"));
    let findings: Vec<String> = fields.iter().filter(|(k, _)| k == "finding").map(|(_, v)| v.clone()).collect();
    form_change(server, headers, csrf, case_worker, move |j, reader| mamori_app::cases::open(j, reader, &title, &findings).map(|n| case_page_of(&n))).await
}

#[derive(serde::Deserialize)]
struct NoteForm {
    #[serde(default)]
    csrf: String,
    text: String,
}

async fn note_case(State(server): State<Arc<Server>>, headers: HeaderMap, Path(number): Path<String>, Form(form): Form<NoteForm>) -> Response {
    form_change(server, headers, form.csrf, case_worker, move |j, reader| mamori_app::cases::note(j, reader, &number, &form.text).map(|_| case_page_of(&number))).await
}

#[derive(serde::Deserialize)]
struct AssignForm {
    #[serde(default)]
    csrf: String,
    to: String,
}

async fn assign_case(State(server): State<Arc<Server>>, headers: HeaderMap, Path(number): Path<String>, Form(form): Form<AssignForm>) -> Response {
    form_change(server, headers, form.csrf, case_worker, move |j, reader| mamori_app::cases::assign(j, reader, &number, form.to.trim()).map(|_| case_page_of(&number))).await
}

#[derive(serde::Deserialize)]
struct CloseForm {
    #[serde(default)]
    csrf: String,
    disposition: String,
    reason: String,
    #[serde(default)]
    suppress_days: Option<String>,
}

async fn close_case(State(server): State<Arc<Server>>, headers: HeaderMap, Path(number): Path<String>, Form(form): Form<CloseForm>) -> Response {
    form_change(server, headers, form.csrf, case_worker, move |j, reader| {
        let disposition = mamori_app::cases::Disposition::parse(&form.disposition)
            .with_context(|| format!("disposition `{}`: one of misuse, legitimate, false-alarm", form.disposition))?;
        let days = match form.suppress_days.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
            None => 0,
            Some(d) => d.parse::<u64>().with_context(|| format!("suppress_days: `{d}` is not a number of days"))?,
        };
        mamori_app::cases::close(j, reader, &number, disposition, &form.reason, days).map(|_| case_page_of(&number))
    })
    .await
}

fn jst_today() -> chrono::NaiveDate {
    chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(9 * 3600).expect("JST")).date_naive()
}

#[derive(Template)]
#[template(path = "review.html")]
struct ReviewPage {
    c: Chrome,
    department: String,
    department_name: String,
    month: String,
    /// (code, name, chosen)
    departments: Vec<(String, String, bool)>,
    /// (department, month, due, state, row class)
    states: Vec<(String, String, String, &'static str, &'static str)>,
    has_sheet: bool,
    population: usize,
    unexplained: usize,
    sampled: usize,
    rows: Vec<mamori_report::ReviewRow>,
    signed: String,
    may_sign: bool,
}

#[derive(serde::Deserialize, Default)]
struct ReviewQuery {
    lang: Option<String>,
    department: Option<String>,
    month: Option<String>,
}

async fn review_page(State(server): State<Arc<Server>>, headers: HeaderMap, Query(q): Query<ReviewQuery>) -> Response {
    let s = match signed_for(&server, &headers, q.lang.as_deref(), View::Review) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let reader = s.reader.clone();
    let (department, month) = (q.department.clone(), q.month.clone());
    let view = match with_journal(&server, s.lang, move |j| app::review::review(j, &reader, department.as_deref(), month.as_deref(), jst_today())).await {
        Ok(Ok(Some(v))) => v,
        // Another department's review: refused, nothing of it shown.
        Ok(Ok(None)) => return error_page(s.chrome(""), s.lang, StatusCode::FORBIDDEN, t(s.lang.en, "forbidden").to_owned()),
        Ok(Err(e)) => return s.bad_request(format!("{e:#}")),
        Err(r) => return r,
    };
    let en = s.lang.en;
    let state = |st: &str| match st {
        "overdue" => (t(en, "overdue"), "high"),
        "due" => (t(en, "due_state"), ""),
        _ => (t(en, "signed_state"), ""),
    };
    let sheet = view.sheet.as_ref();
    let page = ReviewPage {
        c: s.chrome("/console/review"),
        department_name: sheet.map(|x| x.department_name.clone()).unwrap_or_default(),
        departments: view.departments.iter().map(|(code, name)| (code.clone(), name.clone(), *code == view.department)).collect(),
        states: view.states.iter().map(|r| (r.department.clone(), r.month.clone(), r.due.clone(), state(r.state).0, state(r.state).1)).collect(),
        has_sheet: sheet.is_some(),
        population: sheet.map_or(0, |x| x.population),
        unexplained: sheet.map_or(0, |x| x.unexplained),
        sampled: sheet.map_or(0, |x| x.sampled),
        rows: sheet.map(|x| x.rows.clone()).unwrap_or_default(),
        signed: view.signed.as_ref().map(|(seq, at, who)| format!("{at} {who}（{} {seq}）", t(en, "event"))).unwrap_or_default(),
        may_sign: view.may_sign,
        department: view.department,
        month: view.month,
    };
    render(s.lang, StatusCode::OK, &page)
}

/// The sign-off form: the sheet's department and month, and a mark per row as
/// `mark_<record number>` = `b` (業務), `n` (業務外) or `a` (確認) — short, so that a long
/// sheet fits the form limit.
async fn sign_review(State(server): State<Arc<Server>>, headers: HeaderMap, Form(fields): Form<Vec<(String, String)>>) -> Response {
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let (csrf, department, month) = (field("csrf"), field("department"), field("month"));
    form_change(server, headers, csrf, manager, move |j, reader| {
        let mut marks = std::collections::BTreeMap::new();
        for (k, v) in &fields {
            let Some(id) = k.strip_prefix("mark_") else { continue };
            let id: u64 = id.parse().with_context(|| format!("field `{k}`: not a record number"))?;
            let mark = match v.as_str() {
                "b" => "業務",
                "n" => "業務外",
                "a" => "確認",
                other => anyhow::bail!("record {id}: mark `{other}`: choose 業務, 業務外 or 確認"),
            };
            marks.insert(id, mark.to_owned());
        }
        app::review::sign(j, reader, &department, &month, marks)?;
        Ok(format!("/console/review?department={}&month={}", path_segment(&department), path_segment(&month)))
    })
    .await
}

fn manager(r: &Reader) -> bool {
    r.role == Role::Manager
}

#[derive(Template)]
#[template(path = "breach.html")]
struct BreachPage {
    c: Chrome,
    error: String,
}

async fn breach_form(State(server): State<Arc<Server>>, headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let s = match signed_for(&server, &headers, q.lang.as_deref(), View::Breach) {
        Ok(s) => s,
        Err(r) => return r,
    };
    render(s.lang, StatusCode::OK, &BreachPage { c: s.chrome("/console/breach"), error: String::new() })
}

#[derive(serde::Deserialize)]
struct BreachForm {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    ask: app::breach::BreachAsk,
}

/// The sizing and its draft, or the form again with what was wrong.
async fn breach_report(State(server): State<Arc<Server>>, headers: HeaderMap, Form(form): Form<BreachForm>) -> Response {
    let s = match signed_for(&server, &headers, None, View::Breach) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(r) = s.check_csrf(&form.csrf) {
        return r;
    }
    let reader = s.reader.clone();
    match with_journal(&server, s.lang, move |j| app::breach::breach(j, &reader, &form.ask)).await {
        Ok(Ok((content_type, body))) => ([(header::CONTENT_TYPE, content_type)], body).into_response(),
        Ok(Err(e)) => render(s.lang, StatusCode::BAD_REQUEST, &BreachPage { c: s.chrome("/console/breach"), error: format!("{e:#}") }),
        Err(r) => r,
    }
}

#[derive(Template)]
#[template(path = "gate.html")]
struct GatePage {
    c: Chrome,
    a: app::gate::GateActivity,
}

async fn gate_page(State(server): State<Arc<Server>>, headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let s = match signed_for(&server, &headers, q.lang.as_deref(), View::Gate) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let reader = s.reader.clone();
    match with_journal(&server, s.lang, move |j| app::gate::activity(j, &reader, 30, 500)).await {
        Ok(Ok(a)) => render(s.lang, StatusCode::OK, &GatePage { c: s.chrome("/console/gate"), a }),
        Ok(Err(e)) => internal(e),
        Err(r) => r,
    }
}

async fn residents_form(State(server): State<Arc<Server>>, headers: HeaderMap, Query(q): Query<LangQuery>) -> Response {
    let s = match signed_for(&server, &headers, q.lang.as_deref(), View::Residents) {
        Ok(s) => s,
        Err(r) => return r,
    };
    render(s.lang, StatusCode::OK, &DisclosurePage::residents(s.chrome("/console/residents"), String::new()))
}

/// A resident's history for an investigator, operators named: by POST, like the
/// disclosure, so the resident's number is in no URL.
async fn resident_history(State(server): State<Arc<Server>>, headers: HeaderMap, Form(form): Form<DisclosureForm>) -> Response {
    let s = match signed_for(&server, &headers, None, View::Residents) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(r) = s.check_csrf(&form.csrf) {
        return r;
    }
    let q = disclosure_query(form);
    let reader = s.reader.clone();
    match with_journal(&server, s.lang, move |j| app::resident_history(j, &reader, &q)).await {
        Ok(Ok((content_type, body))) => ([(header::CONTENT_TYPE, content_type)], body).into_response(),
        Ok(Err(e)) => render(s.lang, StatusCode::BAD_REQUEST, &DisclosurePage::residents(s.chrome("/console/residents"), e)),
        Err(r) => r,
    }
}

#[derive(Template)]
#[template(path = "sources.html")]
struct SourcesPage {
    c: Chrome,
    activity: Vec<SourceRow>,
    dead_letters: Vec<(String, String, u64, String)>,
    /// `mamori check`'s report, when asked for.
    checked: String,
}

pub struct SourceRow {
    source: String,
    events: u64,
    first_day: String,
    last_day: String,
    quiet_days: i64,
    longest_gap: i64,
    silent: bool,
    dead_letters: u64,
    /// (date, events, height %)
    bars: Vec<(String, u64, u64)>,
}

#[derive(serde::Deserialize, Default)]
struct SourcesQuery {
    lang: Option<String>,
    check: Option<String>,
}

async fn sources_page(State(server): State<Arc<Server>>, headers: HeaderMap, Query(q): Query<SourcesQuery>) -> Response {
    let s = match signed_for(&server, &headers, q.lang.as_deref(), View::Sources) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let reader = s.reader.clone();
    let check = q.check.is_some();
    // Read on the reading connection: a check reads every event, and ingest and sign-ins
    // must not wait behind it.
    let worker = server.clone();
    let view = match tokio::task::spawn_blocking(move || app::sources::sources(&worker.reader.held(), &reader, check, &mamori_app::check::products(&worker.sources))).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return internal(e),
        Err(e) => return internal(anyhow::anyhow!("sources worker: {e}")),
    };
    let (reader, summary) = (s.reader.clone(), view.summary());
    match with_journal(&server, s.lang, move |j| app::sources::record_view(j, &reader, &summary)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return internal(e),
        Err(r) => return r,
    }
    let checked = match &view.checks {
        Some(checks) => {
            let mut text = Vec::new();
            if let Err(e) = mamori_app::check::print(checks, &mut text) {
                return internal(e);
            }
            String::from_utf8_lossy(&text).into_owned()
        }
        None => String::new(),
    };
    let activity = view
        .activity
        .into_iter()
        .map(|a| {
            let top = a.per_day.iter().map(|d| d.1).max().unwrap_or(1).max(1);
            SourceRow {
                bars: a.per_day.iter().map(|(d, n)| (d.clone(), *n, (n * 100).div_ceil(top))).collect(),
                source: a.source,
                events: a.events,
                first_day: a.first_day,
                last_day: a.last_day,
                quiet_days: a.quiet_days,
                longest_gap: a.longest_gap,
                silent: a.silent,
                dead_letters: a.dead_letters,
            }
        })
        .collect();
    render(s.lang, StatusCode::OK, &SourcesPage { c: s.chrome("/console/sources"), activity, dead_letters: view.dead_letters, checked })
}

/// A change made by a form: the reader signed in, `allowed` by role, the form's token
/// checked; `change` runs on the journal and says where to go next (303).
async fn form_change(
    server: Arc<Server>,
    headers: HeaderMap,
    csrf: String,
    allowed: fn(&Reader) -> bool,
    change: impl FnOnce(&mut SqliteJournal, &Reader) -> anyhow::Result<String> + Send + 'static,
) -> Response {
    let s = match signed_in(&server, &headers, None) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !allowed(&s.reader) {
        return error_page(s.chrome(""), s.lang, StatusCode::FORBIDDEN, t(s.lang.en, "forbidden").to_owned());
    }
    if let Err(r) = s.check_csrf(&csrf) {
        return r;
    }
    let reader = s.reader.clone();
    match with_journal(&server, s.lang, move |j| change(j, &reader)).await {
        Ok(Ok(next)) => Redirect::to(&next).into_response(),
        Ok(Err(e)) => s.bad_request(format!("{e:#}")),
        Err(r) => r,
    }
}

fn administrator(r: &Reader) -> bool {
    r.role == Role::Administrator
}

fn case_worker(r: &Reader) -> bool {
    r.role.may(View::Cases)
}

fn case_page_of(number: &str) -> String {
    format!("/console/cases/{}", path_segment(number))
}

fn admin_done(what: &str) -> String {
    format!("/console/admin?done={}", path_segment(what))
}

#[derive(serde::Deserialize)]
struct RevokeForm {
    #[serde(default)]
    csrf: String,
    id: String,
}

async fn revoke_key(State(server): State<Arc<Server>>, headers: HeaderMap, Form(form): Form<RevokeForm>) -> Response {
    form_change(server, headers, form.csrf, administrator, move |j, reader| {
        let key = mamori_app::admin::revoke_api_key(j, &reader.actor(), &form.id)?;
        Ok(admin_done(&format!("revoked {}", key.id)))
    })
    .await
}

#[derive(serde::Deserialize)]
struct RemoveForm {
    #[serde(default)]
    csrf: String,
    name: String,
}

async fn remove_user(State(server): State<Arc<Server>>, headers: HeaderMap, Form(form): Form<RemoveForm>) -> Response {
    let sessions = server.clone();
    form_change(server, headers, form.csrf, administrator, move |j, reader| {
        mamori_app::admin::remove_user(j, &reader.actor(), &form.name, || sessions.sessions.end_user(&form.name).map_err(anyhow::Error::msg))?;
        Ok(admin_done(&format!("removed {}", form.name)))
    })
    .await
}

/// Refuses a state-changing request sent from another site. A browser says where a POST
/// comes from: `Sec-Fetch-Site` (every current browser) must be `same-origin` (or `none`,
/// typed by the user); without it, `Origin`, when sent, must be the console's own. (With
/// our `Referrer-Policy: no-referrer` a browser's own same-origin form may send
/// `Origin: null`, so `null` alone is judged by `Sec-Fetch-Site`.) Nothing of ours posts
/// across sites; clients that are not browsers send neither header and meet the tokens.
async fn same_origin_posts(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if request.method() == axum::http::Method::POST && request.uri().path().starts_with("/console") {
        let headers = request.headers();
        let text = |name| headers.get(name).and_then(|v: &header::HeaderValue| v.to_str().ok());
        let refused = match (text("sec-fetch-site"), text(header::ORIGIN.as_str())) {
            (Some(site), _) => site != "same-origin" && site != "none",
            (None, Some(origin)) => {
                let host = text(header::HOST.as_str());
                origin == "null" || host.is_none_or(|h| origin.split_once("://").map(|(_, rest)| rest) != Some(h))
            }
            (None, None) => false,
        };
        if refused {
            return (StatusCode::FORBIDDEN, "cross-site form refused").into_response();
        }
    }
    next.run(request).await
}

/// A console form is a few fields: anything larger is refused before it is read.
const MAX_FORM: usize = 16 * 1024;
/// A form trickled in slower than this is dropped (408): it holds nothing meanwhile.
const FORM_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads a console request's body within [`FORM_TIMEOUT`] and [`MAX_FORM`] before any
/// handler sees it.
async fn form_in_time(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = match tokio::time::timeout(FORM_TIMEOUT, axum::body::to_bytes(body, MAX_FORM)).await {
        Ok(Ok(b)) => b,
        Ok(Err(_)) => return (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response(),
        Err(_) => return (StatusCode::REQUEST_TIMEOUT, "the form did not arrive in time").into_response(),
    };
    next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes))).await
}

pub fn routes() -> Router<Arc<Server>> {
    use axum::routing::{get, post};
    Router::new()
        .route("/console", get(dashboard))
        .route("/console/login", get(login_page).post(login))
        .route("/console/logout", post(logout))
        .route("/console/findings", get(findings_page))
        .route("/console/findings/{id}", get(finding_page))
        .route("/console/employees/{id}", get(employee_page))
        .route("/console/disclosure", get(disclosure_form).post(disclosure_report))
        .route("/console/cases", get(cases_page).post(open_case))
        .route("/console/cases/{number}", get(case_page))
        .route("/console/cases/{number}/note", post(note_case))
        .route("/console/cases/{number}/assign", post(assign_case))
        .route("/console/cases/{number}/close", post(close_case))
        .route("/console/review", get(review_page))
        .route("/console/review/signoff", post(sign_review))
        .route("/console/breach", get(breach_form).post(breach_report))
        .route("/console/residents", get(residents_form).post(resident_history))
        .route("/console/sources", get(sources_page))
        .route("/console/gate", get(gate_page))
        .route("/console/admin", get(admin_page))
        .route("/console/admin/keys/create", post(create_key))
        .route("/console/admin/keys/revoke", post(revoke_key))
        .route("/console/admin/users/remove", post(remove_user))
        .layer(axum::middleware::from_fn(form_in_time))
        .layer(axum::middleware::from_fn(same_origin_posts))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_FORM))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finding_ids_survive_a_path_segment() {
        assert_eq!(path_segment("relative_lookup:E0012:000000305"), "relative_lookup%3AE0012%3A000000305");
        assert_eq!(path_segment("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd") && !same_token("abc", "") && !same_token("abc", "abcd"));
    }

    #[test]
    fn templates_escape_what_they_show() {
        let l = Lang { en: false, chosen: false };
        let page = ErrorPage { c: Chrome::anonymous(l), heading: "h", message: "<script>alert(1)</script>".into() };
        let html = page.render().unwrap();
        assert!(!html.contains("<script>") && html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"), "{html}");
    }
}
