//! Explanation-based auditing (after Fabbri & LeFevre, PVLDB 2011): a record access is
//! business when a path in master data links the resident to the member of staff who
//! looked them up — a counter visit at their section, a case they handle (or their team
//! works), a case number the access names, a sanctioned extract, a batch job, a namesake
//! of someone at the counter opened in a name search.
//!
//! Every template has a time window, and no window is open-ended: an unclosed case of a
//! kind that is normally closed explains only as long as such cases usually stay open.
//! The windows are the configured floors ([`ExplanationSettings`]) widened by what the
//! town's own access log shows ([`ExplanationModel`], learned by `mamori explain learn`),
//! never past the configured bounds.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use mamori_model::master::AccountKind;
use serde::{Deserialize, Serialize};

use crate::Directory;

/// Floors and bounds of the explanation windows, and how learning judges a template:
/// `[explanations]` of `detect.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExplanationSettings {
    /// Minutes before and after a counter visit that its section's look-ups are its
    /// business (floors), and the bound learning may widen them to.
    pub visit_before_minutes: u32,
    pub visit_after_minutes: u32,
    pub max_visit_minutes: u32,
    /// Days an unclosed case of a kind that is normally closed explains look-ups (floor),
    /// and the bound.
    pub open_case_days: u32,
    pub max_open_case_days: u32,
    /// Days after a case is closed that its handler's follow-ups are explained (floor),
    /// and the bound.
    pub case_tail_days: u32,
    pub max_case_tail_days: u32,
    /// Days after a record is registered that its section's follow-ups (of the
    /// activities below) are explained, once learning has seen the practice; the bound.
    pub max_follow_up_days: u32,
    /// Which follow-ups count: `update` (completing a new record). Reading colleagues' new
    /// records is what extraction looks like, so `read` is not listed by default.
    pub follow_up_activities: Vec<String>,
    /// Learn windows and team practices from the access log (`mamori explain learn`).
    pub learn: bool,
    /// Share of a template's excess over chance its learned window must cover.
    pub coverage: f64,
    /// Accesses above chance a template must explain to be kept.
    pub min_support: usize,
    /// The most of what a learned window explains that random look-ups would also hit: a
    /// window that explains chance as well as practice explains nothing.
    pub max_chance_share: f64,
    /// Distinct employees whose work must show a team or follow-up practice: one person's
    /// habit is not the section's practice.
    pub min_employees: usize,
    /// Record accesses sampled for learning (deterministically), at most.
    pub max_sample: usize,
    /// Minutes after a purpose is declared at the purpose-of-use gate that the same
    /// account's accesses to the same resident are explained by the declaration.
    pub declared_minutes: u32,
}

impl Default for ExplanationSettings {
    fn default() -> Self {
        ExplanationSettings {
            visit_before_minutes: 60,
            visit_after_minutes: 120,
            max_visit_minutes: 480,
            open_case_days: 0,
            max_open_case_days: 90,
            case_tail_days: 0,
            max_case_tail_days: 60,
            max_follow_up_days: 14,
            follow_up_activities: vec!["update".into()],
            learn: true,
            coverage: 0.95,
            min_support: 20,
            max_chance_share: 0.25,
            min_employees: 3,
            max_sample: 1_000_000,
            declared_minutes: 30,
        }
    }
}

/// Where a window came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The configured floor (nothing learned widened it).
    Floor,
    /// Declared by the town (`case_kinds.csv`).
    Declared,
    /// Learned from the access log.
    Learned,
}

/// How one kind of case explains look-ups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindWindow {
    /// A caseload open until closed: an unclosed case explains for as long as it is open.
    pub ongoing: bool,
    /// Days an unclosed (not ongoing) case explains after it was received.
    pub open_days: u32,
    /// Days after closing.
    pub tail_days: u32,
    /// The activities (OCSF ids; 0 for any) in which the handling section's colleagues
    /// work these cases too: a section that completes each other's records does not read
    /// them for each other.
    pub team: Vec<u8>,
    pub source: Source,
}

