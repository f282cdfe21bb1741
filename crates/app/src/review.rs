//! `mamori review`: the monthly access-log review a manager owes for their staff
//! (アクセスログ点検). `sheet` draws the sheet, `signoff` records the manager's marks as an
//! event in the log, `status` lists departments whose review is done, due or overdue.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Timelike};
use mamori_enrich::Directory;
use mamori_journal::{Journal, SqliteJournal, TimeRange};
use mamori_report::{ReviewRow, ReviewSheet};
use rand::{Rng, SeedableRng};

/// Sign-off events are tagged so in the journal, keyed `D300/2024-03`.
pub const SIGNOFF_TAG: &str = "review-signoff";

fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("JST")
}

/// `2024-03` → its first day and the first day of the next month.
pub fn month_bounds(month: &str) -> Result<(NaiveDate, NaiveDate)> {
    let first = crate::timearg::day("month", &format!("{month}-01")).with_context(|| crate::tr!("月 `{month}`: YYYY-MM で指定してください", "month `{month}`: use YYYY-MM"))?;
    let next = if first.month() == 12 { NaiveDate::from_ymd_opt(first.year() + 1, 1, 1) } else { NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1) };
    Ok((first, next.expect("a valid month")))
}

fn ms(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0).expect("midnight").and_local_timezone(jst()).single().expect("JST has no gaps").timestamp_millis()
}

