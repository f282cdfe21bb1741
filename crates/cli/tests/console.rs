//! The console in a real browser: `mamori serve` on a prepared store, and
//! `tests/console/console.test.mjs` driving Debian's headless Chromium through Playwright
//! (`.ci/run` installs chromium and `npm ci`s the test's playwright-core).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

fn mamori(data: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mamori"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env("MAMORI_OPERATOR", "test-admin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "mamori {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn an_auditor_uses_the_console_in_a_browser_and_every_sign_in_and_report_is_logged() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let tests = root.join("tests/console");
    assert!(
        tests.join("node_modules/playwright-core").exists(),
        "run `npm ci --prefix tests/console` first (as .ci/run does): the console test drives Chromium with playwright-core"
    );
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    mamori(&data, &["init", data.to_str().unwrap()], None);
    mamori(&data, &["master", "load", root.join("examples/town").to_str().unwrap()], None);
    mamori(&data, &["import", root.join("examples/events.ndjson").to_str().unwrap()], None);
    mamori(&data, &["detect"], None);
    let password = "correct horse battery staple";
    let short = Command::new(env!("CARGO_BIN_EXE_mamori"))
        .args(["--data", data.to_str().unwrap(), "user", "add", "--name", "監査 一郎"])
        .stdin(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(b"short\n")?;
            c.wait()
        })
        .unwrap();
    assert!(!short.success(), "a short password is refused");
    mamori(&data, &["user", "add", "--name", "監査 一郎"], Some(&format!("{password}\n")));
    mamori(&data, &["user", "add", "--name", "福祉課長", "--role", "manager", "--department", "D300"], Some(&format!("{password}\n")));
    mamori(&data, &["user", "add", "--name", "保護 花子", "--role", "privacy-officer"], Some(&format!("{password}\n")));

    let mut server = Command::new(env!("CARGO_BIN_EXE_mamori"))
        .args(["--data", data.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stderr.as_mut().unwrap()).read_line(&mut line).unwrap();
    let addr = line.split("http://").nth(1).and_then(|r| r.split_whitespace().next()).expect(&line).to_owned();
    let shots = std::env::var("MAMORI_SCREENSHOTS").unwrap_or_default();
    let run = Command::new("node")
        .args(["--test", "console.test.mjs"])
        .current_dir(&tests)
        .env("MAMORI_URL", format!("http://{addr}"))
        .env("MAMORI_USER", "監査 一郎")
        .env("MAMORI_PASSWORD", password)
        .env("MAMORI_RESIDENT", "000000305")
        .env("MAMORI_MANAGER", "福祉課長")
        .env("MAMORI_PRIVACY", "保護 花子")
        .env("MAMORI_BIN", env!("CARGO_BIN_EXE_mamori"))
        .env("MAMORI_DATA", &data)
        .env("MAMORI_SCREENSHOTS", shots)
        .output()
        .expect("node is installed");
    server.kill().unwrap();
    server.wait().unwrap();
    let report = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{report}\n{}", String::from_utf8_lossy(&run.stderr));
    assert!(report.contains("# pass 6") && report.contains("# fail 0"), "{report}");

    let log = mamori(&data, &["events", "actor", "console:監査 一郎"], None);
    assert_eq!(log.matches("console.signin-failed").count(), 1, "the wrong password: {log}");
    assert_eq!(log.matches("\"console.signin\"").count(), 3, "three sign-ins: {log}");
    assert!(log.contains("disclosure of resident 000000305 (request R6-開示-0099) through the console"), "{log}");
    assert!(log.contains("findings viewed: 3 of 3 matching"), "viewing findings is logged too: {log}");
    assert!(log.contains("finding relative_lookup:") && log.contains("employee E0001 viewed"), "so is opening a finding and an employee: {log}");
    assert_eq!(log.matches("\"operation\":\"case\"").count(), 5, "one case opened, noted and closed, another opened and closed: {log}");
    let log = mamori(&data, &["events", "actor", "console:福祉課長"], None);
    assert!(log.contains("review sheet D300/2024-05 viewed") && log.contains("review.signoff"), "the manager's review: {log}");
    assert_eq!(log.matches("refused: outside the reader's scope").count(), 1, "the other department's employee: {log}");
    let log = mamori(&data, &["events", "actor", "console:保護 花子"], None);
    assert!(log.contains("disclosure of resident 000000305 (request R6-開示-0100)") && log.contains("breach sizing (case C-"), "the privacy officer's reports: {log}");
    let findings = mamori(&data, &["findings", "--json"], None);
    assert!(findings.contains("\"suppressed\"") && findings.contains("市長の来庁予約"), "the suppression is in the findings: {findings}");
    mamori(&data, &["verify"], None);
    let users = std::fs::read(data.join("journal.db")).unwrap();
    assert!(!users.windows(password.len()).any(|w| w == password.as_bytes()), "the password itself is nowhere in the store");
}
