//! S8 (Kamaishi): record access through an account that should no longer work — closed at
//! its holder's transfer or retirement and still used, or a personal account of someone
//! with no posting that day. Charged to the account's (former) holder.

use mamori_model::{ClassUid, Severity};
use serde::Deserialize;

use super::{Analyzer, Registration, settings};
use crate::findings::{Findings, Note, Rule, Rollup};
use crate::observe::{Context, Observation};

pub const REGISTRATION: Registration = Registration { section: "lapsed_account", build, rules: RULES };

const RULES: &[Rule] = &[Rule {
    id: "access_after_transfer_or_retirement",
    ja: "異動・退職後のアカウント利用",
    en: "Account used after transfer or retirement",
    incident: "S8",
    describe,
}];

fn describe(r: &Rollup) -> (String, String) {
    (
        format!("職員 {} の異動・退職で廃止されたはずのアカウント、または配属のない期間のアカウントで、住民記録が照会されました（{}）。", r.employee, r.details()),
        format!("Records were accessed through employee {}'s account after their transfer or retirement (closed, or no posting).", r.employee),
    )
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {}

struct LapsedAccount;

fn build(v: toml::Value) -> Result<Box<dyn Analyzer>, String> {
    let _: Settings = settings(v)?;
    Ok(Box::new(LapsedAccount))
}

impl Analyzer for LapsedAccount {
    fn classes(&self) -> &'static [ClassUid] {
        &[ClassUid::DatastoreActivity]
    }

    fn observe(&mut self, o: &Observation, cx: &Context, out: &mut Findings) {
        let a = &o.actor;
        if a.kind.is_none() {
            // An account master data does not know today: one that lapsed?
            if let Some((holder, ended)) = cx.dir.lapsed_account(&a.system, &a.account, o.day) {
                let detail = format!("{} {}（{} に廃止）", a.system, a.account, ended);
                out.note(Note::of(o, RULES[0].id, Severity::High, holder).resident(o.resident()).detail(detail));
            }
            return;
        }
        if let Some(holder) = &a.holder
            && a.kind == Some(mamori_model::master::AccountKind::Personal)
            && cx.dir.posting(holder, o.day).is_none()
        {
            let detail = format!("{} 在籍・配属なし", a.account);
            out.note(Note::of(o, RULES[0].id, Severity::High, holder).resident(o.resident()).detail(detail));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::*;

    #[test]
    fn s8_a_registry_account_closed_at_its_holders_transfer_still_used_is_flagged_on_the_holder() {
        // J4 was E4's until 31 March 2023, when E4 moved to information policy.
        let f = run(&[access("juki", "J4", "R5", "2024-05-01T19:00:00", "PC-E4"), access("juki", "J4", "R5", "2023-03-01T10:00:00", "PC-E4")]);
        let lapsed: Vec<_> = f.iter().filter(|f| f.rule == "access_after_transfer_or_retirement").collect();
        assert_eq!(lapsed.len(), 1, "{f:?}");
        assert_eq!((lapsed[0].employees[0].as_str(), lapsed[0].evidence.as_slice()), ("E4", &[0u64][..]), "only the access after the account ended");
        assert!(lapsed[0].explanation_ja.contains("2023-03-31"), "{}", lapsed[0].explanation_ja);
    }
}