/// The sample's seed when none is given: from the sheet's name, so that drawing the same
/// sheet twice gives the same rows without anyone keeping a number.
pub fn default_seed(department: &str, month: &str) -> u64 {
    format!("{department}/{month}").bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

/// Draws the review sheet of `department` for `month`: every access of its staff with no
/// business on file, and `sample` of the explained ones, drawn without replacement with
/// weights (after hours ×3, a day off ×3, a watch-listed resident ×5) by the
/// Efraimidis–Spirakis method, from `seed`.
pub fn sheet(j: &SqliteJournal, department: &str, month: &str, seed: u64, sample: usize) -> Result<ReviewSheet> {
    let (first, next) = month_bounds(month)?;
    let master = crate::detect::master_from_store(j)?;
    let dir = Directory::new(&master);
    let judge = crate::report::Judge::new(j, &dir)?;
    let Some(dept) = master.departments.iter().find(|d| d.code == department) else { bail!(crate::tr!("マスタデータに所属 {department} がありません", "no department {department} in the master data")) };
    let names: HashMap<&str, &str> = master.employees.iter().map(|e| (e.id.as_str(), e.name.as_str())).collect();
    let staff: Vec<&str> = master
        .assignments
        .iter()
        .filter(|a| a.department == department && a.period.from < next && a.period.to.is_none_or(|t| t >= first))
        .map(|a| a.employee_id.as_str())
        .collect();
    let mut accounts: Vec<(&str, &str, &str)> = master
        .accounts
        .iter()
        .filter_map(|a| {
            let e = a.employee_id.as_deref()?;
            (staff.contains(&e) && !["windows", "mail"].contains(&a.system.as_str())).then_some((a.system.as_str(), a.account.as_str(), e))
        })
        .collect();
    accounts.sort();
    accounts.dedup();
    let range = TimeRange { from: ms(first), to: ms(next) };
    let mut rows: Vec<(ReviewRow, f64)> = Vec::new();
    for (stored, e, at, employee, dept_then, explanation) in crate::report::accesses_by(j, &judge, &accounts, range)? {
        if dept_then != department {
            continue;
        }
        let resident = e.resident_uid().unwrap_or_default().to_owned();
        let minutes = at.hour() * 60 + at.minute();
        let mut weight = 1.0;
        let mut why = Vec::new();
        if !(8 * 60 + 30..17 * 60 + 45).contains(&minutes) {
            weight *= 3.0;
            why.push("時間外");
        }
        if master.is_day_off(at.date()) {
            weight *= 3.0;
            why.push("休日");
        }
        if dir.vip(&resident, at.date()).is_some() {
            weight *= 5.0;
            why.push("要注意者");
        }
        let row = ReviewRow {
            event_id: stored.seq,
            at: at.format("%Y-%m-%d %H:%M:%S").to_string(),
            employee: employee.to_owned(),
            employee_name: names.get(employee).copied().unwrap_or("").to_owned(),
            system: crate::report::system_name(&e.metadata.product),
            operation: e.unmapped.operation.clone().unwrap_or_default(),
            resident,
            explained: explanation.is_some(),
            explanation: crate::report::explanation_text(&explanation),
            reason: if why.is_empty() { String::new() } else { why.join("・") },
        };
        rows.push((row, weight));
    }
    rows.sort_by(|a, b| a.0.at.cmp(&b.0.at).then(a.0.event_id.cmp(&b.0.event_id)));
    let population = rows.len();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    // Efraimidis–Spirakis: each explained row gets key u^(1/w); the largest keys are drawn.
    let mut keyed: Vec<(f64, usize)> = Vec::new();
    for (i, (row, weight)) in rows.iter().enumerate() {
        if row.explained {
            let u: f64 = rng.r#gen::<f64>().max(f64::MIN_POSITIVE);
            keyed.push((u.powf(1.0 / weight), i));
        }
    }
    keyed.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let drawn: std::collections::BTreeSet<usize> = keyed.iter().take(sample).map(|k| k.1).collect();
    let mut out = Vec::new();
    let (mut unexplained, mut sampled) = (0, 0);
    for (i, (mut row, weight)) in rows.into_iter().enumerate() {
        if !row.explained {
            unexplained += 1;
            row.reason = if row.reason.is_empty() { "業務記録なし".into() } else { format!("業務記録なし・{}", row.reason) };
            out.push(row);
        } else if drawn.contains(&i) {
            sampled += 1;
            row.reason = format!("無作為抽出（重み {weight}{}）", if row.reason.is_empty() { String::new() } else { format!("、{}", row.reason) });
            out.push(row);
        }
    }
    Ok(ReviewSheet {
        department: department.to_owned(),
        department_name: dept.name.clone(),
        month: month.to_owned(),
        seed,
        population,
        unexplained,
        sampled,
        issued: crate::report::today_jst()?,
        rows: out,
    })
}

/// The marks read from a filled-in sheet.
pub struct Signoff {
    pub marks: BTreeMap<u64, String>,
    pub detail: serde_json::Value,
}

/// Reads the manager's marks (the sheet's CSV with 判定 filled in, as Excel saves it:
/// UTF-8 with or without a BOM, or Shift_JIS) against the sheet drawn again with the
/// same seed. Every row must be marked 業務, 業務外 or 確認, and no row may be foreign.
pub fn read_marks(path: &Path, sheet: &ReviewSheet, reviewer: &str) -> Result<Signoff> {
    let bytes = std::fs::read(path).with_context(|| crate::tr!("{} を読めません", "reading {}", path.display()))?;
    let text = match bytes.strip_prefix("\u{FEFF}".as_bytes()) {
        Some(rest) => String::from_utf8(rest.to_vec()).with_context(|| crate::tr!("{}: BOM の後が UTF-8 ではありません", "{}: not UTF-8 after its BOM", path.display()))?,
        None => match String::from_utf8(bytes.clone()) {
            Ok(s) => s,
            Err(_) => encoding_rs::SHIFT_JIS.decode(&bytes).0.into_owned(),
        },
    };
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let header = reader.headers().with_context(|| crate::tr!("{}: 見出し行がありません", "{}: no header row", path.display()))?.clone();
    let col = |name: &str| header.iter().position(|h| h.trim() == name).with_context(|| crate::tr!("{}: `{name}` の列がありません", "{}: no `{name}` column", path.display()));
    let (id_col, mark_col) = (col("記録番号")?, col("判定")?);
    let on_sheet: std::collections::BTreeSet<u64> = sheet.rows.iter().map(|r| r.event_id).collect();
    let mut marks = BTreeMap::new();
    for (n, record) in reader.records().enumerate() {
        let line = n + 2;
        let record = record.with_context(|| crate::tr!("{}: {line} 行目", "{}: line {line}", path.display()))?;
        let id: u64 = record.get(id_col).unwrap_or("").trim().parse().with_context(|| crate::tr!("{}: {line} 行目: 記録番号が数字ではありません", "{}: line {line}: 記録番号 is not a number", path.display()))?;
        if !on_sheet.contains(&id) {
            bail!(crate::tr!("{}: {line} 行目: 記録 {id} は点検票 {}（シード {} で抽出）にありません", "{}: line {line}: record {id} is not on the sheet of {} (drawn with seed {})", path.display(), sheet.id(), sheet.seed));
        }
        let mark = record.get(mark_col).unwrap_or("").trim().to_owned();
        if !mamori_report::review::MARKS.contains(&mark.as_str()) {
            bail!(crate::tr!("{}: {line} 行目: 記録 {id} の判定 `{mark}`: 業務、業務外、確認のいずれかを記入してください", "{}: line {line}: 判定 `{mark}` for record {id}: write 業務, 業務外 or 確認", path.display()));
        }
        marks.insert(id, mark);
    }
    signoff_of(sheet, marks, reviewer).with_context(|| path.display().to_string())
}

/// The sign-off of `sheet` by `reviewer` with `marks` (record number → 業務, 業務外 or
/// 確認): every row of the sheet marked, nothing else.
pub fn signoff_of(sheet: &ReviewSheet, marks: BTreeMap<u64, String>, reviewer: &str) -> Result<Signoff> {
    let on_sheet: std::collections::BTreeSet<u64> = sheet.rows.iter().map(|r| r.event_id).collect();
    if let Some((id, _)) = marks.iter().find(|(id, _)| !on_sheet.contains(id)) {
        bail!(crate::tr!("記録 {id} は点検票 {}（シード {} で抽出）にありません", "record {id} is not on the sheet of {} (drawn with seed {})", sheet.id(), sheet.seed));
    }
    if let Some((id, mark)) = marks.iter().find(|(_, m)| !mamori_report::review::MARKS.contains(&m.as_str())) {
        bail!(crate::tr!("記録 {id} の判定 `{mark}`: 業務、業務外、確認のいずれかを記入してください", "判定 `{mark}` for record {id}: write 業務, 業務外 or 確認"));
    }
    if let Some(missing) = on_sheet.iter().find(|id| !marks.contains_key(id)) {
        bail!(crate::tr!("点検票の記録 {missing} に判定がありません。すべての行に 業務、業務外、確認 のいずれかが必要です", "record {missing} of the sheet is not marked; every row needs 業務, 業務外 or 確認"));
    }
    let count = |m: &str| marks.values().filter(|v| *v == m).count();
    let not_business: Vec<u64> = marks.iter().filter(|(_, v)| *v == "業務外").map(|(k, _)| *k).collect();
    let ask: Vec<u64> = marks.iter().filter(|(_, v)| *v == "確認").map(|(k, _)| *k).collect();
    let detail = serde_json::json!({
        "sheet": sheet.id(),
        "seed": sheet.seed,
        "reviewer": reviewer,
        "rows": marks.len(),
        "business": count("業務"),
        "not_business": not_business,
        "ask": ask,
    });
    Ok(Signoff { marks, detail })
}

/// The sign-off event of a sheet (`D300/2024-03`), if it was signed: its number, time
/// (JST) and reviewer.
pub fn signed(j: &SqliteJournal, sheet_id: &str) -> Result<Option<(u64, String, String)>> {
    let Some(seq) = j.tagged(SIGNOFF_TAG)?.into_iter().filter(|(k, _)| k == sheet_id).map(|(_, seq)| seq).min() else { return Ok(None) };
    let e = j.get(seq)?.with_context(|| crate::tr!("承認のタグが付いたイベントが見つかりません", "a tagged sign-off event"))?.event()?;
    let reviewer = e.unmapped.extra.get("detail").and_then(|d| d.as_str()).and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok()).and_then(|d| d["reviewer"].as_str().map(str::to_owned)).unwrap_or_default();
    let at = DateTime::from_timestamp_millis(e.time).with_context(|| crate::tr!("承認の時刻が正しくありません", "time"))?.with_timezone(&jst()).format("%Y-%m-%d %H:%M").to_string();
    Ok(Some((seq, at, reviewer)))
}

