//! S1 (Osaka, Ikuno): look-ups of people who are not strangers to the employee — their own
//! record, their household now or before, family-register relatives, people in their
//! building or next door, colleagues — with no business of the employee's own behind them.
//! Relations come from the whole history master data holds (`mamori-enrich`'s relation
//! graph) and each is named in the finding.
//!
//! Business of the employee's section only (a colleague's case in a team caseload, a visit
//! a colleague served, a namesake in a colleague's name search) does not explain an interest in one's
//! own relatives: offices pass such work to a colleague. It does explain a colleague's or a
//! neighbour's record. A look-up explained by the employee's own business is still a
//! conflict of interest: a finding of lower severity, not silence.
//!
//! Severity is set per relation; a relation of lower severity looked up without business on
//! `repeat_days` distinct days is raised to high (a habit, not a chance hit in a telephone
//! inquiry), and so are colleagues' own records once `repeat_colleagues` distinct ones of the
//! same section were looked up without business within `repeat_window_days` (a manager going through the
//! staff's records one at a time). Earlier look-ups stay as they were noted.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use mamori_enrich::RelationKind;
use mamori_model::{ClassUid, Severity};
use serde::{Deserialize, Serialize};

use super::{Analyzer, Registration, settings, state_field};
use crate::findings::{Findings, Note, Rule, Rollup};
use crate::observe::{Context, Observation};

pub const REGISTRATION: Registration = Registration { section: "relatives", build, rules: RULES };

const RULES: &[Rule] = &[
    Rule { id: "relative_lookup", ja: "本人・親族の記録の照会", en: "Look-up of one's own or a relative's record", incident: "S1", describe: relative },
    Rule { id: "neighbour_lookup", ja: "近隣住民の記録の照会", en: "Look-up of a neighbour's record", incident: "S1", describe: neighbour },
    Rule { id: "colleague_lookup", ja: "職員本人の記録の照会", en: "Look-up of a colleague's own record", incident: "S1", describe: colleague },
    Rule { id: "conflict_of_interest", ja: "利害関係者の記録の業務処理", en: "Business on a related person's record", incident: "S1", describe: conflict },
];

fn relative(r: &Rollup) -> (String, String) {
    (
        format!("職員 {} が、本人・同一世帯（過去を含む）・戸籍上の親族などの記録を、本人の業務（申請・来庁・担当案件）の記録なしに照会しました（{}）。", r.employee, r.details()),
        format!("Employee {} looked up records of themselves, their present or former household or their relatives with no business of their own behind them.", r.employee),
    )
}

fn neighbour(r: &Rollup) -> (String, String) {
    (
        format!("職員 {} が、同じ建物・隣家に住む住民の記録を業務上の根拠なしに照会しました（{}）。", r.employee, r.details()),
        format!("Employee {} looked up records of people in their building or next door with no business behind them.", r.employee),
    )
}

fn colleague(r: &Rollup) -> (String, String) {
    (
        format!("職員 {} が、他の職員本人の記録を業務上の根拠なしに照会しました（{}）。", r.employee, r.details()),
        format!("Employee {} looked up other staff members' own records with no business on file.", r.employee),
    )
}

