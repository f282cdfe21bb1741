//! What every analyzer is given: the event, its local time, the terminal, the person it
//! is charged to (by the session truth), and for a record access the business that
//! explains it and how the resident is related to that person. Worked out once per event
//! by the [`Resolver`], which also keeps the state that several analyzers and the
//! explanations share: sessions and badges ([`Presence`]) and who registered each record.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use mamori_enrich::{Directory, Explanation, Relation, fold_host};
use mamori_model::master::AccountKind;
use mamori_model::{ClassUid, Event, StatusId};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::presence::Presence;

/// How the person an event is charged to was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// The account is theirs.
    Holder,
    /// A shared, administrator or unknown account, used in their Windows session on the
    /// terminal (the session's account is given).
    Session(String),
    /// A shared, administrator or unknown account on a terminal whose room only they were
    /// badged into.
    Room(String),
    /// `owner`'s own account, used (on their unlocked session, or a terminal with no
    /// session known) while they were badged out; `candidates` were badged into the room.
    Away { owner: String, candidates: Vec<String> },
    /// A shared, administrator or unknown account on a terminal with no session known and
    /// several people in its room (`candidates`): no one can be named — unless the record
    /// looked up, with no business behind it, is kin to just one of them.
    Crowd { room: String, candidates: Vec<String> },
    /// No one can be named.
    Nobody,
}

/// Who is behind an event.
#[derive(Debug, Clone)]
pub struct Actor {
    pub account: String,
    /// The account system the account was looked up in.
    pub system: String,
    /// The account's kind as master data has it; `None` for an account it does not know.
    pub kind: Option<AccountKind>,
    /// The employee the account belongs to.
    pub holder: Option<String>,
    /// The employee the event is charged to: the holder, or the person present.
    pub employee: Option<String>,
    /// Their department on the day (or a shared account's own department).
    pub department: String,
    pub via: Via,
    /// A batch or training account at a terminal not of its kind (`Directory::account_misplaced`):
    /// a person at the keyboard, not the job or the lesson the account is for.
    pub misplaced: bool,
}

impl Actor {
    /// Whether the event is charged to a person through their own personal account.
    pub fn personal(&self) -> bool {
        self.kind == Some(AccountKind::Personal) && self.via == Via::Holder && self.employee.is_some()
    }

    /// Whether the event is a batch job's, run where batch jobs run: charged to no one.
    pub fn batch_job(&self) -> bool {
        self.kind == Some(AccountKind::Batch) && !self.misplaced
    }
}

/// What detection knows about one record access.
#[derive(Debug, Clone)]
pub struct RecordAccess {
    /// The subject's key: a 宛名番号, or another key for people who are not residents.
    pub resident: String,
    pub explanation: Option<Explanation>,
    /// How the resident is related to the employee charged.
    pub relation: Option<Relation>,
    /// When, and by whom, the record was registered, if detection saw it.
    pub registered: Option<Registration>,
    /// A new member of the subject's household just registered (a newborn, a death in the
    /// family): who, when and by whom.
    pub household_registered: Option<(String, Registration)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Registration {
    pub time: i64,
    pub by: Option<String>,
    pub department: String,
}

/// One event, as every analyzer sees it.
#[derive(Debug)]
pub struct Observation<'e> {
    pub seq: u64,
    pub event: &'e Event,
    pub time: i64,
    /// The organisation's local time.
    pub at: NaiveDateTime,
    pub day: NaiveDate,
    /// The terminal, folded (`PC-0001`); empty when the event names none.
    pub host: String,
    pub actor: Actor,
    pub access: Option<RecordAccess>,
}

impl Observation<'_> {
    pub fn class(&self) -> ClassUid {
        self.event.class_uid
    }

    /// The operation as the source names it (`logon`, `in`, `agent-start` …).
    pub fn operation(&self) -> &str {
        self.event.unmapped.operation.as_deref().unwrap_or("")
    }

    /// A value the source adapter kept under `unmapped`.
    pub fn extra(&self, key: &str) -> Option<&serde_json::Value> {
        self.event.unmapped.extra.get(key)
    }

    pub fn resident(&self) -> &str {
        self.access.as_ref().map_or("", |a| a.resident.as_str())
    }
}

