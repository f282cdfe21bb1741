//! S2 (Osaka, Ikuno): look-ups made on someone else's terminal while they were away.
//! Two shapes: one's own account used in a colleague's open, unlocked Windows session on
//! a staff terminal (`terminal_borrowing`); and a colleague's own account used in their
//! own unlocked session while the badge system says they are out, or in another room (a
//! meeting), and others are in the terminal's room (`session_used_while_away`), charged to the person in the room when there is one.
//! Whether people lock when they leave is reported per month by `mamori report locks`.

use mamori_model::master::TerminalKind;
use mamori_model::{ClassUid, Severity};
use serde::Deserialize;

use super::{Analyzer, Registration, settings};
use crate::findings::{Findings, Note, Rule, Rollup};
use crate::observe::{Context, Observation, Via};

pub const REGISTRATION: Registration = Registration { section: "sessions", build, rules: RULES };

const RULES: &[Rule] = &[
    Rule { id: "terminal_borrowing", ja: "離席中の他職員の端末での操作", en: "Work on another employee's unlocked terminal", incident: "S2", describe: borrowing },
    Rule {
        id: "session_used_while_away",
        ja: "本人の退室中にそのアカウントで操作",
        en: "Account used while its owner was away from the terminal's room",
        incident: "S2",
        describe: away,
    },
];

fn borrowing(r: &Rollup) -> (String, String) {
    (
        format!("職員 {} の操作が、別の職員がログオンしたまま施錠されていない端末で行われました（{}）。", r.employee, r.details()),
        format!("Employee {} worked on a terminal where another employee's session was open and unlocked.", r.employee),
    )
}

fn away(r: &Rollup) -> (String, String) {
    (
        format!("退室中（外出・別室）の職員のアカウントで、施錠されていない本人の端末から住民記録が照会されました。職員 {} に帰属（部屋にいた一人、複数いたときは本人）（{}）。", r.employee, r.details()),
        format!("Records were looked up under the account of an employee who was badged out or into another room, on their unlocked terminal; charged to employee {} (the one person in the room, or the owner when several were).", r.employee),
    )
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Settings {
    /// Severity of an absent owner's account at work with someone else in the room, on a
    /// record some business explains (a colleague finishing the owner's case).
    away_severity: Severity,
    /// The same on a record no business explains — S2's shape. Medium by default: an owner
    /// who badged out and came back through a held door, without locking or unlocking, does
    /// their own unrecorded look-ups on their own session, and no log tells that from a
    /// colleague's (the simulator's crematorium clerk does, after badging out at 17:30). A
    /// town whose gates enforce badging in (anti-passback) sets it `high`. Kin looked up
    /// this way are the person's in the room, and `relative_lookup` is high either way.
    away_unexplained_severity: Severity,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { away_severity: Severity::Medium, away_unexplained_severity: Severity::Medium }
    }
}

struct Sessions {
    settings: Settings,
}

fn build(v: toml::Value) -> Result<Box<dyn Analyzer>, String> {
    Ok(Box::new(Sessions { settings: settings(v)? }))
}

