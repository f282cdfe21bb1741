//! `mamori report disclosure`: a resident's access history, from the index, each access
//! explained from master data as of its time and proven against the signed log.

use std::collections::HashMap;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, FixedOffset};
use mamori_enrich::{Directory, Explanation};
use mamori_journal::{Journal, SqliteJournal, TimeRange};
use mamori_report::{Disclosure, DisclosureEntry, OperatorPolicy};

pub fn system_name(product: &str) -> String {
    match product {
        "juki" => "住民基本台帳".into(),
        "zeimu" => "税務".into(),
        "koseki" => "戸籍".into(),
        "fukushi" => "福祉".into(),
        "saijo" => "斎場（火葬許可）".into(),
        other => other.into(),
    }
}

pub fn explanation_text(e: &Option<Explanation>) -> String {
    match e {
        Some(e) => e.text_ja(),
        None => "業務記録なし".into(),
    }
}

/// Judges record accesses as detection does, from master data as of each access under
/// the explanation model recorded in the log.
pub struct Judge<'d> {
    pub dir: &'d Directory,
    pub model: mamori_enrich::ExplanationModel,
}

/// What every report that says whether an access had business behind it answers before an
/// explanation model is recorded: under the floors alone an ongoing case (生活保護, years
/// open) would leave its visits 業務記録なし in a document sent to a resident.
pub const NO_MODEL_YET: &str = "業務の根拠を判定するモデルがまだ記録されていません: 先に `mamori detect`（または `mamori explain learn`）を実行してください（no explanation model is recorded yet: run `mamori detect` or `mamori explain learn` first）";

impl<'d> Judge<'d> {
    /// Refused until `detect` or `explain learn` has recorded a model ([`NO_MODEL_YET`]):
    /// a disclosure, back-search or review sheet from the CLI, the console or the API alike.
    pub fn new(j: &SqliteJournal, dir: &'d Directory) -> Result<Judge<'d>> {
        let Some(model) = crate::detect::stored_model(j)? else { bail!(NO_MODEL_YET) };
        Ok(Judge { dir, model })
    }

    /// Who made a record access, their department then (or their shared account's), and
    /// the business behind it.
    pub fn judge(&self, e: &mamori_model::Event, at: chrono::NaiveDateTime) -> (Option<&'d str>, &'d str, Option<Explanation>) {
        let dir = self.dir;
        let resident = e.resident_uid().unwrap_or_default();
        let system = mamori_enrich::event_account_system(e);
        let Some((employee, kind)) = dir.account(system, &e.actor.user.uid, at.date()) else { return (None, "", None) };
        let department = employee.and_then(|id| dir.posting(id, at.date())).map(|p| p.0).or_else(|| dir.account_department(system, &e.actor.user.uid, at.date())).unwrap_or("");
        let declared_case = e.unmapped.extra.get("case_no").and_then(|v| v.as_str());
        let host = e.hostname();
        let access = mamori_enrich::Access { kind, employee, department, resident, host, at, declared_case, activity: e.activity_id };
        (employee, department, dir.explain(&self.model, &access))
    }
}

/// The business behind access `seq`: what master data says, else the purpose declared at
/// the gate that detection found explaining it (read only when needed).
fn or_declared(j: &SqliteJournal, seq: u64, explanation: Option<Explanation>) -> Result<Option<Explanation>> {
    match explanation {
        Some(e) => Ok(Some(e)),
        None => declared(j, seq),
    }
}

/// The purpose declared at the gate that detection found explaining access `seq`, if it
/// did: master data alone does not know declarations, the log does, and detection's
/// verdicts (kept beside the log) say which access each explained.
pub fn declared(j: &SqliteJournal, seq: u64) -> Result<Option<Explanation>> {
    let Some(code) = j.explanation_of(seq)? else { return Ok(None) };
    Ok(code.strip_prefix("declared:").and_then(|rest| rest.split_once(':')).map(|(purpose, check)| Explanation::Declared { purpose: purpose.to_owned(), check: check.to_owned() }))
}

pub fn today_jst() -> Result<String> {
    let jst = FixedOffset::east_opt(9 * 3600).expect("JST");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
    Ok(DateTime::from_timestamp_millis(now).with_context(|| crate::tr!("システム時計の時刻を日付にできません", "clock"))?.with_timezone(&jst).format("%Y-%m-%d").to_string())
}

/// Every record access of `employee` in `range`, through each of their accounts in the
/// records systems, oldest first, each judged as detection judges it.
/// A record access, judged as detection judges it: the stored event, the event, its JST
/// time, its maker and their department then, and the business behind it.
pub type JudgedAccess<'d> = (mamori_journal::StoredEvent, mamori_model::Event, chrono::NaiveDateTime, &'d str, &'d str, Option<Explanation>);

/// The record accesses in `range` made through each (system, account, employee) by that
/// employee, read from the actor index: what the back-search and the review sheet list.
pub fn accesses_by<'d>(j: &SqliteJournal, judge: &Judge<'d>, accounts: &[(&str, &str, &str)], range: TimeRange) -> Result<Vec<JudgedAccess<'d>>> {
    accesses_found(j, judge, accounts, range, &mut |account, range| Ok(j.by_actor(account, range)?))
}