fn conflict(r: &Rollup) -> (String, String) {
    (
        format!("職員 {} が、本人・親族・近隣・同僚の記録を自ら業務として処理しました。業務記録はありますが、利害関係者の案件は他の職員に回すのが原則です（{}）。", r.employee, r.details()),
        format!("Employee {} handled business on the records of themselves, relatives, neighbours or colleagues: explained, but such work should go to a colleague.", r.employee),
    )
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Settings {
    /// Severity of an unexplained look-up, by relation (`own`, `household`,
    /// `former_household`, `family`, `extended_family`, `distant_family`, `same_surname_nearby`,
    /// `same_building`, `neighbour`, `colleague_same_section`, `colleague`).
    severity: BTreeMap<String, Severity>,
    /// A resident looked up without business on this many distinct days raises the
    /// finding to high, whatever the relation.
    repeat_days: usize,
    /// This many distinct colleagues of the same section looked up without business within
    /// `repeat_window_days` raise each to high: a manager going through the staff's tax
    /// records one a day is a habit, though no one record is opened twice.
    repeat_colleagues: usize,
    repeat_window_days: i64,
    /// Colleagues of any section: `repeat_colleagues` or more looked up without business
    /// within the window are high when chance would bring that many this rarely — the
    /// Poisson tail of the count at the employee's own unexplained look-ups in the window
    /// times the share of residents who are staff. A busy counter clerk's unrecorded
    /// look-ups fall on a colleague now and then; a clerk going through the staff's tax
    /// records falls on them far more often than that.
    colleague_chance: f64,
    /// Severity of business done on a related record (kin / others).
    conflict_kin: Severity,
    conflict_other: Severity,
    /// Severity of business done on a close relative's record (household, family, two links
    /// in the register) that changes it (an update, an entry, a deletion): a caseworker
    /// deciding her brother's benefit, an assessor entering her mother's care level.
    /// Where the town's rules of recusal forbid deciding on kin, `high`. Medium by default:
    /// in many offices a clerk enters their own household's tax declaration as part of
    /// the day's work (the simulator's towns do), which no log tells from a decision on a
    /// brother's benefit. One's own record is never raised by it.
    conflict_kin_change: Severity,
}

impl Default for Settings {
    fn default() -> Self {
        let severity = RelationKind::ALL
            .iter()
            .map(|k| {
                // A shared surname nearby is kin more often than not, but not always (a third
                // of staff who live in town have an unrelated namesake household within a
                // block); a cousin in a village is one of many: once is a question, a habit
                // (`repeat_days`) is high.
                let s = match k {
                    RelationKind::DistantFamily | RelationKind::SameSurnameNearby | RelationKind::SameBuilding | RelationKind::Neighbour | RelationKind::ColleagueSameSection | RelationKind::Colleague => Severity::Medium,
                    _ => Severity::High,
                };
                (k.code().to_owned(), s)
            })
            .collect();
        Settings { severity, repeat_days: 2, repeat_colleagues: 3, repeat_window_days: 30, colleague_chance: 1e-3, conflict_kin: Severity::Medium, conflict_other: Severity::Low, conflict_kin_change: Severity::Medium }
    }
}

#[derive(Default, Serialize, Deserialize)]
struct State {
    /// Employee → resident → the days they looked the resident up without business.
    #[serde(with = "crate::pairs")]
    days: HashMap<(String, String), BTreeSet<NaiveDate>>,
    /// Employee → colleague's record → the last day they looked it up without business.
    #[serde(default)]
    colleagues: HashMap<String, BTreeMap<String, NaiveDate>>,
    /// The same for colleagues of any section.
    #[serde(default)]
    any_colleagues: HashMap<String, BTreeMap<String, NaiveDate>>,
    /// Employee → neighbour's or colleague's record → the days they read it under nothing
    /// but the section's business, within `repeat_window_days`.
    #[serde(default, with = "crate::pairs")]
    section_days: HashMap<(String, String), BTreeSet<NaiveDate>>,
    /// Employee → day → their record look-ups with no business on file, over the window.
    #[serde(default)]
    unexplained: HashMap<String, BTreeMap<NaiveDate, u32>>,
}

struct Relatives {
    settings: Settings,
    state: State,
}

fn build(v: toml::Value) -> Result<Box<dyn Analyzer>, String> {
    let mut s: Settings = settings(v)?;
    let defaults = Settings::default();
    for k in s.severity.keys() {
        if !defaults.severity.contains_key(k) {
            return Err(format!("severity: unknown relation `{k}`"));
        }
    }
    for (k, v) in defaults.severity {
        s.severity.entry(k).or_insert(v);
    }
    Ok(Box::new(Relatives { settings: s, state: State::default() }))
}

impl Analyzer for Relatives {
    fn classes(&self) -> &'static [ClassUid] {
        &[ClassUid::DatastoreActivity]
    }

    fn observe(&mut self, o: &Observation, cx: &Context, out: &mut Findings) {
        let (Some(employee), Some(access)) = (o.actor.employee.as_deref(), &o.access) else { return };
        let since = o.day - chrono::Duration::days(self.settings.repeat_window_days.max(1) - 1);
        if access.explanation.is_none() {
            let days = self.state.unexplained.entry(employee.to_owned()).or_default();
            *days.entry(o.day).or_default() += 1;
            days.retain(|d, _| *d >= since);
        }
        let Some(relation) = &access.relation else { return };
        let kind = relation.kind;
        let rule = match kind {
            RelationKind::SameBuilding | RelationKind::Neighbour => RULES[1].id,
            RelationKind::ColleagueSameSection | RelationKind::Colleague => RULES[2].id,
            _ => RULES[0].id,
        };
        let detail = format!("{}: {}", kind.ja(), relation.detail);
        match &access.explanation {
            Some(e) if e.direct() => {
                // One's own record updated in the day's workload (a tax clerk's own
                // assessment among hundreds) is routine; a close relative's decided by
                // oneself is what recusal is for.
                let change = crate::observe::changes_record(o.event.activity_id);
                let close_kin = kind > RelationKind::Own && kind <= RelationKind::ExtendedFamily;
                let severity = match (kind.is_kin(), change && close_kin) {
                    (true, true) => self.settings.conflict_kin_change,
                    (true, false) => self.settings.conflict_kin,
                    _ => self.settings.conflict_other,
                };
                out.note(Note::of(o, RULES[3].id, severity, employee).resident(&access.resident).detail(format!("{detail}（{}）", e.text_ja())));
            }
            // The section's business (a team caseload, a namesake in a colleague's name search) covers a
            // colleague's or a neighbour's record once; only kin it does not. Opened again on
            // `repeat_days` days under nothing but the section's business, it is a question
            // (at the relation's own severity, never raised higher): a neighbour's case in
            // the team's caseload is not a reason to keep reading it.
            Some(e) if !kind.is_kin() => {
                let days = self.state.section_days.entry((employee.to_owned(), access.resident.clone())).or_default();
                days.insert(o.day);
                days.retain(|d| *d >= since);
                if days.len() >= self.settings.repeat_days.max(2) {
                    let base = self.settings.severity.get(kind.code()).copied().unwrap_or(Severity::Medium).min(Severity::Medium);
                    out.note(Note::of(o, rule, base, employee).resident(&access.resident).detail(format!("{detail}（課内の業務のみ: {}）", e.text_ja())));
                }
            }
            explained => {
                let days = self.state.days.entry((employee.to_owned(), access.resident.clone())).or_default();
                days.insert(o.day);
                let repeated = days.len() >= self.settings.repeat_days.max(1);
                let mut many = false;
                if matches!(kind, RelationKind::ColleagueSameSection | RelationKind::Colleague) && explained.is_none() && self.settings.repeat_colleagues > 0 {
                    let count = |seen: &mut BTreeMap<String, NaiveDate>| {
                        seen.insert(access.resident.clone(), o.day);
                        seen.retain(|_, last| *last >= since);
                        seen.len()
                    };
                    // The section's own staff (a head of section and the staff) at the count
                    // alone; colleagues anywhere in a city of thousands of staff fall under a
                    // busy clerk's unexplained look-ups by chance, so those against chance.
                    if kind == RelationKind::ColleagueSameSection {
                        many |= count(self.state.colleagues.entry(employee.to_owned()).or_default()) >= self.settings.repeat_colleagues;
                    }
                    let anywhere = count(self.state.any_colleagues.entry(employee.to_owned()).or_default());
                    if anywhere >= self.settings.repeat_colleagues {
                        let looked_up: u32 = self.state.unexplained.get(employee).map_or(0, |d| d.values().sum());
                        // At least one colleague expected: a clerk whose few unexplained
                        // look-ups are all of staff (人事 checking a 扶養 declaration) is not
                        // going through them by chance, but by the job.
                        let expected = (f64::from(looked_up) * cx.dir.staff_share()).max(1.0);
                        many |= super::poisson_tail(expected, anywhere) <= self.settings.colleague_chance;
                    }
                }
                let base = self.settings.severity.get(kind.code()).copied().unwrap_or(Severity::High);
                let severity = if repeated || many { base.max(Severity::High) } else { base };
                let detail = match explained {
                    Some(e) => format!("{detail}（課内の業務のみ: {}）", e.text_ja()),
                    None => detail,
                };
                out.note(Note::of(o, rule, severity, employee).resident(&access.resident).detail(detail));
            }
        }
    }

    state_field!();
}

