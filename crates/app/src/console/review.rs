//! The review page: a manager's monthly access-log review (アクセスログ点検) in the
//! browser — the sheet drawn as `mamori review sheet` draws it, a mark per row, the
//! sign-off recorded as `mamori review signoff` records it — and the sign-off state of
//! recent months, overdue ones first.
//!
//! A manager sees and signs only their own department's sheet; an auditor sees every
//! department's but signs none (the review is the line manager's duty, the audit checks
//! it was done).

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use chrono::{Datelike, NaiveDate};
use mamori_journal::SqliteJournal;
use mamori_report::ReviewSheet;

use super::{Reader, Role, View, jst_day};
use crate::audit::{self, Action};
use crate::review::{self, ReviewState};

/// Explained accesses drawn onto a sheet, as `mamori review sheet` draws by default.
pub const SAMPLE: usize = 20;
/// Days after a month's end a review is due in, as the dashboard judges it.
pub const GRACE_DAYS: u64 = 10;
/// Months the overdue list looks back over.
const MONTHS_SHOWN: u32 = 3;

/// What the review page shows.
pub struct ReviewView {
    pub department: String,
    pub month: String,
    /// The departments the reader may open a sheet of: (code, name).
    pub departments: Vec<(String, String)>,
    /// The sheet, when a department is chosen.
    pub sheet: Option<ReviewSheet>,
    /// The sheet's sign-off: event, time, reviewer.
    pub signed: Option<(u64, String, String)>,
    /// Whether the reader may sign this sheet (its department's manager, not yet signed).
    pub may_sign: bool,
    /// Recent months' state for the departments the reader may see, overdue first.
    pub states: Vec<ReviewState>,
}

/// The month before the one holding the store's latest event: the month a review is
/// drawn for by default (in a live town, last month).
pub fn default_month(j: &SqliteJournal) -> Result<String> {
    let latest = j.time_span()?.map_or_else(|| chrono::Utc::now().timestamp_millis(), |(_, hi)| hi);
    let first = jst_day(latest).with_day(1).expect("day 1");
    Ok((first - chrono::Days::new(1)).format("%Y-%m").to_string())
}

fn months_up_to(month: &str, n: u32) -> Result<Vec<String>> {
    let (first, _) = review::month_bounds(month)?;
    let mut out = Vec::new();
    let mut m = first;
    for _ in 0..n {
        out.push(m.format("%Y-%m").to_string());
        m = (m - chrono::Days::new(1)).with_day(1).expect("day 1");
    }
    Ok(out)
}

/// The review page for `department` (a manager: their own, whatever is asked) and
/// `month` (default [`default_month`]), as of `today`. `None`: the reader may not see
/// that department's review.
pub fn review(j: &mut SqliteJournal, reader: &Reader, department: Option<&str>, month: Option<&str>, today: NaiveDate) -> Result<Option<ReviewView>> {
    if !reader.role.may(View::Review) {
        return Ok(None);
    }
    let month = match month.filter(|m| !m.is_empty()) {
        Some(m) => {
            review::month_bounds(m)?;
            m.to_owned()
        }
        None => default_month(j)?,
    };
    let own = reader.department.clone().unwrap_or_default();
    let department = match (reader.role, department.filter(|d| !d.is_empty())) {
        (Role::Manager, Some(d)) if d != own => return Ok(None),
        (Role::Manager, _) => own.clone(),
        (_, d) => d.unwrap_or_default().to_owned(),
    };
    let (_, master) = super::staff_directory(j)?;
    let departments: Vec<(String, String)> = master
        .departments
        .iter()
        .filter(|d| reader.role != Role::Manager || d.code == own)
        .map(|d| (d.code.clone(), d.name.clone()))
        .collect();
    let mut states: Vec<ReviewState> = review::status(j, &months_up_to(&month, MONTHS_SHOWN)?, today, GRACE_DAYS)?
        .into_iter()
        .filter(|s| reader.role != Role::Manager || s.department == own)
        .collect();
    let rank = |s: &ReviewState| match s.state {
        "overdue" => 0,
        "due" => 1,
        _ => 2,
    };
    states.sort_by(|a, b| rank(a).cmp(&rank(b)).then(b.month.cmp(&a.month)).then(a.department.cmp(&b.department)));
    let (sheet, signed) = if department.is_empty() {
        (None, None)
    } else {
        let sheet = review::sheet(j, &department, &month, review::default_seed(&department, &month), SAMPLE)?;
        let signed = review::signed(j, &sheet.id())?;
        audit::record_by(j, &reader.actor(), Action::View, &format!("review sheet {} viewed ({} rows)", sheet.id(), sheet.rows.len()), &[])?;
        (Some(sheet), signed)
    };
    let may_sign = reader.role == Role::Manager && sheet.is_some() && signed.is_none();
    Ok(Some(ReviewView { department, month, departments, sheet, signed, may_sign, states }))
}

/// Records the reader's sign-off of their department's sheet for `month` with `marks`
/// (record number → 業務, 業務外 or 確認), the sheet drawn again exactly as shown.
pub fn sign(j: &mut SqliteJournal, reader: &Reader, department: &str, month: &str, marks: BTreeMap<u64, String>) -> Result<u64> {
    if reader.role != Role::Manager || reader.department.as_deref() != Some(department) {
        bail!(crate::tr!("{department} の点検を承認できるのは、その所属長だけです", "only {department}'s manager signs its review"));
    }
    let sheet = review::sheet(j, department, month, review::default_seed(department, month), SAMPLE)?;
    let signoff = review::signoff_of(&sheet, marks, &reader.name)?;
    review::record_signoff(j, &reader.actor(), &sheet, &signoff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overdue_list_looks_back_over_months_across_a_year_end() {
        assert_eq!(months_up_to("2024-02", 3).unwrap(), ["2024-02", "2024-01", "2023-12"]);
        assert!(months_up_to("2024-13", 3).is_err());
    }
}
