//! Master data from the CERT insider-threat data set's monthly LDAP snapshots
//! (`LDAP/2010-01.csv` …: employee_name, user_id, email, role, [projects,] business_unit,
//! functional_unit, department, team, supervisor), and its `psychometric.csv` beside them.
//!
//! Each snapshot lists the staff of one month. Consecutive months with the same
//! department, team and role make one assignment (the team is the closest peer group; the
//! department is `functional_unit/department`). Someone missing from a month's snapshot
//! left during that month: their leaving date is the first day of the first month whose
//! snapshot lacks them, or the day after their last logon or logoff in the data set's
//! `logon.csv` (beside `LDAP/`), whichever is later — a third of the leavers still log on
//! in the month their snapshot lacks them; their postings and accounts run to the end of
//! that month, or to that last day. The supervisor, given by name, becomes the
//! supervisor's user id. Psychometric scores (O, C, E, A, N) are kept as traits; detection
//! does not use them.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use mamori_model::master::{Account, AccountKind, Assignment, Department, Employee, Period, Trait};

use crate::{Loaded, RowError};

struct Row {
    name: String,
    email: String,
    role: String,
    department: String,
    unit: String,
    team: String,
    supervisor: String,
}

fn month_of(stem: &str) -> Option<NaiveDate> {
    let (y, m) = stem.split_once('-')?;
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, 1)
}

fn month_end(first: NaiveDate) -> NaiveDate {
    next_month(first).pred_opt().expect("not the first day ever")
}

fn next_month(first: NaiveDate) -> NaiveDate {
    let next = if first.month() == 12 { NaiveDate::from_ymd_opt(first.year() + 1, 1, 1) } else { NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1) };
    next.expect("a real month")
}

/// Reads every `YYYY-MM.csv` in `dir`, and `psychometric.csv` in `dir` or beside it.
pub fn load_cert_ldap(dir: &Path) -> Result<Loaded, RowError> {
    let err = |file: &Path, line: u64, reason: String| RowError { file: file.to_path_buf(), line, reason };
    let mut months: BTreeMap<NaiveDate, BTreeMap<String, Row>> = BTreeMap::new();
    let mut out = Loaded::default();
    let entries = std::fs::read_dir(dir).map_err(|e| err(dir, 0, format!("cannot read: {e}")))?;
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let Some(month) = path.file_stem().and_then(|s| month_of(&s.to_string_lossy())) else { continue };
        out.files.push(path.clone());
        let mut reader = match csv::Reader::from_path(&path) {
            Ok(r) => r,
            Err(e) => {
                out.errors.push(err(&path, 0, e.to_string()));
                continue;
            }
        };
        let headers = reader.headers().map(|h| h.iter().map(|c| c.trim().to_ascii_lowercase()).collect::<Vec<_>>());
        let Ok(headers) = headers else {
            out.errors.push(err(&path, 1, "no header".into()));
            continue;
        };
        let at = |name: &str| headers.iter().position(|h| h == name);
        let needed = ["employee_name", "user_id", "email", "role", "functional_unit", "department"];
        if let Some(missing) = needed.iter().find(|c| at(c).is_none()) {
            out.errors.push(err(&path, 1, format!("no column `{missing}`")));
            continue;
        }
        let staff = months.entry(month).or_default();
        for record in reader.records() {
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    out.errors.push(err(&path, e.position().map_or(0, |p| p.line()), e.to_string()));
                    continue;
                }
            };
            let line = record.position().map_or(0, |p| p.line());
            let get = |name: &str| at(name).and_then(|i| record.get(i)).unwrap_or("").trim().to_owned();
            let id = get("user_id");
            if id.is_empty() {
                out.errors.push(err(&path, line, "field `user_id` is empty".into()));
                continue;
            }
            let unit = get("functional_unit");
            let department = format!("{unit}/{}", get("department"));
            let team = match get("team").as_str() {
                "" => String::new(),
                t => format!("{department}/{t}"),
            };
            staff.insert(id, Row { name: get("employee_name"), email: get("email"), role: get("role"), department, unit, team, supervisor: get("supervisor") });
        }
    }
    if months.is_empty() {
        return Err(err(dir, 0, "no LDAP snapshot (YYYY-MM.csv) found".into()));
    }
    let last = *months.keys().last().expect("not empty");
    let last_logons = dir.parent().map(|root| last_logons(&root.join("logon.csv"), &mut out)).unwrap_or_default();
    let mut departments: BTreeMap<String, Department> = BTreeMap::new();
    // Per user: the runs of (department, team, role) over consecutive snapshots.
    type Run = (NaiveDate, NaiveDate, String, String, String);
    let mut runs: BTreeMap<String, Vec<Run>> = BTreeMap::new();
    let mut people: BTreeMap<String, (String, String, String)> = BTreeMap::new();
    let mut by_name: BTreeMap<String, String> = BTreeMap::new();
    for (&month, staff) in &months {
        for (id, row) in staff {
            departments.entry(row.unit.clone()).or_insert_with(|| Department { code: row.unit.clone(), name: row.unit.clone(), parent: None });
            departments.entry(row.department.clone()).or_insert_with(|| Department {
                code: row.department.clone(),
                name: row.department.rsplit('/').next().unwrap_or("").to_owned(),
                parent: Some(row.unit.clone()),
            });
            people.insert(id.clone(), (row.name.clone(), row.email.clone(), row.supervisor.clone()));
            by_name.insert(row.name.clone(), id.clone());
            let user_runs = runs.entry(id.clone()).or_default();
            match user_runs.last_mut() {
                Some((_, to, dept, team, role))
                    if *dept == row.department && *team == row.team && *role == row.role && to.succ_opt() == Some(month) =>
                {
                    *to = month_end(month)
                }
                _ => user_runs.push((month, month_end(month), row.department.clone(), row.team.clone(), row.role.clone())),
            }
        }
    }
    for (id, user_runs) in &mut runs {
        let (name, email, supervisor) = &people[id];
        let first = user_runs.first().expect("a run").0;
        let listed_last = user_runs.last().expect("a run").1;
        let still_here = months[&last].contains_key(id);
        // Left during the first month whose snapshot lacks them: their leaving date is that
        // snapshot's (the month's first day, as early as the data allows), and their posting
        // and accounts run to the month's end, so that their last events are still theirs.
        let lacking = (!still_here).then(|| next_month(listed_last.with_day(1).expect("day 1")));
        let last_seen = last_logons.get(id.as_str()).copied();
        let leaving = lacking.map(|l| last_seen.and_then(|d| d.succ_opt()).map_or(l, |after| after.max(l)));
        let left = lacking.map(|l| last_seen.map_or(month_end(l), |d| d.max(month_end(l))));
        if let (Some(left), Some(run)) = (left, user_runs.last_mut()) {
            run.1 = left;
        }
        out.data.employees.push(Employee {
            id: id.clone(),
            name: name.clone(),
            kana: String::new(),
            hired: first,
            retired: leaving,
            resident_uid: None,
            supervisor: by_name.get(supervisor).filter(|s| *s != id).cloned(),
        });
        let n = user_runs.len();
        for (i, (from, to, dept, team, role)) in user_runs.iter().enumerate() {
            out.data.assignments.push(Assignment {
                employee_id: id.clone(),
                department: dept.clone(),
                role: role.clone(),
                period: Period { from: *from, to: (i + 1 < n || left.is_some()).then_some(*to) },
                team: Some(team.clone()).filter(|t| !t.is_empty()),
            });
        }
        let period = Period { from: first, to: left };
        out.data.accounts.push(Account { system: "cert".into(), account: id.clone(), employee_id: Some(id.clone()), kind: AccountKind::Personal, period, department: None });
        if !email.is_empty() {
            out.data.accounts.push(Account { system: "mail".into(), account: email.to_ascii_lowercase(), employee_id: Some(id.clone()), kind: AccountKind::Personal, period, department: None });
        }
    }
    out.data.departments = departments.into_values().collect();
    for path in [dir.join("psychometric.csv"), dir.parent().map(|p| p.join("psychometric.csv")).unwrap_or_default()] {
        if path.is_file() {
            out.files.push(path.clone());
            read_psychometric(&path, &mut out);
            break;
        }
    }
    Ok(out)
}