/// Who may sign `department`'s review from the command line: a console user of the
/// manager role for that department (`mamori user add --role manager --department …`), the
/// same person the console lets sign. A name typed free would let anyone with a shell sign
/// any department's month, the reviewed staff's own included, in a manager's name.
/// Their user row, whose password the sign-off is then checked against.
pub fn reviewer_may_sign(j: &SqliteJournal, reviewer: &str, department: &str) -> Result<mamori_journal::UserRow> {
    let Some(user) = j.user(reviewer)? else {
        bail!(crate::tr!("--reviewer `{reviewer}` はコンソール利用者ではありません: 承認するのは所属長で、`mamori user add --name … --role manager --department {department}` で登録します", "--reviewer `{reviewer}` is not a console user: the department's manager signs, registered with `mamori user add --name … --role manager --department {department}`"));
    };
    if user.role != "manager" || user.department != department {
        let role = if user.department.is_empty() { user.role.clone() } else { format!("{}, {}", user.role, user.department) };
        bail!(crate::tr!("--reviewer `{reviewer}`（{role}）は {department} の点検を承認できません: 承認できるのは {department} の所属長だけです", "--reviewer `{reviewer}` ({role}) does not sign {department}'s review: only a manager of {department} does"));
    }
    Ok(user)
}

/// Records the sign-off as an event tagged with the sheet, by `actor`. A sheet is signed
/// once: a second sign-off would let a later hand rewrite the first's marks.
pub fn record_signoff(j: &mut SqliteJournal, actor: &str, sheet: &ReviewSheet, signoff: &Signoff) -> Result<u64> {
    let key = sheet.id();
    if let Some((seq, at, who)) = signed(j, &key)? {
        bail!(crate::tr!("{key} はすでに {who} が {at} に承認しています（イベント {seq}）", "{key} was already signed off by {who} at {at} (event {seq})"));
    }
    crate::audit::record_by(j, actor, crate::audit::Action::ReviewSignoff, &signoff.detail.to_string(), &[(SIGNOFF_TAG, key.as_str())])
}

