//! Session truth: who was at a terminal. Windows sessions per terminal (logon, lock,
//! unlock, logoff) and badge presence per employee (in or out, and which room) are kept
//! as events arrive, so that every later event can be charged to the person who was there:
//! a shared or administrator account to whoever holds the terminal's session or stands
//! alone in its room, and an employee's own account, used while they are badged out or into
//! another room, to the people who were in the terminal's room.
//!
//! State is keyed by terminal (sessions) and by employee (badges).

use std::collections::{BTreeMap, HashMap};

use mamori_model::master::AccountKind;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Session {
    pub account: String,
    /// The employee behind the session's account (none for a shared account).
    pub employee: Option<String>,
    pub shared: bool,
    pub locked: bool,
    pub since: i64,
    /// When its holder last logged on or unlocked it: at the keyboard then, whatever the
    /// badge readers saw before.
    #[serde(default)]
    pub at_keyboard: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Badge {
    pub inside: bool,
    /// The room they last badged into, while inside.
    pub room: Option<String>,
    pub at: i64,
    /// The rooms they left (for outside or for another room) in the last `AWAY_HOURS`, each
    /// with when they last left it, oldest first: 2F → a meeting room → 4F leaves them
    /// away from 2F as much as from the meeting room.
    #[serde(default)]
    pub left: Vec<(String, i64)>,
    /// The one room a state saved before `left` remembered, folded into `left` at the next
    /// badge passing.
    #[serde(default, skip_serializing)]
    was_in: Option<String>,
    #[serde(default, skip_serializing)]
    left_at: i64,
}

/// The most rooms one person is remembered to have left in a day (a runner between
/// buildings): the oldest is forgotten first.
const ROOMS_REMEMBERED: usize = 8;

/// How long after leaving a terminal's room for another one its user counts as away from
/// it: a working day. A day later it is where they work now.
const AWAY_HOURS: i64 = 12;

#[derive(Default, Serialize, Deserialize)]
pub struct Presence {
    /// Host (folded) → its Windows session.
    sessions: HashMap<String, Session>,
    /// Host → the session another account's logon put aside (an administrator signing in
    /// at a staff PC, a colleague switching user): it resumes when that account logs off.
    #[serde(default)]
    put_aside: HashMap<String, Session>,
    /// Employee → badge state.
    badges: HashMap<String, Badge>,
    /// Host → the employee who last logged on there (a terminal's usual user).
    last_user: HashMap<String, String>,
    /// (employee, month `YYYY-MM`) → times they badged out leaving a Windows session
    /// (locked, unlocked): the lock policy as practised.
    #[serde(with = "crate::pairs")]
    lock_compliance: BTreeMap<(String, String), (u32, u32)>,
}

impl Presence {
    /// A badge passing: in or out of `room`.
    pub fn badge(&mut self, employee: &str, inside: bool, room: &str, time: i64, month: String) {
        if !inside {
            // Leaving with a session open: was it locked?
            for s in self.sessions.values().filter(|s| s.employee.as_deref() == Some(employee)) {
                let c = self.lock_compliance.entry((employee.to_owned(), month.clone())).or_default();
                if s.locked {
                    c.0 += 1;
                } else {
                    c.1 += 1;
                }
            }
        }
        let mut left = match self.badges.remove(employee) {
            Some(b) => {
                let mut left = b.left;
                if let Some(was) = b.was_in {
                    left.push((was, b.left_at));
                }
                if b.inside
                    && let Some(was) = b.room
                    && (!inside || was != room)
                {
                    left.retain(|(r, _)| *r != was);
                    left.push((was, time));
                }
                left
            }
            None => Vec::new(),
        };
        left.retain(|(_, at)| time - at < AWAY_HOURS * 3_600_000);
        if left.len() > ROOMS_REMEMBERED {
            left.drain(..left.len() - ROOMS_REMEMBERED);
        }
        self.badges.insert(employee.to_owned(), Badge { inside, room: inside.then(|| room.to_owned()), at: time, left, was_in: None, left_at: 0 });
    }

    pub fn logon(&mut self, host: &str, account: &str, employee: Option<String>, kind: AccountKind, time: i64) {
        if let Some(e) = &employee {
            self.last_user.insert(host.to_owned(), e.clone());
        }
        let shared = kind != AccountKind::Personal;
        let new = Session { account: account.to_owned(), employee, shared, locked: false, since: time, at_keyboard: time };
        if let Some(old) = self.sessions.insert(host.to_owned(), new)
            && !old.account.eq_ignore_ascii_case(account)
        {
            self.put_aside.insert(host.to_owned(), old);
        }
    }

    /// `account` logs off `host`: its session ends, and one it put aside resumes.
    pub fn logoff(&mut self, host: &str, account: &str) {
        match self.sessions.get(host) {
            Some(s) if !s.account.eq_ignore_ascii_case(account) => {
                // The session put aside ends (it was the other one).
                if self.put_aside.get(host).is_some_and(|p| p.account.eq_ignore_ascii_case(account)) {
                    self.put_aside.remove(host);
                }
            }
            _ => {
                self.sessions.remove(host);
                if let Some(resumed) = self.put_aside.remove(host) {
                    self.sessions.insert(host.to_owned(), resumed);
                }
            }
        }
    }

    pub fn lock(&mut self, host: &str, locked: bool, time: i64) {
        if let Some(s) = self.sessions.get_mut(host) {
            s.locked = locked;
            if !locked {
                s.at_keyboard = time;
            }
        }
    }

    pub fn session(&self, host: &str) -> Option<&Session> {
        self.sessions.get(host)
    }

    /// The employee who last logged on at `host`.
    pub fn last_user(&self, host: &str) -> Option<&str> {
        self.last_user.get(host).map(String::as_str)
    }

    /// Whether the badge system puts `employee` away from `room` (a terminal's room) at
    /// `now`: out, or gone from that room into another within the last `AWAY_HOURS` (a
    /// meeting room, another floor). Unknown is not away. Nor is someone who works all day
    /// in another room than the asset register puts their terminal in (a register that
    /// lags a move): they were not in the terminal's room before. Nor is someone who
    /// logged on or unlocked `host` since their last badge passing: back at the keyboard
    /// without badging in (a door held open).
    pub fn is_away(&self, employee: &str, room: Option<&str>, host: &str, now: i64) -> bool {
        let back = |b: &Badge| self.sessions.get(host).is_some_and(|s| s.employee.as_deref() == Some(employee) && s.at_keyboard > b.at);
        self.badges.get(employee).is_some_and(|b| {
            !back(b) && (!b.inside || room.is_some_and(|r| b.room.as_deref() != Some(r) && b.left.iter().map(|(was, at)| (was, *at)).chain(b.was_in.as_ref().map(|w| (w, b.left_at))).any(|(was, at)| was == r && now - at < AWAY_HOURS * 3_600_000)))
        })
    }

    /// Everyone badged into `room`, but `except`, sorted.
    pub fn in_room(&self, room: &str, except: &[&str]) -> Vec<String> {
        let mut v: Vec<String> =
            self.badges.iter().filter(|(e, b)| b.room.as_deref() == Some(room) && !except.contains(&e.as_str())).map(|(e, _)| e.clone()).collect();
        v.sort();
        v
    }

    /// The other terminals `employee` holds a session on, sorted.
    pub fn elsewhere(&self, employee: &str, host: &str) -> Vec<String> {
        let mut v: Vec<String> = self.sessions.iter().filter(|(h, s)| s.employee.as_deref() == Some(employee) && h.as_str() != host).map(|(h, _)| h.clone()).collect();
        v.sort();
        v
    }

    /// How often each employee left a session locked and unlocked, per month.
    pub fn lock_compliance(&self) -> impl Iterator<Item = (&(String, String), &(u32, u32))> {
        self.lock_compliance.iter()
    }
}
