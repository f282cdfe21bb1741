//! Detection. Events are observed in time order; each record access is explained (or
//! not) from master data as of its time, and analyzers named after the brief's incidents
//! turn what is unexplained or out of place into findings whose evidence is the ids of
//! stored events.
//!
//! Analyzers here: relatives (S1: the employee's own record, household members, family
//! -register relatives, looked up with no business behind it), terminal borrowing (S2:
//! an access made on a terminal where another employee's Windows session is open and
//! unlocked, while that employee is badged out), and VIP look-ups without explanation
//! (S3). State is kept per employee and per terminal, so it can be split across machines
//! by employee later.
//!
//! Detection never does I/O: the caller feeds events and takes findings.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDateTime};
use mamori_enrich::{Directory, Explanation, Relation};
use mamori_model::master::{AccountKind, TerminalKind};
use mamori_model::{ClassUid, Event, Finding, Severity};

/// What detection concluded about one record access.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub employee: Option<String>,
    pub explanation: Option<Explanation>,
}

#[derive(Default)]
struct Session {
    employee: Option<String>,
    locked: bool,
}

struct Rollup {
    rule: &'static str,
    severity: Severity,
    employee: String,
    residents: Vec<String>,
    devices: Vec<String>,
    files: Vec<String>,
    evidence: Vec<u64>,
    from: i64,
    to: i64,
    detail: BTreeMap<String, usize>,
}

pub struct Detector<'a> {
    dir: &'a Directory,
    sessions: HashMap<String, Session>,
    /// Host → the owner of the approved device last connected there, and when.
    last_approved: HashMap<String, (String, i64)>,
    /// Employee → whether badged in.
    present: HashMap<String, bool>,
    rollups: BTreeMap<(String, &'static str), Rollup>,
    pub accesses: u64,
    pub explained: u64,
}

const JST: i32 = 9 * 3600;

fn local(ms: i64) -> NaiveDateTime {
    let offset = chrono::FixedOffset::east_opt(JST).expect("JST");
    DateTime::from_timestamp_millis(ms).expect("a valid time").with_timezone(&offset).naive_local()
}