/// `accesses_by` over the events `by_actor` finds for each account: the store's, or the
/// archive's.
pub fn accesses_found<'d>(
    j: &SqliteJournal,
    judge: &Judge<'d>,
    accounts: &[(&str, &str, &str)],
    range: TimeRange,
    by_actor: &mut dyn FnMut(&str, TimeRange) -> Result<Vec<mamori_journal::StoredEvent>>,
) -> Result<Vec<JudgedAccess<'d>>> {
    let jst = FixedOffset::east_opt(9 * 3600).expect("JST");
    let mut out = Vec::new();
    for (system, account, employee) in accounts {
        for stored in by_actor(account, range)? {
            let e = stored.event()?;
            if e.class_uid != mamori_model::ClassUid::DatastoreActivity || mamori_enrich::event_account_system(&e) != *system {
                continue;
            }
            let at = DateTime::from_timestamp_millis(e.time).with_context(|| crate::tr!("イベントの時刻が正しくありません", "event time"))?.with_timezone(&jst).naive_local();
            if let (Some(who), department, explanation) = judge.judge(&e, at)
                && who == *employee
            {
                let explanation = or_declared(j, stored.seq, explanation)?;
                out.push((stored, e, at, who, department, explanation));
            }
        }
    }
    Ok(out)
}

pub fn back_search(j: &SqliteJournal, employee: &str, range: TimeRange, from: String, to: String) -> Result<mamori_report::BackSearch> {
    let checkpoint = j.latest_checkpoint()?.with_context(|| crate::tr!("ストアにチェックポイントがありません", "the store has no checkpoint"))?;
    let size = checkpoint.size;
    back_search_of(j, employee, range, from, to, &mut |account, range| Ok(j.by_actor(account, range)?), checkpoint, &mut |seq| Ok(j.audit_path(seq, size)?))
}