impl Analyzer for Sessions {
    fn classes(&self) -> &'static [ClassUid] {
        &[ClassUid::DatastoreActivity]
    }

    fn observe(&mut self, o: &Observation, cx: &Context, out: &mut Findings) {
        let Some(employee) = o.actor.employee.as_deref() else { return };
        let resident = o.resident();
        if let Via::Away { owner, candidates } = &o.actor.via {
            let detail = format!("{}（{owner} 退室中、入室中: {}）", o.host, candidates.join("・"));
            let unexplained = o.access.as_ref().is_some_and(|a| a.explanation.is_none());
            let severity = if unexplained { self.settings.away_unexplained_severity } else { self.settings.away_severity };
            let r = out.note(Note::of(o, RULES[1].id, severity, employee).resident(resident).detail(detail));
            r.add_related(owner);
            r.add_device(&o.host);
            return;
        }
        if o.actor.via != Via::Holder {
            return;
        }
        let Some(session) = cx.presence.session(&o.host) else { return };
        let Some(owner) = session.employee.as_deref() else { return };
        // One's own terminal (by the asset register) with someone else signed in on it — an
        // administrator's visit — is not a borrowed one.
        if owner == employee || session.locked || cx.dir.terminal_kind(&o.host) != Some(TerminalKind::Staff) || cx.dir.terminal_owner(&o.host) == Some(employee) {
            return;
        }
        let away = cx.presence.is_away(owner, cx.dir.terminal_location(&o.host), &o.host, o.time);
        let key = format!("{} ({owner}{})", o.host, if away { ", 離席中" } else { "" });
        // Who could have been at the keyboard: those badged into the terminal's room; and
        // whether the employee was logged on elsewhere at the same time.
        let in_room = cx.dir.terminal_location(&o.host).map(|room| cx.presence.in_room(room, &[owner])).unwrap_or_default();
        let elsewhere = cx.presence.elsewhere(employee, &o.host);
        let context = format!(
            "{} 入室中: {}{}",
            o.host,
            if in_room.is_empty() { "（記録なし）".to_owned() } else { in_room.join("・") },
            elsewhere.first().map(|h| format!("、本人は {h} にもログオン中")).unwrap_or_default()
        );
        let r = out.note(Note::of(o, RULES[0].id, Severity::High, employee).resident(resident).detail(key));
        *r.detail.entry(context).or_default() += 1;
        r.add_device(&o.host);
        r.add_related(owner);
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::*;

    #[test]
    fn s2_work_on_a_colleagues_unlocked_terminal_while_they_are_out_is_flagged() {
        let f = run(&[
            windows("e2", "logon", "2024-03-01T08:30:00", "PC-E2"),
            badge("E2", "out", "2024-03-01T12:02:00"),
            access("juki", "J1", "R5", "2024-03-01T12:15:00", "PC-E2"),
        ]);
        let borrowed: Vec<_> = f.iter().filter(|x| x.rule == "terminal_borrowing").collect();
        assert_eq!(borrowed.len(), 1, "{f:?}");
        assert_eq!(borrowed[0].devices, ["PC-E2"]);
        assert!(borrowed[0].explanation_ja.contains("離席中"));
    }

    #[test]
    fn an_administrator_signing_in_at_ones_own_pc_is_not_borrowing_and_ones_session_resumes_after() {
        let own = office_with(|v| v["terminals"][0]["assigned"] = serde_json::json!("E1"));
        let events = [
            windows("e1", "logon", "2024-03-01T08:30:00", "PC-E1"),
            windows("e2", "logon", "2024-03-01T10:00:00", "PC-E1"),
            access("juki", "J1", "R5", "2024-03-01T10:05:00", "PC-E1"),
            windows("e2", "logoff", "2024-03-01T10:12:00", "PC-E1"),
            access("juki", "J1", "R5", "2024-03-01T10:20:00", "PC-E1"),
        ];
        let f = run_in(&own, crate::Config::default(), &events);
        assert!(f.iter().all(|x| x.rule != "terminal_borrowing"), "{f:?}");
        // Without the asset register, the look-up during E2's sign-in is on E2's session; after
        // E2 signs off, E1's own session is back and nothing is borrowed.
        let f = run(&events);
        let borrowed: Vec<_> = f.iter().filter(|x| x.rule == "terminal_borrowing").collect();
        assert_eq!(borrowed.len(), 1, "{f:?}");
        assert_eq!(borrowed[0].evidence.len(), 1, "only the look-up during E2's session: {f:?}");
    }

    #[test]
    fn a_locked_terminal_or_ones_own_is_not_borrowing() {
        let f = run(&[
            windows("e2", "logon", "2024-03-01T08:30:00", "PC-E2"),
            windows("e2", "lock", "2024-03-01T12:00:00", "PC-E2"),
            windows("e1", "logon", "2024-03-01T08:30:00", "PC-E1"),
            access("juki", "J1", "R5", "2024-03-01T12:15:00", "PC-E1"),
            access("juki", "J2", "R5", "2024-03-01T12:16:00", "PC-E2"),
        ]);
        assert!(f.iter().all(|x| x.rule != "terminal_borrowing"), "{f:?}");
    }

    #[test]
    fn s2_the_finding_names_who_was_badged_into_the_room_and_that_the_employee_was_logged_on_elsewhere() {
        let f = run(&[
            windows("e2", "logon", "2024-03-01T08:30:00", "PC-E2"),
            windows("e1", "logon", "2024-03-01T08:35:00", "PC-E1"),
            badge("E1", "in", "2024-03-01T08:25:00"),
            badge("E3", "in", "2024-03-01T08:40:00"),
            badge("E2", "in", "2024-03-01T08:20:00"),
            badge("E2", "out", "2024-03-01T12:02:00"),
            access("juki", "J1", "R5", "2024-03-01T12:15:00", "PC-E2"),
        ]);
        let borrowed = f.iter().find(|x| x.rule == "terminal_borrowing").expect("borrowing");
        assert!(borrowed.explanation_ja.contains("入室中: E1・E3"), "{}", borrowed.explanation_ja);
        assert!(borrowed.explanation_ja.contains("本人は PC-E1 にもログオン中"), "{}", borrowed.explanation_ja);
    }

    /// The other shape of S2: no second account at all. E2's own account works on E2's
    /// unlocked PC while E2 is badged out and E1 alone is in the room: charged to E1, and
    /// judged as E1's look-up (R2 is E1's spouse).
    #[test]
    fn s2_an_absent_owners_own_account_at_work_is_charged_to_the_one_person_in_the_room() {
        // E2 badges out at ten past noon… on 1 March (nothing on file for R2) or at ten on 5
        // March (V1, R2 at 福祉課 that morning, explains the look-up).
        let absence = |day: &str, out: &str, looked: &str| {
            vec![
                badge("E1", "in", &format!("{day}T08:25:00")),
                badge("E2", "in", &format!("{day}T08:20:00")),
                windows("e2", "logon", &format!("{day}T08:30:00"), "PC-E2"),
                badge("E2", "out", &format!("{day}T{out}")),
                access("juki", "J2", "R2", &format!("{day}T{looked}"), "PC-E2"),
            ]
        };
        let away = |f: &[mamori_model::Finding]| f.iter().find(|x| x.rule == "session_used_while_away").cloned().expect("the absent owner's session");
        let gates = || toml_config("[sessions]\naway_unexplained_severity = \"high\"\n");
        let unexplained = absence("2024-03-01", "12:02:00", "12:15:00");
        let f = run(&unexplained);
        assert_eq!(away(&f).employees, ["E1", "E2"], "charged to the person present, naming the owner");
        assert_eq!(away(&f).severity, mamori_model::Severity::Medium, "by default a question");
        assert!(f.iter().any(|x| x.rule == "relative_lookup" && x.employees[0] == "E1"), "judged as E1's look-up of E1's spouse: {f:?}");
        assert_eq!(away(&run_in(&office(), gates(), &unexplained)).severity, mamori_model::Severity::High, "where the gates enforce badging, an alarm");
        let explained = absence("2024-03-05", "10:02:00", "10:15:00");
        assert_eq!(away(&run(&explained)).severity, mamori_model::Severity::Medium);
        assert_eq!(away(&run_in(&office(), gates(), &explained)).severity, mamori_model::Severity::Medium, "business explains it: a question even there");
    }

    /// Away is not only out of the building: E2 badged into a meeting room on another floor,
    /// leaving the PC in the 2F office unlocked, and E1, in the office, looked up a relative
    /// on it under E2's account. Back in the office (a badge into 2F), E2's own look-ups are
    /// E2's.
    #[test]
    fn s2_an_owner_badged_into_a_meeting_room_is_away_from_their_terminal() {
        let into = |e: &str, room: &str, when: &str| {
            let mut b = badge(e, "in", when);
            b.unmapped.extra.insert("room".into(), room.into());
            b
        };
        let f = run(&[
            into("E1", "2F", "2024-03-01T08:25:00"),
            into("E2", "2F", "2024-03-01T08:20:00"),
            windows("e2", "logon", "2024-03-01T08:30:00", "PC-E2"),
            into("E2", "3F会議室B", "2024-03-01T14:00:00"),
            access("juki", "J2", "R3", "2024-03-01T14:20:00", "PC-E2"),
            into("E2", "2F", "2024-03-01T15:30:00"),
            access("juki", "J2", "R5", "2024-03-01T15:40:00", "PC-E2"),
        ]);
        let away = f.iter().find(|x| x.rule == "session_used_while_away").expect("the owner in a meeting");
        assert_eq!((away.employees.as_slice(), away.evidence.as_slice()), (&["E1".to_owned(), "E2".to_owned()][..], &[4u64][..]), "only the look-up while E2 was in the meeting");
        assert!(f.iter().any(|x| x.rule == "relative_lookup" && x.employees[0] == "E1"), "R3 is E1's parent: {f:?}");
        // Back from the meeting through a door held open, no badge: E2 unlocks the PC, and
        // the look-up after it is E2's own.
        let f = run(&[
            into("E1", "2F", "2024-03-01T08:25:00"),
            into("E2", "2F", "2024-03-01T08:20:00"),
            windows("e2", "logon", "2024-03-01T08:30:00", "PC-E2"),
            windows("e2", "lock", "2024-03-01T13:59:00", "PC-E2"),
            into("E2", "3F会議室B", "2024-03-01T14:00:00"),
            windows("e2", "unlock", "2024-03-01T15:02:00", "PC-E2"),
            access("juki", "J2", "R3", "2024-03-01T15:05:00", "PC-E2"),
        ]);
        assert!(f.iter().all(|x| x.rule != "session_used_while_away" && !x.employees.contains(&"E1".to_owned())), "{f:?}");
        // E2 moved to the 3F office with the PC, and the asset register still says 2F: E2 was
        // never in 2F that day, so E2's own look-ups are E2's.
        let f = run(&[
            into("E1", "2F", "2024-03-01T08:25:00"),
            into("E2", "3F会議室B", "2024-03-01T08:20:00"),
            windows("e2", "logon", "2024-03-01T08:30:00", "PC-E2"),
            access("juki", "J2", "R3", "2024-03-01T14:20:00", "PC-E2"),
        ]);
        assert!(f.iter().all(|x| x.rule != "session_used_while_away" && !x.employees.contains(&"E1".to_owned())), "{f:?}");
        // From one meeting to another on a third floor: still away from the 2F terminal.
        let f = run(&[
            into("E1", "2F", "2024-03-01T08:25:00"),
            into("E2", "2F", "2024-03-01T08:20:00"),
            windows("e2", "logon", "2024-03-01T08:30:00", "PC-E2"),
            into("E2", "3F会議室B", "2024-03-01T14:00:00"),
            into("E2", "4F会議室", "2024-03-01T15:00:00"),
            access("juki", "J2", "R3", "2024-03-01T15:20:00", "PC-E2"),
        ]);
        let away = f.iter().find(|x| x.rule == "session_used_while_away").expect("two meetings away from 2F");
        assert_eq!((away.employees.as_slice(), away.evidence.as_slice()), (&["E1".to_owned(), "E2".to_owned()][..], &[5u64][..]));
    }

    #[test]
    fn an_owner_back_at_their_desk_or_locked_out_is_not_a_borrowed_session() {
        let f = run(&[
            badge("E1", "in", "2024-03-01T08:25:00"),
            badge("E2", "in", "2024-03-01T08:20:00"),
            windows("e2", "logon", "2024-03-01T08:30:00", "PC-E2"),
            badge("E2", "out", "2024-03-01T12:02:00"),
            badge("E2", "in", "2024-03-01T12:50:00"),
            access("juki", "J2", "R5", "2024-03-01T13:15:00", "PC-E2"),
            windows("e2", "lock", "2024-03-01T15:00:00", "PC-E2"),
            badge("E2", "out", "2024-03-01T15:01:00"),
            access("juki", "J2", "R5", "2024-03-01T15:10:00", "PC-E2"),
        ]);
        assert!(f.iter().all(|x| x.rule != "session_used_while_away"), "{f:?}");
    }

    #[test]
    fn s2_lock_policy_compliance_counts_leaving_a_session_locked_and_unlocked() {
        let master = office();
        let dir = mamori_enrich::Directory::new(&master);
        let mut d = crate::Detector::new(&dir);
        let events = [
            windows("e1", "logon", "2024-03-01T08:30:00", "PC-E1"),
            windows("e1", "lock", "2024-03-01T12:00:00", "PC-E1"),
            badge("E1", "out", "2024-03-01T12:02:00"),
            badge("E1", "in", "2024-03-01T12:50:00"),
            windows("e1", "unlock", "2024-03-01T12:52:00", "PC-E1"),
            badge("E1", "out", "2024-03-01T15:00:00"),
            windows("e1", "logoff", "2024-03-01T17:30:00", "PC-E1"),
            badge("E1", "out", "2024-03-01T17:32:00"),
        ];
        for (i, e) in events.iter().enumerate() {
            d.observe(i as u64, e);
        }
        let c: Vec<_> = d.lock_compliance().collect();
        assert_eq!(c, [(&("E1".to_owned(), "2024-03".to_owned()), &(1, 1))], "locked at lunch, not at 15:00; logged off in the evening");
    }
}