#[cfg(test)]
mod tests {
    use mamori_model::Severity;
    use serde_json::json;

    use crate::testing::*;

    #[test]
    fn s1_relatives_looked_up_without_business_are_flagged_with_every_look_up_as_evidence() {
        let f = run(&[
            access("juki", "J1", "R2", "2024-03-01T10:00:00", "PC-E1"), // spouse, same household
            access("juki", "J1", "R3", "2024-03-02T10:00:00", "PC-E1"), // parent, family register
            access("juki", "J1", "R1", "2024-03-03T10:00:00", "PC-E1"), // own record
        ]);
        assert_eq!(rules(&f), [("relative_lookup", "E1", 3)]);
        assert_eq!(f[0].residents, ["R1", "R2", "R3"]);
        assert!(f[0].explanation_ja.contains("同一世帯") && f[0].explanation_ja.contains("親族"), "{}", f[0].explanation_ja);
        assert!(f[0].explanation_ja.contains("3 日間・住民 3 人・記録 3 件"), "the finding counts days, people and events: {}", f[0].explanation_ja);
    }

    #[test]
    fn a_relative_served_by_the_employee_with_a_visit_on_file_is_a_conflict_of_interest_not_an_alarm() {
        // E1 serves their own spouse at the 福祉課 counter: explained, but such work goes to
        // a colleague.
        let f = run(&[access("juki", "J1", "R2", "2024-03-05T10:20:00", "PC-E1")]);
        assert_eq!(rules(&f), [("conflict_of_interest", "E1", 1)]);
        assert_eq!(f[0].severity, Severity::Medium);
        // Deciding on it, where the town's rules of recusal forbid it (`conflict_kin_change`):
        // E1 entering a change on the spouse's record under that same visit is high.
        let recusal = || toml_config("[relatives]\nconflict_kin_change = \"high\"\n");
        let mut entry = access("juki", "J1", "R2", "2024-03-05T10:25:00", "PC-E1");
        entry.activity_id = 2;
        let f = run_in(&office(), recusal(), std::slice::from_ref(&entry));
        assert_eq!((rules(&f), f[0].severity), (vec![("conflict_of_interest", "E1", 1)], Severity::High));
        assert_eq!(run(&[entry])[0].severity, Severity::Medium, "not by default");
        // E1's own record updated under the household's visit: routine, a question still.
        let mut own = access("juki", "J1", "R1", "2024-03-05T10:25:00", "PC-E1");
        own.activity_id = 2;
        let f = run_in(&office(), recusal(), &[own]);
        assert_eq!((rules(&f), f[0].severity), (vec![("conflict_of_interest", "E1", 1)], Severity::Medium));
    }