impl KindWindow {
    /// Whether colleagues of the handling section work these cases in `activity`.
    pub fn team_covers(&self, activity: u8) -> bool {
        self.team.iter().any(|a| *a == 0 || *a == activity)
    }
}

/// One template's standing, as mining measured it (`mamori explain stats`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateStat {
    /// `visit`, `case:<kind>`, `team-case:<kind>`, `follow-up`, `search-candidate`, …
    pub template: String,
    /// The window chosen, in `unit`s (minutes or days), and its floor and bound.
    pub window: i64,
    pub floor: i64,
    pub bound: i64,
    pub unit: String,
    /// Sampled accesses the template explains at its window, and sampled random
    /// look-ups (same staff and time, another resident) it would explain by chance.
    pub support: usize,
    pub chance: usize,
    /// Distinct employees among the supporting accesses.
    pub employees: usize,
    /// Share of all sampled accesses it explains.
    pub coverage: f64,
    pub kept: bool,
    pub source: Source,
}

/// The explanation windows in force: configured floors, declared kinds, and what was
/// learned. Stored in the journal so that every run and every report explains alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExplanationModel {
    pub visit_before_minutes: u32,
    pub visit_after_minutes: u32,
    /// Per case kind; kinds not listed use `default_kind`.
    pub kinds: BTreeMap<String, KindWindow>,
    pub default_kind: KindWindow,
    /// Days after registration that the registering section's follow-ups are explained
    /// (0: not a practice here), and which OCSF activity ids count.
    pub follow_up_days: u32,
    pub follow_up_activities: Vec<u8>,
    /// Whether namesakes of someone at the counter, opened in a name search, are explained.
    pub search_candidates: bool,
    /// Accesses sampled when learning, and what each template showed.
    pub sampled: usize,
    pub templates: Vec<TemplateStat>,
}

/// OCSF Datastore activity ids by name, for `follow_up_activities`.
pub fn activity_id(name: &str) -> Option<u8> {
    match name {
        "read" => Some(1),
        "update" => Some(2),
        "create" => Some(6),
        "delete" => Some(7),
        _ => None,
    }
}

impl ExplanationModel {
    /// The model with nothing learned: the floors, and the kinds the town declared.
    pub fn floors(settings: &ExplanationSettings, dir: &Directory) -> ExplanationModel {
        let default_kind = KindWindow { ongoing: false, open_days: settings.open_case_days, tail_days: settings.case_tail_days, team: Vec::new(), source: Source::Floor };
        let mut kinds = BTreeMap::new();
        for k in dir.case_kinds() {
            kinds.insert(
                k.kind.clone(),
                KindWindow {
                    ongoing: k.ongoing,
                    open_days: k.open_days.unwrap_or(settings.open_case_days).min(settings.max_open_case_days),
                    tail_days: k.tail_days.unwrap_or(settings.case_tail_days).min(settings.max_case_tail_days),
                    team: if k.team == Some(true) { vec![0] } else { Vec::new() },
                    source: Source::Declared,
                },
            );
        }
        ExplanationModel {
            visit_before_minutes: settings.visit_before_minutes,
            visit_after_minutes: settings.visit_after_minutes,
            kinds,
            default_kind,
            follow_up_days: 0,
            follow_up_activities: settings.follow_up_activities.iter().filter_map(|a| activity_id(a)).collect(),
            search_candidates: false,
            sampled: 0,
            templates: Vec::new(),
        }
    }

    pub fn kind(&self, kind: &str) -> &KindWindow {
        self.kinds.get(kind).unwrap_or(&self.default_kind)
    }
}

