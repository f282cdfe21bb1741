//! Master data from the CERT insider-threat data set's monthly LDAP snapshots
//! (`LDAP/2010-01.csv` …: employee_name, user_id, email, role, [projects,] business_unit,
//! functional_unit, department, team, supervisor). Each snapshot is the staff of one
//! month; consecutive months with the same department and role make one assignment, and
//! someone absent from the last snapshot left at the end of the last month they appear.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use mamori_model::master::{Account, AccountKind, Assignment, Department, Employee, Period};

use crate::{Loaded, RowError};

struct Row {
    name: String,
    email: String,
    role: String,
    department: String,
    unit: String,
}

fn month_of(stem: &str) -> Option<NaiveDate> {
    let (y, m) = stem.split_once('-')?;
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, 1)
}

fn month_end(first: NaiveDate) -> NaiveDate {
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    };
    next.expect("a real month").pred_opt().expect("not the first day ever")
}

/// Reads every `YYYY-MM.csv` in `dir`.
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
            staff.insert(id, Row { name: get("employee_name"), email: get("email"), role: get("role"), department, unit });
        }
    }
    if months.is_empty() {
        return Err(err(dir, 0, "no LDAP snapshot (YYYY-MM.csv) found".into()));
    }
    let last = *months.keys().last().expect("not empty");
    let mut departments: BTreeMap<String, Department> = BTreeMap::new();
    // Per user: the runs of (department, role) over consecutive snapshots.
    let mut runs: BTreeMap<String, Vec<(NaiveDate, NaiveDate, String, String)>> = BTreeMap::new();
    let mut people: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (&month, staff) in &months {
        for (id, row) in staff {
            departments.entry(row.unit.clone()).or_insert_with(|| Department { code: row.unit.clone(), name: row.unit.clone(), parent: None });
            departments.entry(row.department.clone()).or_insert_with(|| Department {
                code: row.department.clone(),
                name: row.department.rsplit('/').next().unwrap_or("").to_owned(),
                parent: Some(row.unit.clone()),
            });
            people.insert(id.clone(), (row.name.clone(), row.email.clone()));
            let user_runs = runs.entry(id.clone()).or_default();
            match user_runs.last_mut() {
                Some((_, to, dept, role))
                    if *dept == row.department && *role == row.role && to.succ_opt() == Some(month) =>
                {
                    *to = month_end(month)
                }
                _ => user_runs.push((month, month_end(month), row.department.clone(), row.role.clone())),
            }
        }
    }
    for (id, user_runs) in &runs {
        let (name, email) = &people[id];
        let first = user_runs.first().expect("a run").0;
        let (_, left, ..) = user_runs.last().expect("a run");
        let still_here = months[&last].contains_key(id);
        let end = |to: NaiveDate| (!still_here || to < month_end(last)).then_some(to);
        out.data.employees.push(Employee {
            id: id.clone(),
            name: name.clone(),
            kana: String::new(),
            hired: first,
            retired: (!still_here).then_some(*left),
            resident_uid: None,
        });
        for (from, to, dept, role) in user_runs {
            out.data.assignments.push(Assignment {
                employee_id: id.clone(),
                department: dept.clone(),
                role: role.clone(),
                period: Period { from: *from, to: end(*to) },
            });
        }
        let period = Period { from: first, to: (!still_here).then_some(*left) };
        out.data.accounts.push(Account { system: "cert".into(), account: id.clone(), employee_id: Some(id.clone()), kind: AccountKind::Personal, period, department: None });
        if !email.is_empty() {
            out.data.accounts.push(Account { system: "mail".into(), account: email.to_ascii_lowercase(), employee_id: Some(id.clone()), kind: AccountKind::Personal, period, department: None });
        }
    }
    out.data.departments = departments.into_values().collect();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn monthly_snapshots_become_people_postings_transfers_and_leavers() {
        let dir = tempfile::tempdir().unwrap();
        let header = "employee_name,user_id,email,role,business_unit,functional_unit,department,team,supervisor\n";
        let a = "Adena Pratt,LAP0338,Lynn.Adena.Pratt@dtaa.com,Salesman,1,5 - Sales,2 - Regional,1,Bob\n";
        let b = "Moses Hahn,MOH0273,Moses.Hahn@dtaa.com,ITAdmin,1,2 - IT,1 - Admin,3,Ann\n";
        let a_moved = "Adena Pratt,LAP0338,Lynn.Adena.Pratt@dtaa.com,Salesman,1,5 - Sales,3 - Central,1,Bob\n";
        std::fs::write(dir.path().join("2010-01.csv"), format!("{header}{a}{b}")).unwrap();
        std::fs::write(dir.path().join("2010-02.csv"), format!("{header}{a}{b}")).unwrap();
        std::fs::write(dir.path().join("2010-03.csv"), format!("{header}{a_moved}")).unwrap();
        let loaded = load_cert_ldap(dir.path()).unwrap();
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        let moh = loaded.data.employees.iter().find(|e| e.id == "MOH0273").unwrap();
        assert_eq!(moh.retired, Some(d("2010-02-28")), "absent from the last snapshot: left at the end of February");
        let lap: Vec<_> = loaded.data.assignments.iter().filter(|a| a.employee_id == "LAP0338").collect();
        assert_eq!(lap.len(), 2, "a transfer in March");
        assert_eq!((lap[0].period.from, lap[0].period.to), (d("2010-01-01"), Some(d("2010-02-28"))));
        assert_eq!((lap[1].department.as_str(), lap[1].period.to), ("5 - Sales/3 - Central", None));
        assert!(loaded.data.accounts.iter().any(|a| a.system == "mail" && a.account == "lynn.adena.pratt@dtaa.com"));
    }
}