/// One department-month's review state.
#[derive(Debug, serde::Serialize)]
pub struct ReviewState {
    pub department: String,
    pub month: String,
    /// `signed`, `overdue` or `due`.
    pub state: &'static str,
    /// When the review is due: the month's end plus the grace days.
    pub due: String,
    /// The sign-off event, its time and reviewer.
    pub signoff: Option<(u64, String, String)>,
}

/// Whether each department whose staff hold records accounts has signed off each month
/// from `months`, as of `as_of`.
pub fn status(j: &SqliteJournal, months: &[String], as_of: NaiveDate, grace_days: u64) -> Result<Vec<ReviewState>> {
    let master = crate::detect::master_from_store(j)?;
    let signed: std::collections::BTreeSet<String> = j.tagged(SIGNOFF_TAG)?.into_iter().map(|(k, _)| k).collect();
    let overlaps = |p: &mamori_model::master::Period, from: NaiveDate, to: NaiveDate| p.from < to && p.to.is_none_or(|t| t >= from);
    let mut out = Vec::new();
    for month in months {
        let (first, next) = month_bounds(month)?;
        let due = next + chrono::Days::new(grace_days);
        // Departments with someone holding a records account while posted there that month.
        let reviewed: std::collections::BTreeSet<&str> = master
            .accounts
            .iter()
            .filter(|a| !["windows", "mail"].contains(&a.system.as_str()) && overlaps(&a.period, first, next))
            .flat_map(|a| {
                master.assignments.iter().filter(move |s| {
                    Some(s.employee_id.as_str()) == a.employee_id.as_deref()
                        && overlaps(&s.period, first, next)
                        && overlaps(&s.period, a.period.from, a.period.to.map_or(NaiveDate::MAX, |t| t + chrono::Days::new(1)))
                })
            })
            .map(|s| s.department.as_str())
            .collect();
        for dept in &reviewed {
            let key = format!("{dept}/{month}");
            let signoff = if signed.contains(&key) { self::signed(j, &key)? } else { None };
            let state = if signoff.is_some() { "signed" } else if as_of >= due { "overdue" } else { "due" };
            out.push(ReviewState { department: (*dept).to_owned(), month: month.clone(), state, due: due.format("%Y-%m-%d").to_string(), signoff });
        }
    }
    Ok(out)
}