    #[test]
    fn a_relatives_visit_served_by_a_colleague_does_not_explain_ones_own_look_up() {
        let m = office_with(|v| v["counter_visits"][0]["handler"] = json!("E2"));
        let f = run_in(&m, crate::Config::default(), &[access("juki", "J1", "R2", "2024-03-05T10:20:00", "PC-E1")]);
        assert_eq!(rules(&f), [("relative_lookup", "E1", 1)]);
        assert!(f[0].explanation_ja.contains("課内の業務のみ"), "{}", f[0].explanation_ja);
    }

    /// E1's spouse R2 (佐藤 花) has a namesake R8 who comes to the 福祉課 counter, served by
    /// `handler`; E1 opens R2 in the minutes after, as a name search offers both.
    fn namesake_search(handler: &str) -> Vec<mamori_model::Finding> {
        let m = office_with(|v| {
            v["residents"].as_array_mut().unwrap().push(json!({"uid":"R8","name":"佐藤 花","birth_date":"1990-05-05"}));
            v["counter_visits"].as_array_mut().unwrap().push(json!({"visit_no":"V8","at":"2024-03-06T10:00:00","department":"D300","resident_uid":"R8","purpose":"相談","handler":handler}));
        });
        let dir = mamori_enrich::Directory::new(&m);
        let config = crate::Config::default();
        let model = mamori_enrich::ExplanationModel { search_candidates: true, ..mamori_enrich::ExplanationModel::floors(&config.explanations, &dir) };
        let mut d = crate::Detector::with_model(&dir, config, model);
        d.observe(0, &access("juki", "J1", "R2", "2024-03-06T10:05:00", "PC-E1"));
        d.findings()
    }