/// Each user's last day in `logon.csv` (`id,date,user,pc,activity`), if the file is there.
fn last_logons(path: &Path, out: &mut Loaded) -> BTreeMap<String, NaiveDate> {
    let mut last: BTreeMap<String, NaiveDate> = BTreeMap::new();
    let Ok(mut reader) = csv::Reader::from_path(path) else { return last };
    out.files.push(path.to_path_buf());
    for record in reader.records().filter_map(Result::ok) {
        let (Some(date), Some(user)) = (record.get(1), record.get(2)) else { continue };
        let Some(day) = date.split_whitespace().next().and_then(|d| NaiveDate::parse_from_str(d, "%m/%d/%Y").ok()) else { continue };
        let e = last.entry(user.trim().to_owned()).or_insert(day);
        *e = (*e).max(day);
    }
    last
}

/// `employee_name,user_id,O,C,E,A,N`: one trait row per score.
fn read_psychometric(path: &Path, out: &mut Loaded) {
    let err = |line: u64, reason: String| RowError { file: path.to_path_buf(), line, reason };
    let mut reader = match csv::Reader::from_path(path) {
        Ok(r) => r,
        Err(e) => return out.errors.push(err(0, e.to_string())),
    };
    let Ok(headers) = reader.headers().map(|h| h.iter().map(|c| c.trim().to_owned()).collect::<Vec<_>>()) else {
        return out.errors.push(err(1, "no header".into()));
    };
    let Some(id_at) = headers.iter().position(|h| h.eq_ignore_ascii_case("user_id")) else {
        return out.errors.push(err(1, "no column `user_id`".into()));
    };
    for record in reader.records() {
        let Ok(record) = record else { continue };
        let line = record.position().map_or(0, |p| p.line());
        let id = record.get(id_at).unwrap_or("").trim().to_owned();
        for (i, h) in headers.iter().enumerate().filter(|(_, h)| ["O", "C", "E", "A", "N"].contains(&h.as_str())) {
            match record.get(i).unwrap_or("").trim().parse::<f64>() {
                Ok(value) => out.data.traits.push(Trait { employee_id: id.clone(), trait_name: h.clone(), value }),
                Err(_) => out.errors.push(err(line, format!("field `{h}`: not a number"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_leaver_still_logging_on_after_the_snapshot_that_lacks_them_leaves_after_their_last_logon() {
        let root = tempfile::tempdir().unwrap();
        let ldap = root.path().join("LDAP");
        std::fs::create_dir(&ldap).unwrap();
        let header = "employee_name,user_id,email,role,business_unit,functional_unit,department,team,supervisor\n";
        let b = "Moses Hahn,MOH0273,Moses.Hahn@dtaa.com,ITAdmin,1,2 - IT,1 - Admin,3,Ann\n";
        let c = "Ann Other,ANO0001,Ann.Other@dtaa.com,Manager,1,2 - IT,1 - Admin,3,\n";
        std::fs::write(ldap.join("2010-03.csv"), format!("{header}{b}{c}")).unwrap();
        std::fs::write(ldap.join("2010-04.csv"), format!("{header}{c}")).unwrap();
        std::fs::write(ldap.join("2010-05.csv"), format!("{header}{c}")).unwrap();
        std::fs::write(
            root.path().join("logon.csv"),
            "id,date,user,pc,activity\n{A},03/30/2010 08:01:00,MOH0273,PC-1,Logon\n{B},04/16/2010 17:30:00,MOH0273,PC-1,Logoff\n",
        )
        .unwrap();
        let loaded = load_cert_ldap(&ldap).unwrap();
        let moh = loaded.data.employees.iter().find(|e| e.id == "MOH0273").unwrap();
        assert_eq!(moh.retired, Some(d("2010-04-17")), "April's snapshot lacks them, but they logged off on 16 April");
        let posting = loaded.data.assignments.iter().find(|a| a.employee_id == "MOH0273").unwrap();
        assert_eq!(posting.period.to, Some(d("2010-04-30")), "the month's end is later still");
    }

    #[test]
    fn monthly_snapshots_become_people_postings_transfers_and_leavers() {
        // The snapshots in their own directory, as the data set ships them (no logon.csv).
        let root = tempfile::tempdir().unwrap();
        let ldap = root.path().join("LDAP");
        std::fs::create_dir(&ldap).unwrap();
        let header = "employee_name,user_id,email,role,business_unit,functional_unit,department,team,supervisor\n";
        let a = "Adena Pratt,LAP0338,Lynn.Adena.Pratt@dtaa.com,Salesman,1,5 - Sales,2 - Regional,1,Moses Hahn\n";
        let b = "Moses Hahn,MOH0273,Moses.Hahn@dtaa.com,ITAdmin,1,2 - IT,1 - Admin,3,Ann\n";
        let a_moved = "Adena Pratt,LAP0338,Lynn.Adena.Pratt@dtaa.com,Salesman,1,5 - Sales,3 - Central,1,Moses Hahn\n";
        std::fs::write(ldap.join("2010-01.csv"), format!("{header}{a}{b}")).unwrap();
        std::fs::write(ldap.join("2010-02.csv"), format!("{header}{a}{b}")).unwrap();
        std::fs::write(ldap.join("2010-03.csv"), format!("{header}{a_moved}")).unwrap();
        std::fs::write(ldap.join("psychometric.csv"), "employee_name,user_id,O,C,E,A,N\nAdena Pratt,LAP0338,40,39,36,19,40\n").unwrap();
        let loaded = load_cert_ldap(&ldap).unwrap();
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        let moh = loaded.data.employees.iter().find(|e| e.id == "MOH0273").unwrap();
        assert_eq!(moh.retired, Some(d("2010-03-01")), "missing from March's snapshot: left during March, dated from that snapshot");
        let moh_posting = loaded.data.assignments.iter().find(|a| a.employee_id == "MOH0273").unwrap();
        assert_eq!(moh_posting.period.to, Some(d("2010-03-31")), "their March events still belong to them");
        assert_eq!(moh_posting.team.as_deref(), Some("2 - IT/1 - Admin/3"));
        let lap: Vec<_> = loaded.data.assignments.iter().filter(|a| a.employee_id == "LAP0338").collect();
        assert_eq!(lap.len(), 2, "a transfer in March");
        assert_eq!((lap[0].period.from, lap[0].period.to), (d("2010-01-01"), Some(d("2010-02-28"))));
        assert_eq!((lap[1].department.as_str(), lap[1].period.to), ("5 - Sales/3 - Central", None));
        assert!(loaded.data.accounts.iter().any(|a| a.system == "mail" && a.account == "lynn.adena.pratt@dtaa.com"));
        let lap = loaded.data.employees.iter().find(|e| e.id == "LAP0338").unwrap();
        assert_eq!(lap.supervisor.as_deref(), Some("MOH0273"), "the supervisor by name becomes their id");
        assert_eq!(loaded.data.traits.iter().filter(|t| t.employee_id == "LAP0338").count(), 5, "O C E A N");
    }
}