/// The back-search over the events `by_actor` finds, each proven by `prove` in the tree
/// `checkpoint` signs: the embedded store's own, or the archive's.
pub fn back_search_of(
    j: &SqliteJournal,
    employee: &str,
    range: TimeRange,
    from: String,
    to: String,
    by_actor: &mut dyn FnMut(&str, TimeRange) -> Result<Vec<mamori_journal::StoredEvent>>,
    checkpoint: mamori_journal::SignedCheckpoint,
    prove: &mut dyn FnMut(u64) -> Result<Vec<mamori_journal::Hash>>,
) -> Result<mamori_report::BackSearch> {
    let master = crate::detect::master_from_store(j)?;
    let Some(person) = master.employees.iter().find(|e| e.id == employee) else { bail!(crate::tr!("マスタデータに職員 {employee} がありません", "no employee {employee} in the master data")) };
    let dir = Directory::new(&master);
    let judge = Judge::new(j, &dir)?;
    let mut accounts: Vec<(&str, &str, &str)> = master
        .accounts
        .iter()
        .filter(|a| a.employee_id.as_deref() == Some(employee) && !["windows", "mail"].contains(&a.system.as_str()))
        .map(|a| (a.system.as_str(), a.account.as_str(), employee))
        .collect();
    accounts.sort();
    accounts.dedup();
    let mut entries = Vec::new();
    for (stored, e, at, _, _, explanation) in accesses_found(j, &judge, &accounts, range, by_actor)? {
        let proof = prove(stored.seq)?;
        entries.push(mamori_report::BackSearchEntry {
            event_id: stored.seq,
            at: at.format("%Y-%m-%d %H:%M:%S").to_string(),
            system: system_name(&e.metadata.product),
            record_type: e.unmapped.resident.as_ref().and_then(|x| x.record_type.clone()).unwrap_or_default(),
            operation: e.unmapped.operation.clone().unwrap_or_default(),
            resident: e.resident_uid().unwrap_or_default().to_owned(),
            host: e.device.as_ref().and_then(|d| d.hostname.clone()).unwrap_or_default(),
            explained: explanation.is_some(),
            explanation: explanation_text(&explanation),
            leaf_hash: mamori_journal::hex(&mamori_journal::leaf_hash(&stored.body)),
            proof: proof.iter().map(mamori_journal::hex).collect(),
        });
    }
    entries.sort_by(|a, b| a.at.cmp(&b.at).then(a.event_id.cmp(&b.event_id)));
    Ok(mamori_report::BackSearch {
        employee: employee.to_owned(),
        employee_name: person.name.clone(),
        accounts: accounts.iter().map(|(s, a, _)| format!("{}: {a}", system_name(s))).collect(),
        from,
        to,
        issued: today_jst()?,
        checkpoint: checkpoint.note,
        entries,
    })
}

pub struct Request<'a> {
    pub resident: &'a str,
    pub range: TimeRange,
    pub from: String,
    pub to: String,
    pub request_no: String,
    pub policy: OperatorPolicy,
}

pub fn disclosure(j: &SqliteJournal, r: &Request<'_>) -> Result<Disclosure> {
    // One read transaction for the whole answer: one view of the store, and not a lock
    // taken and released for each of the hundreds of statements it runs.
    j.read_snapshot(|| {
        let found = j.by_resident(r.resident, r.range)?;
        let checkpoint = j.latest_checkpoint()?.with_context(|| crate::tr!("ストアにチェックポイントがありません", "the store has no checkpoint"))?;
        let size = checkpoint.size;
        disclosure_of(j, r, found, checkpoint, &mut |seq| Ok(j.audit_path(seq, size)?))
    })
}