    #[test]
    fn kin_offered_by_a_name_search_for_ones_own_visitor_is_a_conflict_of_interest_not_an_alarm() {
        let f = namesake_search("E1");
        assert_eq!(rules(&f), [("conflict_of_interest", "E1", 1)]);
        assert_eq!(f[0].severity, Severity::Medium);
        assert!(f[0].explanation_ja.contains("担当した来庁者 V8 の氏名検索の候補"), "{}", f[0].explanation_ja);
    }

    #[test]
    fn kin_offered_by_a_name_search_for_a_colleagues_visitor_is_a_relative_look_up() {
        let f = namesake_search("E2");
        assert_eq!(rules(&f), [("relative_lookup", "E1", 1)]);
        assert!(f[0].explanation_ja.contains("課内の業務のみ: 来庁者 V8"), "{}", f[0].explanation_ja);
    }

    #[test]
    fn a_shared_common_surname_alone_is_not_a_relation() {
        // R5 is a 佐藤 like E1, at another address, with no family link.
        let f = run(&[access("juki", "J1", "R5", "2024-03-01T10:00:00", "PC-E1")]);
        assert!(f.iter().all(|x| x.rule != "relative_lookup"), "{f:?}");
    }

    #[test]
    fn s1_the_same_surname_on_the_next_block_is_a_relation_and_further_down_the_street_is_not() {
        let f = run(&[
            access("juki", "J1", "R6", "2024-03-01T10:00:00", "PC-E1"), // 佐藤, 一丁目2番: next block
            access("juki", "J1", "R7", "2024-03-01T10:05:00", "PC-E1"), // 佐藤, 一丁目9番
        ]);
        assert_eq!(rules(&f), [("relative_lookup", "E1", 1)]);
        assert_eq!(f[0].residents, ["R6"]);
        assert!(f[0].explanation_ja.contains("同姓・近隣"), "{}", f[0].explanation_ja);
    }

