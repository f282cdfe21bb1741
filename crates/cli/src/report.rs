//! `mamori report disclosure`: a resident's access history, from the index, each access
//! explained from master data as of its time and proven against the signed log.

use std::collections::HashMap;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, FixedOffset};
use mamori_enrich::{Directory, Explanation};
use mamori_journal::{Journal, SqliteJournal, TimeRange};
use mamori_report::{Disclosure, DisclosureEntry, OperatorPolicy};

fn system_name(product: &str) -> String {
    match product {
        "juki" => "住民基本台帳".into(),
        "zeimu" => "税務".into(),
        "koseki" => "戸籍".into(),
        "fukushi" => "福祉".into(),
        other => other.into(),
    }
}

fn explanation_text(e: &Option<Explanation>) -> String {
    match e {
        Some(Explanation::Batch) => "一括処理（システム）".into(),
        Some(Explanation::DeclaredCase(c)) => format!("受付番号 {c}"),
        Some(Explanation::Visit(v)) => format!("来庁記録 {v}"),
        Some(Explanation::Case(c)) => format!("案件 {c}"),
        None => "業務記録なし".into(),
    }
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
    let master = crate::detect::master_from_store(j)?;
    let Some(person) = master.residents.iter().find(|p| p.uid == r.resident) else {
        bail!("no resident {} in the master data", r.resident);
    };
    let dir = Directory::new(&master);
    let departments: HashMap<&str, &str> = master.departments.iter().map(|d| (d.code.as_str(), d.name.as_str())).collect();
    let names: HashMap<&str, &str> = master.employees.iter().map(|e| (e.id.as_str(), e.name.as_str())).collect();
    let checkpoint = j.latest_checkpoint()?.context("the store has no checkpoint")?;
    let jst = FixedOffset::east_opt(9 * 3600).expect("JST");
    let mut entries = Vec::new();
    for stored in j.by_resident(r.resident, r.range)? {
        let e = stored.event()?;
        let at = DateTime::from_timestamp_millis(e.time).context("event time")?.with_timezone(&jst).naive_local();
        let account = dir.account(mamori_enrich::account_system(&e.metadata.product), &e.actor.user.uid, at.date());
        let employee = account.and_then(|a| a.0);
        let (department, explanation) = match (account, employee.and_then(|id| dir.posting(id, at.date()))) {
            (Some((_, kind)), Some((dept, _))) => {
                let declared = e.unmapped.extra.get("case_no").and_then(|v| v.as_str());
                (departments.get(dept).copied().unwrap_or(dept).to_owned(), dir.explain(kind, employee, dept, r.resident, at, declared))
            }
            (Some((_, kind)), None) => (String::new(), dir.explain(kind, None, "", r.resident, at, None)),
            (None, _) => (String::new(), None),
        };
        let operator = match r.policy {
            OperatorPolicy::Name => employee.and_then(|id| names.get(id)).map_or_else(|| e.actor.user.uid.clone(), |n| n.to_string()),
            OperatorPolicy::Number => e.actor.user.uid.clone(),
            OperatorPolicy::Withheld => "職員".into(),
        };
        let proof = j.audit_path(stored.seq, checkpoint.size)?;
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
        resident_name: person.name.clone(),
        from: r.from.clone(),
        to: r.to.clone(),
        issued: {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
            DateTime::from_timestamp_millis(now).context("clock")?.with_timezone(&jst).format("%Y-%m-%d").to_string()
        },
        operator_policy: r.policy,
        checkpoint: checkpoint.note,
        entries,
    })
}