/// Why an access is legitimate, with the evidence. `direct` explanations are the
/// employee's own business (they handle the case, served the visit, named the case); the
/// others are their section's (a colleague's case in a team caseload, a visit served by a
/// colleague), which explain ordinary work but not an interest in one's own relatives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Explanation {
    /// A batch account's work (at a server, or a terminal master data does not list).
    Batch,
    /// A training account's work at a training terminal (研修室).
    Training,
    /// The access names a case that concerns the resident; `direct` when the employee
    /// handles it (or no one is recorded as handling it). Naming a colleague's case is
    /// their section's business, not one's own: it does not cover one's relatives.
    DeclaredCase { no: String, direct: bool },
    /// A counter visit of the resident (or household) at the employee's section.
    /// `member`: the household member whose visit it was, when not the resident's own.
    /// `handled`: another section's visit naming the employee as its handler (a contractor
    /// at the counter, night duty): not direct, but the employee's own work all the same.
    Visit { no: String, direct: bool, member: Option<String>, handled: bool },
    /// A case concerning the resident (or household) of the employee's section.
    /// `member`: the household member the case concerns, when not the resident.
    /// `handled`: as for a visit.
    Case { no: String, kind: String, direct: bool, member: Option<String>, handled: bool },
    /// A sanctioned extract of every record, handled by the employee.
    Extract(String),
    /// A namesake of someone at the section's counter, opened in a name search; direct when
    /// the employee served that visitor (or no one is recorded as serving).
    SearchCandidate { visit: String, direct: bool },
    /// A follow-up (an update) of a record the employee's section registered days ago.
    FollowUp { registered_by: String, days: i64 },
    /// A purpose declared at the purpose-of-use gate before the access: the purpose's
    /// code and the check's id.
    Declared { purpose: String, check: String },
}

/// Keeps the first of the section's explanations found, unless a later one is business
/// the employee handled themselves.
fn prefer_handled(indirect: &mut Option<Explanation>, e: Explanation) {
    if indirect.as_ref().is_none_or(|i| !i.handled() && e.handled()) {
        *indirect = Some(e);
    }
}

/// `/household:R2` when the business was a household member's.
fn household_suffix(member: &Option<String>) -> String {
    member.as_ref().map(|m| format!("/household:{m}")).unwrap_or_default()
}

impl Explanation {
    /// The stored form: `visit:V-1`, `case:R6-000123`, `team-case:F-000002`, …
    pub fn code(&self) -> String {
        match self {
            Explanation::Batch => "batch".into(),
            Explanation::Training => "training".into(),
            Explanation::DeclaredCase { no, direct: true } => format!("declared-case:{no}"),
            Explanation::DeclaredCase { no, direct: false } => format!("colleague-declared-case:{no}"),
            Explanation::Visit { no, direct: true, member, .. } => format!("visit:{no}{}", household_suffix(member)),
            Explanation::Visit { no, direct: false, member, .. } => format!("section-visit:{no}{}", household_suffix(member)),
            Explanation::Case { no, direct: true, member, .. } => format!("case:{no}{}", household_suffix(member)),
            Explanation::Case { no, direct: false, member, .. } => format!("team-case:{no}{}", household_suffix(member)),
            Explanation::Extract(no) => format!("extract:{no}"),
            Explanation::SearchCandidate { visit, direct: true } => format!("search-candidate:{visit}"),
            Explanation::SearchCandidate { visit, direct: false } => format!("section-search-candidate:{visit}"),
            Explanation::FollowUp { registered_by, days } => format!("follow-up:{registered_by}+{days}d"),
            Explanation::Declared { purpose, check } => format!("declared:{purpose}:{check}"),
        }
    }

    /// Whether the access was the employee's own business, not only their section's.
    pub fn direct(&self) -> bool {
        match self {
            Explanation::Batch | Explanation::Extract(_) | Explanation::Declared { .. } => true,
            Explanation::Visit { direct, .. } | Explanation::Case { direct, .. } | Explanation::SearchCandidate { direct, .. } | Explanation::DeclaredCase { direct, .. } => *direct,
            // Training is no one's own business with the records it opens: it covers no kin.
            Explanation::FollowUp { .. } | Explanation::Training => false,
        }
    }