    /// Relations the day's household does not show: each shape found, and named.
    #[test]
    fn relations_over_time_the_register_and_the_street_are_found_and_named() {
        let m = office_with(|v| {
            let households = v["households"].as_array_mut().unwrap();
            // R20 lived with E1 until 2023 (a former spouse), then moved to 五丁目.
            households.push(json!({"resident_uid":"R20","household":"H1","relation":"妻","address":"一丁目1番1号","from":"2010-01-01","to":"2023-05-31"}));
            households.push(json!({"resident_uid":"R20","household":"H20","relation":"世帯主","address":"五丁目7番","from":"2023-06-01"}));
            // R25 moved in with R20 later (the former spouse's new partner).
            households.push(json!({"resident_uid":"R25","household":"H20","relation":"同居人","address":"五丁目7番","from":"2023-09-01"}));
            // R21 is E1's sibling, linked only in the register, living elsewhere; R22 lives with R21.
            households.push(json!({"resident_uid":"R21","household":"H21","relation":"世帯主","address":"四丁目1番","from":"2000-01-01"}));
            households.push(json!({"resident_uid":"R22","household":"H21","relation":"妻","address":"四丁目1番","from":"2000-01-01"}));
            // R23, another surname, next door (一丁目1番2号); R24 in E1's building (1番1号, room 2).
            households.push(json!({"resident_uid":"R23","household":"H23","relation":"世帯主","address":"一丁目1番2号","from":"2000-01-01"}));
            households.push(json!({"resident_uid":"R24","household":"H24","relation":"世帯主","address":"一丁目1-1 202","from":"2000-01-01"}));
            // R33 left E1's household H1 before E1 joined it (E1's partner's former spouse);
            // R34 lived with E1's wife R2 in the household she came from.
            households.push(json!({"resident_uid":"R33","household":"H1","relation":"夫","address":"一丁目1番1号","from":"1990-01-01","to":"1999-06-30"}));
            households.push(json!({"resident_uid":"R2","household":"H34","relation":"子","address":"七丁目","from":"1982-01-01","to":"1999-12-31"}));
            households.push(json!({"resident_uid":"R34","household":"H34","relation":"世帯主","address":"七丁目","from":"1970-01-01"}));
            households.push(json!({"resident_uid":"R32","household":"H32","relation":"世帯主","address":"八丁目","from":"2000-01-01"}));
            let links = v["family_links"].as_array_mut().unwrap();
            links.push(json!({"resident_a":"R21","resident_b":"R1","relation":"sibling"}));
            // R32 is E1's cousin: E1's parent R3, R3's sibling R31, R31's child R32.
            links.push(json!({"resident_a":"R31","resident_b":"R3","relation":"sibling"}));
            links.push(json!({"resident_a":"R32","resident_b":"R31","relation":"child"}));
            let residents = v["residents"].as_array_mut().unwrap();
            for (uid, name) in [("R20", "山田 元"), ("R21", "佐藤 姉"), ("R22", "鈴木 義"), ("R23", "田中 隣"), ("R24", "高橋 同"), ("R25", "伊藤 新"), ("R31", "佐藤 叔"), ("R32", "佐藤 従"), ("R33", "木村 前"), ("R34", "斎藤 母")] {
                residents.push(json!({"uid":uid,"name":name,"birth_date":"1980-01-01"}));
            }
        });
        let cases = [
            ("R20", "relative_lookup", "元同一世帯"),
            ("R25", "relative_lookup", "元世帯員 R20 の世帯"),
            ("R21", "relative_lookup", "親族(戸籍)"),
            ("R22", "relative_lookup", "親族(2親等・親族の世帯)"),
            ("R23", "neighbour_lookup", "隣家"),
            ("R24", "neighbour_lookup", "同一建物"),
            ("R32", "relative_lookup", "親族(戸籍で3・4段先)"),
            ("R33", "relative_lookup", "世帯 H1 の元世帯員"),
            ("R34", "relative_lookup", "世帯員 R2 の元世帯 H34"),
        ];
        for (resident, rule, named) in cases {
            let f = run_in(&m, crate::Config::default(), &[access("juki", "J1", resident, "2024-03-01T10:00:00", "PC-E1")]);
            assert_eq!(rules(&f), [(rule, "E1", 1)], "{resident}");
            assert!(f[0].explanation_ja.contains(named), "{resident}: {}", f[0].explanation_ja);
        }
        // A cousin is one of many in a village: a question once, like a namesake nearby; a
        // partner's former spouse is kin-close (S1's classic), high at once.
        let severity = |r: &str| run_in(&m, crate::Config::default(), &[access("juki", "J1", r, "2024-03-01T10:00:00", "PC-E1")])[0].severity;
        assert_eq!((severity("R32"), severity("R33"), severity("R34")), (Severity::Medium, Severity::High, Severity::High));
    }

    /// The family next door moved across town in February; E1 looks up where they went, on
    /// two days: a neighbour still, and a habit.
    #[test]
    fn a_neighbour_who_moved_away_is_still_a_neighbour() {
        let m = office_with(|v| {
            let h = v["households"].as_array_mut().unwrap();
            h.push(json!({"resident_uid":"R23","household":"H23","relation":"世帯主","address":"一丁目1番2号","from":"2000-01-01","to":"2024-02-05"}));
            h.push(json!({"resident_uid":"R23","household":"H23","relation":"世帯主","address":"中央1丁目30番7号","from":"2024-02-06"}));
            v["residents"].as_array_mut().unwrap().push(json!({"uid":"R23","name":"田中 隣","birth_date":"1980-01-01"}));
        });
        let f = run_in(&m, crate::Config::default(), &[access("juki", "J1", "R23", "2024-02-20T10:00:00", "PC-E1"), access("juki", "J1", "R23", "2024-03-08T10:00:00", "PC-E1")]);
        assert_eq!(rules(&f), [("neighbour_lookup", "E1", 2)]);
        assert_eq!(f[0].severity, Severity::High);
        assert!(f[0].explanation_ja.contains("元隣家") && f[0].explanation_ja.contains("2024-02-05"), "{}", f[0].explanation_ja);
    }