/// What the analyzers may read besides the observation.
pub struct Context<'a> {
    pub dir: &'a Directory,
    pub presence: &'a Presence,
    pub config: &'a Config,
    /// Web categories: the shipped list and the town's own.
    pub web: &'a mamori_enrich::WebCategories,
}

/// OCSF Datastore Activity `activity_id` 6: Create (a record registered).
pub const CREATE: u8 = 6;

/// Whether a record access's OCSF activity changes the record (update, write, create,
/// delete) rather than reading it.
pub fn changes_record(activity: u8) -> bool {
    matches!(activity, 2 | 5 | 6 | 7)
}

/// The shared state behind observations: sessions and badges, and registrations.
#[derive(Default, Serialize, Deserialize)]
pub struct ResolverState {
    pub presence: Presence,
    /// (system, subject) → its registration.
    #[serde(with = "crate::pairs")]
    pub registered: HashMap<(String, String), Registration>,
    /// (system, subject) → the household member newly registered, and that registration.
    #[serde(with = "crate::pairs", default)]
    pub household_registered: HashMap<(String, String), (String, Registration)>,
}

/// Works out observations in time order.
pub struct Resolver<'a> {
    pub dir: &'a Directory,
    pub config: &'a Config,
    pub s: ResolverState,
}

impl<'a> Resolver<'a> {
    /// Updates the session truth with `event` and says who is behind it. The explanation
    /// and relation of a record access are left to the caller, which holds the model.
    pub fn observe<'e>(&mut self, seq: u64, event: &'e Event) -> Observation<'e> {
        let at = self.config.local(event.time);
        let day = at.date();
        let host = event.device.as_ref().and_then(|d| d.hostname.as_deref()).map(fold_host).unwrap_or_default();
        let system = mamori_enrich::event_account_system(event).to_owned();
        let account = event.actor.user.uid.clone();
        let mut actor = match &event.actor.user.employee_uid {
            Some(e) => Actor { account, system, kind: Some(AccountKind::Personal), holder: Some(e.clone()), employee: Some(e.clone()), department: String::new(), via: Via::Holder, misplaced: false },
            None => {
                let found = self.dir.account(&system, &account, day);
                let holder = found.and_then(|f| f.0.map(str::to_owned));
                let kind = found.map(|f| f.1);
                let misplaced = kind.is_some_and(|k| self.dir.account_misplaced(k, &host));
                Actor { account, system, kind, holder: holder.clone(), employee: holder, department: String::new(), via: Via::Holder, misplaced }
            }
        };
        if event.class_uid == ClassUid::Authentication {
            self.session_truth(event, &actor, &host, at);
        }
        // A shared, administrator, training or unknown account is charged to whoever was at
        // the terminal; a batch account to no one, unless it is used at a terminal where no
        // batch runs.
        if actor.kind != Some(AccountKind::Personal) && !actor.batch_job() && !host.is_empty() && !is_logon(event) {
            actor.via = self.present_at(&host, &[]);
            actor.employee = match &actor.via {
                Via::Session(_) => self.s.presence.session(&host).and_then(|s| s.employee.clone()),
                Via::Room(_) => self.in_terminal_room(&host, &[]).into_iter().next(),
                _ => None,
            };
        } else if let (Some(owner), Some(AccountKind::Personal)) = (actor.holder.clone(), actor.kind)
            // Record look-ups are made by hand; file and mail traffic under one's account
            // goes on unattended (synchronisation, scheduled jobs) while one is out.
            && event.class_uid == ClassUid::DatastoreActivity
            && !host.is_empty()
            && self.s.presence.is_away(&owner, self.dir.terminal_location(&host), &host, event.time)
            && self.s.presence.session(&host).is_none_or(|s| s.employee.as_deref() == Some(owner.as_str()) && !s.locked)
        {
            // The owner's own account at work while the owner is badged out: someone in
            // the room is using their session.
            let candidates = self.in_terminal_room(&host, &[owner.as_str()]);
            if !candidates.is_empty() {
                actor.employee = (candidates.len() == 1).then(|| candidates[0].clone()).or(Some(owner.clone()));
                actor.via = Via::Away { owner, candidates };
            }
        }
        actor.department = match actor.employee.as_deref().and_then(|e| self.dir.posting(e, day)) {
            Some((dept, _)) => dept.to_owned(),
            None => self.dir.account_department(&actor.system, &actor.account, day).or_else(|| self.dir.terminal_department(&host)).unwrap_or("").to_owned(),
        };
        let access = (event.class_uid == ClassUid::DatastoreActivity).then(|| {
            let resident = event.resident_uid().unwrap_or_default().to_owned();
            let registered = self.s.registered.get(&(actor.system.clone(), resident.clone())).cloned();
            let household_registered = self.s.household_registered.get(&(actor.system.clone(), resident.clone())).cloned();
            if event.activity_id == CREATE && !resident.is_empty() {
                let r = Registration { time: event.time, by: actor.employee.clone(), department: actor.department.clone() };
                for member in self.dir.household_members(&resident, day) {
                    self.s.household_registered.insert((actor.system.clone(), member.to_owned()), (resident.clone(), r.clone()));
                }
                self.s.registered.insert((actor.system.clone(), resident.clone()), r);
            }
            RecordAccess { resident, explanation: None, relation: None, registered, household_registered }
        });
        Observation { seq, event, time: event.time, at, day, host, actor, access }
    }

    fn session_truth(&mut self, event: &Event, actor: &Actor, host: &str, at: NaiveDateTime) {
        let op = event.unmapped.operation.as_deref().unwrap_or("");
        if let Some(room) = event.unmapped.extra.get("room").and_then(|r| r.as_str()) {
            if let Some(e) = &actor.employee {
                self.s.presence.badge(e, op == "in", room, event.time, at.format("%Y-%m").to_string());
            }
            return;
        }
        if host.is_empty() {
            return;
        }
        // A network, batch or service logon (Windows logon types 3, 4, 5, 8, 9: a share
        // opened from elsewhere, a scheduled task) puts no one at the keyboard: the session
        // of whoever sits there goes on.
        // Windows writes the type as a number; a CSV export as text.
        let logon_type = event.unmapped.extra.get("logon_type").and_then(|t| t.as_u64().or_else(|| t.as_str().and_then(|s| s.trim().parse().ok())));
        if logon_type.is_some_and(|t| matches!(t, 3 | 4 | 5 | 8 | 9)) {
            return;
        }
        match op {
            "logon" if event.status_id == StatusId::Success => {
                self.s.presence.logon(host, &actor.account, actor.holder.clone(), actor.kind.unwrap_or(AccountKind::Shared), event.time);
            }
            "logoff" => self.s.presence.logoff(host, &actor.account),
            "lock" | "unlock" => self.s.presence.lock(host, op == "lock", event.time),
            _ => {}
        }
    }

    /// Who was at `host`: the holder of its unlocked personal session, else the one
    /// person badged into its room.
    fn present_at(&self, host: &str, except: &[&str]) -> Via {
        if let Some(s) = self.s.presence.session(host)
            && !s.locked
            && let Some(e) = &s.employee
            && !except.contains(&e.as_str())
        {
            return Via::Session(s.account.clone());
        }
        let room = self.dir.terminal_location(host).unwrap_or("");
        let present = self.in_terminal_room(host, except);
        match present.len() {
            0 => Via::Nobody,
            1 => Via::Room(room.to_owned()),
            _ => Via::Crowd { room: room.to_owned(), candidates: present },
        }
    }

    fn in_terminal_room(&self, host: &str, except: &[&str]) -> Vec<String> {
        match self.dir.terminal_location(host) {
            Some(room) => self.s.presence.in_room(room, except),
            None => Vec::new(),
        }
    }
}

fn is_logon(event: &Event) -> bool {
    event.class_uid == ClassUid::Authentication
}