    /// Whether the employee did this business themselves: their own (`direct`), or another
    /// section's naming them as its handler. What tells a contractor serving a newcomer at
    /// the counter from someone reading new records with no business of their own; it
    /// still covers no kin and no one on the watch-list.
    pub fn handled(&self) -> bool {
        self.direct() || matches!(self, Explanation::Visit { handled: true, .. } | Explanation::Case { handled: true, .. })
    }

    /// The household member whose visit or case it was, when it was not the resident's own.
    pub fn member(&self) -> Option<&str> {
        match self {
            Explanation::Visit { member, .. } | Explanation::Case { member, .. } => member.as_deref(),
            _ => None,
        }
    }

    /// The template that explained it (for statistics).
    pub fn template(&self) -> String {
        match self {
            Explanation::Batch => "batch".into(),
            Explanation::Training => "training".into(),
            Explanation::DeclaredCase { direct: true, .. } => "declared-case".into(),
            Explanation::DeclaredCase { direct: false, .. } => "colleague-declared-case".into(),
            Explanation::Visit { direct: true, .. } => "visit".into(),
            Explanation::Visit { direct: false, .. } => "section-visit".into(),
            Explanation::Case { kind, direct: true, .. } => format!("case:{kind}"),
            Explanation::Case { kind, direct: false, .. } => format!("team-case:{kind}"),
            Explanation::Extract(_) => "extract".into(),
            Explanation::SearchCandidate { .. } => "search-candidate".into(),
            Explanation::FollowUp { .. } => "follow-up".into(),
            Explanation::Declared { .. } => "declared".into(),
        }
    }

    /// Japanese text for reports: 来庁記録 V-1, 案件 R6-000123 …
    pub fn text_ja(&self) -> String {
        match self {
            Explanation::Batch => "一括処理（システム）".into(),
            Explanation::Training => "研修（研修用アカウント・研修用端末）".into(),
            Explanation::DeclaredCase { no, direct: true } => format!("受付番号 {no}"),
            Explanation::DeclaredCase { no, direct: false } => format!("受付番号 {no}（同僚の担当案件）"),
            Explanation::Visit { no, member: None, .. } => format!("来庁記録 {no}"),
            Explanation::Visit { no, member: Some(m), .. } => format!("来庁記録 {no}（世帯員 {m} の来庁）"),
            Explanation::Case { no, direct: true, member: None, .. } => format!("案件 {no}"),
            Explanation::Case { no, direct: true, member: Some(m), .. } => format!("案件 {no}（世帯員 {m} の案件）"),
            Explanation::Case { no, direct: false, member: None, .. } => format!("課内の案件 {no}"),
            Explanation::Case { no, direct: false, member: Some(m), .. } => format!("課内の案件 {no}（世帯員 {m} の案件）"),
            Explanation::Extract(no) => format!("承認済みの一括抽出 {no}"),
            Explanation::SearchCandidate { visit, direct: true } => format!("担当した来庁者 {visit} の氏名検索の候補"),
            Explanation::SearchCandidate { visit, direct: false } => format!("来庁者 {visit} の氏名検索の候補"),
            Explanation::FollowUp { registered_by, days } => format!("課内で登録された記録の事後処理（{registered_by}、{days}日後）"),
            Explanation::Declared { purpose, check } => format!("利用目的の申告（{purpose}、照会確認 {check}）"),
        }
    }
}

/// One record access to explain.
#[derive(Debug, Clone, Copy)]
pub struct Access<'a> {
    pub kind: AccountKind,
    /// The employee behind the access, when known.
    pub employee: Option<&'a str>,
    /// Their section on the day (or the shared account's).
    pub department: &'a str,
    pub resident: &'a str,
    /// The terminal it was made from (empty when the log names none).
    pub host: &'a str,
    /// Local time of the access.
    pub at: NaiveDateTime,
    /// A case number the access itself names.
    pub declared_case: Option<&'a str>,
    /// The OCSF activity (1 read, 2 update, 6 create …).
    pub activity: u8,
}