    #[test]
    fn a_neighbour_is_a_question_once_and_a_habit_on_two_days() {
        let m = office_with(|v| {
            v["households"].as_array_mut().unwrap().push(json!({"resident_uid":"R23","household":"H23","relation":"世帯主","address":"一丁目1番2号","from":"2000-01-01"}));
            v["residents"].as_array_mut().unwrap().push(json!({"uid":"R23","name":"田中 隣","birth_date":"1980-01-01"}));
        });
        let once = run_in(&m, crate::Config::default(), &[access("juki", "J1", "R23", "2024-03-01T10:00:00", "PC-E1")]);
        assert_eq!(once[0].severity, Severity::Medium);
        let twice = run_in(
            &m,
            crate::Config::default(),
            &[access("juki", "J1", "R23", "2024-03-01T10:00:00", "PC-E1"), access("juki", "J1", "R23", "2024-03-08T10:00:00", "PC-E1")],
        );
        assert_eq!((twice[0].severity, twice[0].days), (Severity::High, 2));
        let configured = run_in(&m, toml_config("[relatives]\nrepeat_days = 3\n"), &[
            access("juki", "J1", "R23", "2024-03-01T10:00:00", "PC-E1"),
            access("juki", "J1", "R23", "2024-03-08T10:00:00", "PC-E1"),
        ]);
        assert_eq!(configured[0].severity, Severity::Medium, "the repeat threshold comes from detect.toml");
    }

    /// A head of section opens a different subordinate's record every few days, none
    /// twice: the third of the section within a month makes it a habit (high); spread over
    /// more than the window, or colleagues of other sections, it stays a question each time.
    #[test]
    fn a_manager_going_through_several_colleagues_records_one_at_a_time_is_a_habit() {
        let staff = |department: &str| {
            office_with(|v| {
                for (i, e) in ["E5", "E6", "E7"].iter().enumerate() {
                    v["employees"].as_array_mut().unwrap().push(json!({"id":e,"name":"職員","hired":"2010-04-01","resident_uid":format!("R{}", 50 + i)}));
                    v["assignments"].as_array_mut().unwrap().push(json!({"employee_id":e,"department":department,"role":"staff","from":"2010-04-01"}));
                    v["residents"].as_array_mut().unwrap().push(json!({"uid":format!("R{}", 50 + i),"name":"職員","birth_date":"1980-01-01"}));
                }
            })
        };
        let at = |r: &str, day: &str| access("juki", "J1", r, &format!("{day}T10:00:00"), "PC-E1");
        let within = [at("R50", "2024-03-01"), at("R51", "2024-03-06"), at("R52", "2024-03-12")];
        let f = run_in(&staff("D300"), crate::Config::default(), &within);
        let colleague: Vec<_> = f.iter().filter(|f| f.rule == "colleague_lookup").collect();
        assert_eq!((colleague.len(), colleague[0].severity, colleague[0].residents.len()), (1, Severity::High, 3), "{f:?}");
        let apart = run_in(&staff("D300"), crate::Config::default(), &[at("R50", "2024-01-05"), at("R51", "2024-02-20"), at("R52", "2024-04-10")]);
        assert!(apart.iter().filter(|f| f.rule == "colleague_lookup").all(|f| f.severity == Severity::Medium), "{apart:?}");
        let elsewhere = run_in(&staff("D110"), crate::Config::default(), &within);
        assert!(elsewhere.iter().filter(|f| f.rule == "colleague_lookup").all(|f| f.severity == Severity::Medium), "{elsewhere:?}");
    }