impl<'a> Detector<'a> {
    pub fn new(dir: &'a Directory) -> Detector<'a> {
        Detector {
            dir,
            sessions: HashMap::new(),
            last_approved: HashMap::new(),
            present: HashMap::new(),
            rollups: BTreeMap::new(),
            accesses: 0,
            explained: 0,
        }
    }

    fn employee(&self, event: &Event, at: NaiveDateTime) -> Option<(Option<String>, AccountKind)> {
        if let Some(e) = &event.actor.user.employee_uid {
            return Some((Some(e.clone()), AccountKind::Personal));
        }
        let (employee, kind) = self.dir.account(mamori_enrich::account_system(&event.metadata.product), &event.actor.user.uid, at.date())?;
        Some((employee.map(str::to_owned), kind))
    }

    /// Observes one stored event (id `seq`), in time order.
    pub fn observe(&mut self, seq: u64, event: &Event) -> Option<Verdict> {
        let at = local(event.time);
        match event.class_uid {
            ClassUid::Authentication => {
                let op = event.unmapped.operation.as_deref().unwrap_or("");
                if event.unmapped.extra.contains_key("room") {
                    if let Some((Some(e), _)) = self.employee(event, at) {
                        self.present.insert(e, op == "in");
                    }
                    return None;
                }
                let host = event.device.as_ref().and_then(|d| d.hostname.as_deref()).map(str::to_ascii_uppercase)?;
                match op {
                    "logon" if event.status_id == mamori_model::StatusId::Success => {
                        let employee = self.employee(event, at).and_then(|(e, _)| e);
                        self.sessions.insert(host, Session { employee, locked: false });
                    }
                    "logoff" => {
                        self.sessions.remove(&host);
                    }
                    "lock" | "unlock" => {
                        if let Some(s) = self.sessions.get_mut(&host) {
                            s.locked = op == "lock";
                        }
                    }
                    _ => {}
                }
                None
            }
            ClassUid::DatastoreActivity => Some(self.access(seq, event, at)),
            ClassUid::PeripheralActivity => {
                self.peripheral(seq, event, at);
                None
            }
            ClassUid::FileSystemActivity => {
                self.file(seq, event, at);
                None
            }
            _ => None,
        }
    }

    fn access(&mut self, seq: u64, event: &Event, at: NaiveDateTime) -> Verdict {
        self.accesses += 1;
        let resident = event.resident_uid().unwrap_or_default().to_owned();
        let Some((employee, kind)) = self.employee(event, at) else {
            return Verdict { employee: None, explanation: None };
        };
        let department = employee.as_deref().and_then(|e| self.dir.posting(e, at.date())).map(|p| p.0.to_owned()).unwrap_or_default();
        let declared = event.unmapped.extra.get("case_no").and_then(|v| v.as_str());
        let explanation = self.dir.explain(kind, employee.as_deref(), &department, &resident, at, declared);
        if explanation.is_some() {
            self.explained += 1;
        }
        let Some(employee) = employee else { return Verdict { employee: None, explanation } };
        let host = event.device.as_ref().and_then(|d| d.hostname.clone()).unwrap_or_default();

        // S2: someone else's open session on a staff terminal, its owner away.
        if let Some(session) = self.sessions.get(&host.to_ascii_uppercase())
            && let Some(owner) = &session.employee
            && *owner != employee
            && !session.locked
            && self.dir.terminal_kind(&host) == Some(TerminalKind::Staff)
        {
            let away = self.present.get(owner) == Some(&false);
            let key = format!("{host} ({owner}{})", if away { ", 離席中" } else { "" });
            self.note(seq, event.time, "terminal_borrowing", Severity::High, &employee, &resident, Some(&key));
        }
        if explanation.is_none() {
            // S1: the employee's own record, their household, their relatives.
            if let Some(relation) = self.dir.relation(&employee, &resident, at.date()) {
                let what = match relation {
                    Relation::Own => "本人",
                    Relation::Household => "同一世帯",
                    Relation::Family => "親族(戸籍)",
                };
                self.note(seq, event.time, "relative_lookup", Severity::High, &employee, &resident, Some(what));
            }
            // S3: a watch-listed resident with no business on file.
            if let Some(reason) = self.dir.vip(&resident, at.date()) {
                let reason = reason.to_owned();
                self.note(seq, event.time, "vip_unexplained", Severity::High, &employee, &resident, Some(&reason));
            }
        }
        Verdict { employee: Some(employee), explanation }
    }

    /// S4: a file on a confidential or restricted share opened by someone whose section
    /// neither owns it nor was granted it. An administrator or shared account is judged
    /// as whoever holds the Windows session on the terminal it was used from.
    fn file(&mut self, seq: u64, event: &Event, at: NaiveDateTime) {
        let Some(share) = event.unmapped.share.as_deref() else { return };
        let host = event.device.as_ref().and_then(|d| d.hostname.as_deref()).map(str::to_ascii_uppercase).unwrap_or_default();
        let (employee, via) = match self.employee(event, at) {
            Some((Some(e), AccountKind::Personal)) => (e, None),
            found => {
                let session = self.sessions.get(&host).and_then(|s| s.employee.clone());
                let Some(e) = session else { return };
                let kind = found.map_or("不明なアカウント", |(_, k)| if k == AccountKind::Admin { "管理者アカウント" } else { "共用アカウント" });
                (e, Some(format!("{kind} {}", event.actor.user.uid)))
            }
        };
        // S9: a folder opened to everyone for a handover is for those handing over and
        // taking over: the sections one leaves and joins. Its sub-folders are sections.
        if let Some(window) = self.dir.open_to_all(share, at.date()) {
            let folder = event.file.as_ref().and_then(|f| f.path.split(['/', '\\']).find(|p| !p.is_empty())).unwrap_or("");
            let before = self.dir.posting(&employee, window.from).map(|p| p.0);
            let after = self.dir.posting(&employee, window.to.unwrap_or(at.date())).map(|p| p.0);
            if !folder.is_empty() && Some(folder) != before && Some(folder) != after {
                let detail = format!("{share}/{folder}");
                self.note(seq, event.time, "broad_access_outside_need", Severity::High, &employee, "", Some(&detail));
            }
            return;
        }
        let department = self.dir.posting(&employee, at.date()).map(|p| p.0.to_owned()).unwrap_or_default();
        let Some((owner, _, allowed)) = self.dir.restricted_share(share, &department, at.date()) else { return };
        if allowed {
            return;
        }
        let detail = format!("{share}（所有: {owner}）{}", via.map(|v| format!(" {v}経由")).unwrap_or_default());
        self.note(seq, event.time, "restricted_share_non_owner", Severity::High, &employee, "", Some(&detail));
        if let (Some(file), Some(r)) = (&event.file, self.rollups.get_mut(&(employee.clone(), "restricted_share_non_owner")))
            && !r.files.contains(&file.path)
        {
            r.files.push(file.path.clone());
        }
    }

    /// S7: an approved device on a terminal without the endpoint agent (where copies go
    /// unlogged), and any device that is not approved.
    fn peripheral(&mut self, seq: u64, event: &Event, at: NaiveDateTime) {
        let Some(serial) = event.peripheral_device.as_ref().and_then(|d| d.serial_number.clone()) else { return };
        let host = event.device.as_ref().and_then(|d| d.hostname.clone()).unwrap_or_default();
        let what = format!("{serial} @ {host}");
        match self.dir.approved_device(&serial, at.date()) {
            Some(owner) => {
                let owner = owner.unwrap_or("(所有者不明)").to_owned();
                self.last_approved.insert(host.clone(), (owner.clone(), event.time));
                if self.dir.terminal_has_agent(&host) == Some(false) {
                    self.note(seq, event.time, "approved_device_on_unmanaged_terminal", Severity::High, &owner, "", Some(&what));
                }
            }
            None => {
                // Who plugged it in: the session on that terminal, else the owner of an
                // approved device connected there within the hour.
                let session = self.sessions.get(&host.to_ascii_uppercase()).and_then(|s| s.employee.clone());
                let recent = self.last_approved.get(&host).filter(|(_, t)| event.time - t <= 3_600_000).map(|(o, _)| o.clone());
                let who = session.or(recent).unwrap_or_else(|| format!("(不明: {host})"));
                self.note(seq, event.time, "unapproved_device", Severity::High, &who, "", Some(&what));
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn note(&mut self, seq: u64, time: i64, rule: &'static str, severity: Severity, employee: &str, resident: &str, detail: Option<&str>) {
        let r = self.rollups.entry((employee.to_owned(), rule)).or_insert_with(|| Rollup {
            rule,
            severity,
            employee: employee.to_owned(),
            residents: Vec::new(),
            devices: Vec::new(),
            files: Vec::new(),
            evidence: Vec::new(),
            from: time,
            to: time,
            detail: BTreeMap::new(),
        });
        if !r.residents.iter().any(|x| x == resident) && !resident.is_empty() {
            r.residents.push(resident.to_owned());
        }
        r.evidence.push(seq);
        r.from = r.from.min(time);
        r.to = r.to.max(time);
        if let Some(d) = detail {
            *r.detail.entry(d.to_owned()).or_default() += 1;
        }
        let device = match rule {
            "terminal_borrowing" => detail.and_then(|d| d.split(' ').next()),
            "approved_device_on_unmanaged_terminal" | "unapproved_device" => detail,
            _ => None,
        };
        if let Some(device) = device
            && !r.devices.iter().any(|x| x == device)
        {
            r.devices.push(device.to_owned());
        }
    }

    /// The findings so far, most severe and most evidenced first.
    pub fn findings(&self) -> Vec<Finding> {
        let mut out: Vec<Finding> = self.rollups.values().map(finding).collect();
        out.sort_by(|a, b| b.severity.cmp(&a.severity).then(b.evidence.len().cmp(&a.evidence.len())).then(a.id.cmp(&b.id)));
        out
    }
}

fn finding(r: &Rollup) -> Finding {
    let n = r.evidence.len();
    let detail: Vec<String> = r.detail.iter().map(|(k, v)| format!("{k} ×{v}")).collect();
    let (ja, en) = match r.rule {
        "relative_lookup" => (
            format!("職員 {} が本人・同一世帯・親族の記録 {} 件（{}人）を、対応する申請・来庁・案件の記録なしに照会しました（{}）。", r.employee, n, r.residents.len(), detail.join("、")),
            format!("Employee {} looked up {} records of themselves, their household or relatives ({} people) with no application, visit or case behind them.", r.employee, n, r.residents.len()),
        ),
        "vip_unexplained" => (
            format!("職員 {} が要注意者リストの住民の記録を、業務上の根拠（申請書・来庁・案件）なしに {} 回閲覧しました（{}）。", r.employee, n, detail.join("、")),
            format!("Employee {} viewed watch-listed residents' records {} times with no supporting application, visit or case.", r.employee, n),
        ),
        "restricted_share_non_owner" => {
            let days = (r.to - r.from) / 86_400_000 + 1;
            (
                format!("職員 {} が、所属外の機密共有フォルダのファイルを {} 回、異なるファイル {} 件、{} 日にわたって開きました（{}）。", r.employee, n, r.files.len(), days, detail.join("、")),
                format!("Employee {} opened files on another section's confidential share {} times, {} distinct files, over {} days.", r.employee, n, r.files.len(), days),
            )
        }
        "broad_access_outside_need" => (
            format!("職員 {} が、全職員に一時開放された引継ぎフォルダで、自分の異動元・異動先ではない課のファイルを {} 回開きました（{}）。", r.employee, n, detail.join("、")),
            format!("Employee {} opened {} files of sections they neither leave nor join in a handover folder temporarily open to all.", r.employee, n),
        ),
        "approved_device_on_unmanaged_terminal" => (
            format!("職員 {} の承認済み外部記憶媒体が、管理ソフトの入っていない端末に {} 回接続されました（{}）。この端末での複写は記録されません。", r.employee, n, detail.join("、")),
            format!("Employee {}'s approved removable device was connected {} times to a terminal without the endpoint agent, where copies go unlogged.", r.employee, n),
        ),
        "unapproved_device" => (
            format!("承認されていない外部記憶媒体が {} 回接続されました（{}）。接続者の推定: {}（同じ端末のログオン、または直前に接続された承認済み媒体の所有者）。", n, detail.join("、"), r.employee),
            format!("An unapproved removable device was connected {} times; attributed to {} (the terminal's session, or the owner of an approved device connected there just before).", n, r.employee),
        ),
        _ => (
            format!("職員 {} の操作が、別の職員がログオンしたまま施錠されていない端末で {} 回行われました（{}）。", r.employee, n, detail.join("、")),
            format!("Employee {} worked {} times on a terminal where another employee's session was open and unlocked.", r.employee, n),
        ),
    };
    Finding {
        id: format!("{}:{}", r.rule, r.employee),
        rule: r.rule.to_owned(),
        severity: r.severity,
        employees: vec![r.employee.clone()],
        residents: r.residents.clone(),
        devices: r.devices.clone(),
        files: r.files.clone(),
        mails: Vec::new(),
        from: r.from,
        to: r.to,
        detected_at: r.from,
        evidence: r.evidence.clone(),
        explanation_ja: ja,
        explanation_en: en,
    }
}