impl Directory {
    /// Why the access was business, if master data says so under `model`'s windows: the
    /// employee's own business first, then their section's.
    pub fn explain(&self, model: &ExplanationModel, a: &Access) -> Option<Explanation> {
        // An account of a kind that belongs on certain terminals explains itself there only:
        // elsewhere it is someone at a terminal under a name that is not theirs, judged by
        // the business behind what they opened like anyone's.
        if !self.account_misplaced(a.kind, a.host) {
            match a.kind {
                AccountKind::Batch => return Some(Explanation::Batch),
                AccountKind::Training => return Some(Explanation::Training),
                _ => {}
            }
        }
        let day = a.at.date();
        let people = self.with_household(a.resident, day);
        let mut indirect: Option<Explanation> = None;
        // Business is the section's (`Some(true)`), or, naming the employee as its handler,
        // theirs wherever it sits: under a second, concurrent posting there (兼務) as fully
        // as the section's own (`Some(true)`); on night duty for another section or as a
        // contractor working for it only as the section's business is, never covering kin
        // or the watch-list (`Some(false)`): a name on another section's record is not a
        // licence.
        let ours = |department: &str, handler: Option<&str>| -> Option<bool> {
            if department == a.department {
                return Some(true);
            }
            let employee = a.employee.filter(|e| handler == Some(*e))?;
            Some(self.posted_in(employee, department, day, day))
        };
        // A case the access names, if it concerns the resident; else, for someone who is
        // not a resident (`permit:火-R6-1` for permit 火-R6-1), the section's case that
        // their key numbers, whether or not the access names it. While it is open, it is
        // the employee's own business when they handle it, their section's when a
        // colleague does (the system writes the case's number on every screen of it,
        // whoever opens it).
        let named = a.declared_case.and_then(|no| people.iter().find_map(|p| self.cases_by_resident.get(*p)?.iter().copied().find(|&i| self.cases[i].no == no)));
        let own_key = || {
            let (_, key) = a.resident.split_once(':')?;
            a.declared_case.is_none_or(|no| no == key).then(|| self.cases.iter().position(|c| c.no == key && c.department == a.department))?
        };
        if let Some(i) = named.or_else(own_key).filter(|&i| self.case_open(model, i, day)) {
            let handler = self.cases[i].handler.as_deref();
            let direct = handler.is_none() || a.employee.is_none() || handler == a.employee;
            let e = Explanation::DeclaredCase { no: self.cases[i].no.clone(), direct };
            if direct {
                return Some(e);
            }
            indirect = Some(e);
        }
        for p in &people {
            for (t, no, dept, handler) in self.visits.get(*p).into_iter().flatten() {
                let minutes = (a.at - *t).num_minutes();
                let Some(own) = ours(dept, handler.as_deref()) else { continue };
                if minutes < -(model.visit_before_minutes as i64) || minutes > model.visit_after_minutes as i64 {
                    continue;
                }
                let direct = own && (handler.is_none() || a.employee.is_none() || handler.as_deref() == a.employee);
                let member = (*p != a.resident).then(|| (*p).to_owned());
                let handled = !own;
                let e = Explanation::Visit { no: no.clone(), direct, member, handled };
                if direct {
                    return Some(e);
                }
                prefer_handled(&mut indirect, e);
            }
        }
        for p in &people {
            for &i in self.cases_by_resident.get(*p).into_iter().flatten() {
                let c = &self.cases[i];
                let Some(own) = ours(&c.department, c.handler.as_deref()) else { continue };
                if !self.case_open(model, i, day) {
                    continue;
                }
                let direct = own && (c.handler.is_none() || a.employee.is_none() || c.handler.as_deref() == a.employee);
                let member = (*p != a.resident).then(|| (*p).to_owned());
                if direct {
                    return Some(Explanation::Case { no: c.no.clone(), kind: c.kind.clone(), direct, member, handled: false });
                }
                if !own || model.kind(&c.kind).team_covers(a.activity) {
                    prefer_handled(&mut indirect, Explanation::Case { no: c.no.clone(), kind: c.kind.clone(), direct, member, handled: !own });
                }
            }
        }
        // A sanctioned extract of every record explains its handler's look-ups.
        for &i in &self.everyone_cases {
            let c = &self.cases[i];
            let Some(own) = ours(&c.department, c.handler.as_deref()) else { continue };
            if (c.handler.is_none() || c.handler.as_deref() == a.employee) && self.case_open(model, i, day) {
                if own {
                    return Some(Explanation::Extract(c.no.clone()));
                }
                // Another section's extract the employee works on as its contractor: the
                // section's business, which covers no one's kin and no one on the watch-list.
                prefer_handled(&mut indirect, Explanation::Case { no: c.no.clone(), kind: c.kind.clone(), direct: false, member: None, handled: true });
            }
        }
        if indirect.is_some() {
            return indirect;
        }
        if model.search_candidates
            && let Some((visit, direct)) = self.namesake_visit(a.resident, a.department, a.employee, a.at, model)
        {
            return Some(Explanation::SearchCandidate { visit, direct });
        }
        None
    }