    /// Colleagues of other sections, one each, in a town where staff are a small share of
    /// the residents: six in a month from a clerk who looks up few records without
    /// business is far more than chance brings — at least one expected (high); three are
    /// not (a 人事 clerk's checks of staff fall on staff by the job); from a clerk who looks
    /// up hundreds without business (unrecorded telephone inquiries) six are what chance
    /// brings (medium).
    #[test]
    fn colleagues_of_other_sections_are_high_when_chance_would_not_bring_so_many() {
        let town = office_with(|v| {
            for (i, (e, d)) in [("E5", "D110"), ("E6", "D400"), ("E7", "D500"), ("E8", "D800"), ("E9", "D100"), ("E10", "D110")].iter().enumerate() {
                v["employees"].as_array_mut().unwrap().push(json!({"id":e,"name":"職員","hired":"2010-04-01","resident_uid":format!("R{}", 50 + i)}));
                v["assignments"].as_array_mut().unwrap().push(json!({"employee_id":e,"department":d,"role":"staff","from":"2010-04-01"}));
                v["residents"].as_array_mut().unwrap().push(json!({"uid":format!("R{}", 50 + i),"name":"職員","birth_date":"1980-01-01"}));
            }
            for i in 0..300 {
                v["residents"].as_array_mut().unwrap().push(json!({"uid":format!("R{}", 1000 + i),"name":"住民","birth_date":"1970-01-01"}));
            }
        });
        let at = |r: &str, when: &str| access("juki", "J1", r, when, "PC-E1");
        let colleagues: Vec<_> = (0..6).map(|i| at(&format!("R{}", 50 + i), &format!("2024-03-{:02}T10:00:00", 1 + i * 4))).collect();
        let severity = |f: &[mamori_model::Finding]| f.iter().filter(|f| f.rule == "colleague_lookup").map(|f| f.severity).max();
        assert_eq!(severity(&run_in(&town, crate::Config::default(), &colleagues)), Some(Severity::High));
        assert_eq!(severity(&run_in(&town, crate::Config::default(), &colleagues[..3])), Some(Severity::Medium));
        let mut busy: Vec<_> = (0..300).map(|i| at(&format!("R{}", 1000 + i), &format!("2024-03-{:02}T{:02}:{:02}:00", 1 + i % 20, 11 + (i / 20) % 5, i % 60))).collect();
        busy.extend(colleagues);
        busy.sort_by_key(|e| e.time);
        assert_eq!(severity(&run_in(&town, crate::Config::default(), &busy)), Some(Severity::Medium));
    }

    #[test]
    fn a_colleagues_own_record_looked_up_without_business_is_a_question_for_the_manager() {
        let f = run(&[access("juki", "J2", "R1", "2024-03-01T10:00:00", "PC-E2")]);
        assert_eq!(rules(&f), [("colleague_lookup", "E2", 1)]);
        assert_eq!(f[0].severity, Severity::Medium);
        assert!(f[0].explanation_ja.contains("同じ課の職員 E1"), "{}", f[0].explanation_ja);
    }

    #[test]
    fn a_colleague_met_in_the_sections_business_is_not_a_finding_until_it_is_a_habit_but_a_relative_is() {
        // R5 is on E2's caseload (an ongoing case); with team caseloads declared, E1's look-up
        // of R5 is the section's business. Were R5 a colleague's own record it would be
        // explained; were R5 E1's relative it would not.
        let team = |extra: serde_json::Value| {
            office_with(|v| {
                v["case_kinds"][0]["team"] = json!("yes");
                v["employees"].as_array_mut().unwrap().push(extra);
                v["assignments"].as_array_mut().unwrap().push(json!({"employee_id":"E9","department":"D300","role":"staff","from":"2010-04-01"}));
            })
        };
        let colleague = team(json!({"id":"E9","name":"他 職員","hired":"2010-04-01","resident_uid":"R5"}));
        assert!(run_in(&colleague, crate::Config::default(), &[access("juki", "J1", "R5", "2024-03-01T10:00:00", "PC-E1")]).is_empty());
        // Read again and again under nothing but the team's caseload: a question, no more.
        let again = run_in(&colleague, crate::Config::default(), &[access("juki", "J1", "R5", "2024-03-01T10:00:00", "PC-E1"), access("juki", "J1", "R5", "2024-03-08T10:00:00", "PC-E1")]);
        assert_eq!(rules(&again), [("colleague_lookup", "E1", 1)]);
        assert_eq!(again[0].severity, Severity::Medium);
        assert!(again[0].explanation_ja.contains("課内の業務のみ"), "{}", again[0].explanation_ja);
        let kin = office_with(|v| {
            v["case_kinds"][0]["team"] = json!("yes");
            v["family_links"].as_array_mut().unwrap().push(json!({"resident_a":"R1","resident_b":"R5","relation":"sibling"}));
        });
        let f = run_in(&kin, crate::Config::default(), &[access("juki", "J1", "R5", "2024-03-01T10:00:00", "PC-E1")]);
        assert_eq!(rules(&f), [("relative_lookup", "E1", 1)]);
    }

    #[test]
    fn an_unknown_relation_in_the_settings_is_refused_by_name() {
        let e = crate::Config::from_toml("[relatives]\nseverity = { cousin = \"high\" }\n").unwrap_err();
        assert!(e.contains("cousin"), "{e}");
    }
}