/// The disclosure of the accesses `found` (oldest first), each proven by `prove` in the
/// tree `checkpoint` signs: the embedded store's own, or the archive's.
pub fn disclosure_of(
    j: &SqliteJournal,
    r: &Request<'_>,
    found: Vec<mamori_journal::StoredEvent>,
    checkpoint: mamori_journal::SignedCheckpoint,
    prove: &mut dyn FnMut(u64) -> Result<Vec<mamori_journal::Hash>>,
) -> Result<Disclosure> {
    let events = found.iter().map(|s| s.event().map(|e| (s, e))).collect::<Result<Vec<_>, _>>()?;
    let mut accounts: Vec<String> = events.iter().map(|(_, e)| e.actor.user.uid.clone()).collect();
    accounts.sort();
    accounts.dedup();
    // Someone with no 宛名番号 (another town's resident on a cremation permit, a taxpayer
    // living elsewhere) is recorded under their source's key, `KIND:KEY` (docs/sources.md).
    // Their records are explained by a case numbered with the key, which the master rows
    // kept by 宛名番号 cannot find: such a disclosure reads the whole master data.
    let subject_key = r.resident.split_once(':');
    let master = match subject_key {
        Some(_) => crate::detect::master_from_store(j)?,
        None => crate::detect::master_for_disclosure(j, r.resident, &accounts)?,
    };
    let resident_name = match (master.residents.iter().find(|p| p.uid == r.resident), subject_key) {
        (Some(person), _) => person.name.clone(),
        // `name:氏名/生年月日` carries the name; a permit or account number does not.
        (None, Some(("name", rest))) => rest.split_once('/').map_or(rest, |(name, _)| name).to_owned(),
        (None, Some(_)) if !events.is_empty() => String::new(),
        _ => bail!(crate::tr!("マスタデータに住民 {} がありません", "no resident {} in the master data", r.resident)),
    };
    let dir = Directory::new(&master);
    let judge = Judge::new(j, &dir)?;
    let departments: HashMap<&str, &str> = master.departments.iter().map(|d| (d.code.as_str(), d.name.as_str())).collect();
    let names: HashMap<&str, &str> = master.employees.iter().map(|e| (e.id.as_str(), e.name.as_str())).collect();
    let jst = FixedOffset::east_opt(9 * 3600).expect("JST");
    let mut entries = Vec::new();
    for (stored, e) in events {
        let at = DateTime::from_timestamp_millis(e.time).with_context(|| crate::tr!("イベントの時刻が正しくありません", "event time"))?.with_timezone(&jst).naive_local();
        let (employee, department, explanation) = judge.judge(&e, at);
        let explanation = or_declared(j, stored.seq, explanation)?;
        let department = departments.get(department).copied().unwrap_or(department).to_owned();
        let operator = match r.policy {
            OperatorPolicy::Name => employee.and_then(|id| names.get(id)).map_or_else(|| e.actor.user.uid.clone(), |n| n.to_string()),
            OperatorPolicy::Number => e.actor.user.uid.clone(),
            OperatorPolicy::Withheld => "職員".into(),
        };
        let proof = prove(stored.seq)?;
        entries.push(DisclosureEntry {
            event_id: stored.seq,
            at: at.format("%Y-%m-%d %H:%M:%S").to_string(),
            system: system_name(&e.metadata.product),
            record_type: e.unmapped.resident.as_ref().and_then(|x| x.record_type.clone()).unwrap_or_default(),
            operation: e.unmapped.operation.clone().unwrap_or_default(),
            department,
            operator,
            explained: explanation.is_some(),
            explanation: explanation_text(&explanation),
            leaf_hash: mamori_journal::hex(&mamori_journal::leaf_hash(&stored.body)),
            proof: proof.iter().map(mamori_journal::hex).collect(),
        });
    }
    Ok(Disclosure {
        request_no: r.request_no.clone(),
        resident: r.resident.to_owned(),
        resident_name,
        from: r.from.clone(),
        to: r.to.clone(),
        issued: today_jst()?,
        operator_policy: r.policy,
        checkpoint: checkpoint.note,
        entries,
    })
}

/// What `mamori report breach` is asked to size.
pub struct BreachRequest {
    pub findings: Vec<String>,
    pub events: Vec<u64>,
    /// Files recovered after the fact (a seized USB stick's contents), inspected as mail
    /// attachments are.
    pub evidence: Vec<std::path::PathBuf>,
    pub facts: mamori_report::BreachFacts,
}

