//! S8 (Kamaishi): record access through an account that should no longer work — closed at
//! its holder's transfer or retirement and still used, or a personal account of someone
//! with no posting that day. Charged to the account's (former) holder, unless another
//! employee, posted that day and not badged away, held the terminal's unlocked Windows
//! session: then to them, naming the holder (a colleague working a retiree's account from
//! their own desk). Other analyzers still see the event as the holder's.

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
        let (holder, detail) = if a.kind.is_none() {
            // An account master data does not know today: one that lapsed?
            let Some((holder, ended)) = cx.dir.lapsed_account(&a.system, &a.account, o.day) else { return };
            (holder.to_owned(), format!("{} {}（{} に廃止）", a.system, a.account, ended))
        } else if let Some(holder) = &a.holder
            && a.kind == Some(mamori_model::master::AccountKind::Personal)
            && cx.dir.posting(holder, o.day).is_none()
        {
            (holder.clone(), format!("{} 在籍・配属なし", a.account))
        } else {
            return;
        };
        // Whoever holds the terminal's unlocked Windows session, posted that day, is the one
        // at the keyboard: a colleague working a retiree's account from their own desk, not
        // the retiree, who is named beside them.
        let room = cx.dir.terminal_location(&o.host);
        let at_keyboard = cx
            .presence
            .session(&o.host)
            .filter(|s| !s.locked)
            .and_then(|s| s.employee.as_deref())
            .filter(|e| *e != holder && cx.dir.posting(e, o.day).is_some() && !cx.presence.is_away(e, room, &o.host, o.time));
        match at_keyboard {
            Some(user) => {
                let r = out.note(Note::of(o, RULES[0].id, Severity::High, user).resident(o.resident()).detail(format!("{detail}、{} のセッションで操作", o.host)));
                r.add_related(&holder);
                r.add_device(&o.host);
            }
            None => {
                out.note(Note::of(o, RULES[0].id, Severity::High, &holder).resident(o.resident()).detail(detail));
            }
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

    /// E4's old registry account, closed at E4's transfer, worked from E1's PC while E1 is
    /// signed in there: E1 was at the keyboard, and E4 is named beside E1. E4 signed in at
    /// their own new desk and using it there is E4's.
    #[test]
    fn s8_a_lapsed_account_worked_in_a_colleagues_session_is_charged_to_the_colleague() {
        let f = run(&[windows("e1", "logon", "2024-05-01T08:30:00", "PC-E1"), access("juki", "J4", "R5", "2024-05-01T10:00:00", "PC-E1")]);
        let lapsed = f.iter().find(|f| f.rule == "access_after_transfer_or_retirement").expect("the lapsed account's use");
        assert_eq!(lapsed.employees, ["E1", "E4"], "{f:?}");
        assert!(lapsed.explanation_ja.contains("PC-E1 のセッション") || lapsed.explanation_ja.contains("pc-e1 のセッション"), "{}", lapsed.explanation_ja);
        let f = run(&[windows("e4", "logon", "2024-05-01T08:30:00", "PC-E2"), access("juki", "J4", "R5", "2024-05-01T10:00:00", "PC-E2")]);
        let lapsed = f.iter().find(|f| f.rule == "access_after_transfer_or_retirement").expect("the lapsed account's use");
        assert_eq!(lapsed.employees, ["E4"], "{f:?}");
    }
}