    /// Whether case `i` still explains look-ups on `day` under `model`: from its receipt to
    /// its closing (or, unclosed, for as long as cases of its kind stay open), plus the
    /// kind's tail.
    /// Whether case `no` concerns `resident` (or their household) on `day`: what a case
    /// number declared at the gate must do.
    pub fn case_concerns(&self, no: &str, resident: &str, day: NaiveDate) -> bool {
        self.with_household(resident, day).iter().any(|p| self.cases_by_resident.get(*p).is_some_and(|cs| cs.iter().any(|&i| self.cases[i].no == no)))
    }

    pub(crate) fn case_open(&self, model: &ExplanationModel, i: usize, day: NaiveDate) -> bool {
        let c = &self.cases[i];
        if day < c.received {
            return false;
        }
        let k = model.kind(&c.kind);
        let end = match c.closed {
            Some(closed) => closed,
            None if k.ongoing => return true,
            None => c.received + chrono::Days::new(k.open_days as u64),
        };
        day <= end + chrono::Days::new(k.tail_days as u64)
    }

    /// The visit number of someone at `department`'s counter within the visit window whose
    /// name (kanji or reading, folded) is the resident's: the resident is a namesake the
    /// clerk's name search offered. Direct when `employee` served the visitor (or no one
    /// is recorded as serving); a visit the employee served is preferred.
    pub(crate) fn namesake_visit(&self, resident: &str, department: &str, employee: Option<&str>, at: NaiveDateTime, model: &ExplanationModel) -> Option<(String, bool)> {
        let mut indirect = None;
        for key in self.name_keys(resident) {
            for other in self.by_name.get(&key).into_iter().flatten().filter(|o| o.as_str() != resident) {
                for (t, no, dept, handler) in self.visits.get(other.as_str()).into_iter().flatten() {
                    let minutes = (at - *t).num_minutes();
                    if minutes < -(model.visit_before_minutes as i64) || minutes > model.visit_after_minutes as i64 {
                        continue;
                    }
                    // The section's counter, or another section's whose visitor the employee
                    // served (a contractor at the counter): the latter as the section's
                    // business only, like the visit itself.
                    let served = employee.is_some() && handler.as_deref() == employee;
                    if dept == department && (handler.is_none() || employee.is_none() || served) {
                        return Some((no.clone(), true));
                    }
                    if dept == department || served {
                        indirect.get_or_insert_with(|| no.clone());
                    }
                }
            }
        }
        indirect.map(|no| (no, false))
    }
}