pub fn jst_text(ms: i64) -> String {
    let jst = FixedOffset::east_opt(9 * 3600).expect("JST");
    DateTime::from_timestamp_millis(ms).map(|t| t.with_timezone(&jst).format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_default()
}

fn strings(v: Option<&serde_json::Value>) -> std::collections::BTreeSet<String> {
    v.and_then(|v| v.as_array()).map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

fn basename(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// Sizes a breach: the findings' evidence and the events named, each turned into what
/// left and whom it names; recovered files inspected and matched to the copies by name.
pub fn breach(j: &SqliteJournal, mut r: BreachRequest) -> Result<mamori_report::Breach> {
    use mamori_model::ClassUid;
    use mamori_report::Exposure;
    let master = crate::detect::master_from_store(j)?;
    let stored = crate::detect::stored_findings(j)?;
    let mut ids: Vec<u64> = r.events.clone();
    for id in &r.findings {
        let f = stored.iter().find(|f| &f.id == id).with_context(|| crate::tr!("所見 `{id}` はありません（`mamori findings` で確認してください）", "no finding `{id}` (see `mamori findings`)"))?;
        ids.extend(&f.evidence);
        for e in &f.employees {
            if !r.facts.employees.contains(e) {
                r.facts.employees.push(e.clone());
            }
        }
    }
    ids.sort_unstable();
    ids.dedup();
    // Recovered files, inspected once and matched to the copies that carried them.
    let mut recovered: Vec<(String, mamori_sources::inspect::Inspection, bool)> = Vec::new();
    // The residents' index is built only when there are recovered files to inspect: mail
    // attachments were inspected at import.
    let index = if r.evidence.is_empty() {
        mamori_sources::ResidentIndex::default()
    } else {
        mamori_sources::ResidentIndex::new(master.residents.iter().map(|p| (p.uid.as_str(), p.name.as_str(), p.kana.as_str(), p.birth_date)))
    };
    for path in &r.evidence {
        let files: Vec<std::path::PathBuf> = if path.is_dir() {
            let mut v: Vec<_> = std::fs::read_dir(path)?.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect();
            v.sort();
            v
        } else {
            vec![path.clone()]
        };
        for file in files {
            let bytes = std::fs::read(&file).with_context(|| crate::tr!("{} を読めません", "reading {}", file.display()))?;
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            recovered.push((name.clone(), mamori_sources::inspect::inspect(&name, &bytes, &index), false));
        }
    }
    let from_inspection = |at: String, channel: &str, to: String, file: String, i: &serde_json::Value, id: Option<u64>| Exposure {
        event_id: id,
        at,
        channel: channel.into(),
        to,
        file,
        items: strings(i.get("items")),
        residents: strings(i.get("residents")),
        rows: i.get("personal_rows").and_then(|v| v.as_u64()).unwrap_or(0),
        my_numbers: i.get("my_numbers").and_then(|v| v.as_u64()).unwrap_or(0),
        uninspectable: i.get("uninspectable").and_then(|v| v.as_str()).map(str::to_owned).or_else(|| {
            (i.get("encrypted").and_then(|v| v.as_bool()) == Some(true)).then(|| "暗号化されたファイル".to_owned())
        }),
    };
    let mut exposures = Vec::new();
    for id in ids {
        let Some(s) = j.get(id)? else { bail!(crate::tr!("ストアにイベント {id} はありません", "no event {id} in the store")) };
        let e = s.event()?;
        let at = jst_text(e.time);
        let x = &e.unmapped.extra;
        match e.class_uid {
            ClassUid::EmailActivity => {
                let external = strings(x.get("external_recipients"));
                let to = match &e.email {
                    Some(m) if external.is_empty() => m.to.iter().chain(&m.cc).chain(&m.bcc).cloned().collect::<Vec<_>>().join(", "),
                    _ => external.into_iter().collect::<Vec<_>>().join(", "),
                };
                for a in x.get("attachments").and_then(|v| v.as_array()).into_iter().flatten() {
                    let name = a.get("name").and_then(|v| v.as_str()).unwrap_or("").to_owned();
                    let inspection = a.get("inspection").cloned().unwrap_or_default();
                    exposures.push(from_inspection(at.clone(), "メール", to.clone(), name, &inspection, Some(id)));
                }
            }
            ClassUid::PeripheralActivity | ClassUid::FileSystemActivity => {
                let Some(path) = e.file.as_ref().map(|f| f.path.clone()) else { continue };
                let usb = e.class_uid == ClassUid::PeripheralActivity;
                let device = e.peripheral_device.as_ref().and_then(|d| d.serial_number.clone());
                let to = device.or_else(|| e.unmapped.share.clone()).unwrap_or_default();
                let channel = if usb { "USB" } else { "ファイル共有" };
                match recovered.iter_mut().find(|(name, _, _)| name == basename(&path)) {
                    Some((_, inspection, used)) => {
                        *used = true;
                        let v = serde_json::to_value(&*inspection)?;
                        exposures.push(from_inspection(at, channel, to, path, &v, Some(id)));
                    }
                    None => exposures.push(Exposure {
                        event_id: Some(id),
                        at,
                        channel: channel.into(),
                        to,
                        file: path,
                        items: Default::default(),
                        residents: Default::default(),
                        rows: 0,
                        my_numbers: 0,
                        uninspectable: Some("内容は記録されていません（回収したファイルを --evidence で指定）".into()),
                    }),
                }
            }
            ClassUid::DatastoreActivity => {
                let Some(resident) = e.resident_uid() else { continue };
                exposures.push(Exposure {
                    event_id: Some(id),
                    at,
                    channel: "記録閲覧".into(),
                    to: e.device.as_ref().and_then(|d| d.hostname.clone()).unwrap_or_default(),
                    file: system_name(&e.metadata.product),
                    items: ["record".to_owned()].into(),
                    residents: [resident.to_owned()].into(),
                    rows: 1,
                    my_numbers: 0,
                    uninspectable: None,
                });
            }
            _ => {}
        }
    }
    for (name, inspection, used) in &recovered {
        if !used {
            let v = serde_json::to_value(inspection)?;
            exposures.push(from_inspection(String::new(), "回収ファイル", String::new(), name.clone(), &v, None));
        }
    }
    let mut people = std::collections::BTreeMap::new();
    let address: HashMap<&str, &str> = master.households.iter().filter(|h| h.period.to.is_none()).map(|h| (h.resident_uid.as_str(), h.address.as_str())).collect();
    for p in &master.residents {
        let person = mamori_report::Person { uid: p.uid.clone(), name: p.name.clone(), address: address.get(p.uid.as_str()).copied().unwrap_or("").to_owned() };
        people.insert(p.uid.clone(), person);
    }
    Ok(mamori_report::Breach::size(&r.facts, exposures, &people))
}

/// One employee's lock-policy practice in a month (department `*` rows are totals).
pub struct LockRow {
    pub month: String,
    pub department: String,
    pub employee: String,
    pub locked: u32,
    pub unlocked: u32,
}

impl LockRow {
    pub fn rate(&self) -> f64 {
        self.locked as f64 / (self.locked + self.unlocked).max(1) as f64
    }
}

/// Lock-policy compliance from the last detection run's state: per employee and, as `*`,
/// per department, worst first.
pub fn lock_compliance(j: &SqliteJournal, month: Option<&str>) -> Result<Vec<LockRow>> {
    let Some((_, _, _, state)) = j.detect_state()? else { bail!(crate::tr!("検知がまだ実行されていません: 先に `mamori detect` を実行してください", "no detection has run yet: run `mamori detect` first")) };
    let v: serde_json::Value = serde_json::from_str(&state).with_context(|| crate::tr!("保存されている検知の状態を読めません", "saved detection state"))?;
    let master = crate::detect::master_from_store(j)?;
    let dir = Directory::new(&master);
    let mut employees = Vec::new();
    let mut departments: std::collections::BTreeMap<(String, String), (u32, u32)> = Default::default();
    for pair in v["detector"]["resolver"]["presence"]["lock_compliance"].as_array().into_iter().flatten() {
        let (e, m) = (pair[0][0].as_str().unwrap_or(""), pair[0][1].as_str().unwrap_or(""));
        if month.is_some_and(|want| want != m) {
            continue;
        }
        let (locked, unlocked) = (pair[1][0].as_u64().unwrap_or(0) as u32, pair[1][1].as_u64().unwrap_or(0) as u32);
        let first = chrono::NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").ok();
        let dept = first.and_then(|d| dir.posting(e, d)).map_or("-", |p| p.0).to_owned();
        let t = departments.entry((m.to_owned(), dept.clone())).or_default();
        t.0 += locked;
        t.1 += unlocked;
        employees.push(LockRow { month: m.to_owned(), department: dept, employee: e.to_owned(), locked, unlocked });
    }
    let mut rows: Vec<LockRow> =
        departments.into_iter().map(|((month, department), (locked, unlocked))| LockRow { month, department, employee: "*".into(), locked, unlocked }).collect();
    rows.extend(employees);
    rows.sort_by(|a, b| a.month.cmp(&b.month).then((a.employee != "*").cmp(&(b.employee != "*"))).then(a.rate().total_cmp(&b.rate())).then(a.employee.cmp(&b.employee)));
    Ok(rows)
}
