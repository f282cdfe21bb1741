//! The town: residents in households at addresses, the office's departments and staff
//! with their postings, accounts, terminals, shares and the watch-list. Everything is
//! drawn from one seeded generator, in a fixed order, so a seed always gives the same town.

use chrono::{Datelike, NaiveDate};
use mamori_model::master::*;
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::names::{DISTRICTS, FIRST_PARTS, GIVEN, SECOND_PARTS, SURNAMES, TAIL, VARIANTS};

pub struct Person {
    pub uid: String,
    pub name: String,
    pub kana: String,
    pub surname: String,
    pub birth: NaiveDate,
    pub household: usize,
    pub relation: &'static str,
}

pub struct Household {
    pub id: String,
    pub address: String,
    pub members: Vec<usize>,
}

/// Departments: (code, name, share of staff in percent, room).
pub const DEPARTMENTS: &[(&str, &str, u32, &str)] = &[
    ("D100", "市民課", 17, "本庁舎1F市民課"),
    ("D110", "戸籍係", 6, "本庁舎1F市民課"),
    ("D200", "税務課", 15, "本庁舎2F税務課"),
    ("D300", "福祉課", 15, "本庁舎2F福祉課"),
    ("D310", "保健課", 7, "保健センター"),
    ("D400", "人事課", 4, "本庁舎3F人事課"),
    ("D500", "総務課", 8, "本庁舎3F総務課"),
    ("D600", "教育委員会", 12, "分庁舎教育委員会"),
    ("D700", "斎場", 3, "斎場事務室"),
    ("D800", "情報政策課", 5, "本庁舎4F情報政策課"),
    ("D900", "市長公室", 8, "本庁舎4F市長公室"),
];

pub struct Staff {
    pub id: String,
    pub number: u32,
    pub name: String,
    pub kana: String,
    pub resident: Option<usize>,
    pub dept: usize,
    pub role: &'static str,
    /// Department after the 1 April transfer, if transferred in the period.
    pub transfer: Option<usize>,
    pub retires: bool,
    pub pc: String,
}

pub struct Town {
    pub people: Vec<Person>,
    pub households: Vec<Household>,
    pub family: Vec<FamilyLink>,
    pub staff: Vec<Staff>,
    pub mayor: usize,
    pub council: Vec<usize>,
    pub counters: Vec<String>,
    /// The first 1 April in the simulated period, when postings change.
    pub april: Option<NaiveDate>,
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid date")
}

/// Ranked names hold their share (per mille); 50 real tail names 3 per mille each; the
/// rest is spread over composed names at about 1.2 per mille each.
fn surname(rng: &mut ChaCha8Rng) -> (String, String) {
    let ranked: u32 = SURNAMES.iter().map(|s| s.2).sum();
    let roll = rng.gen_range(0..1000);
    if roll < ranked {
        let mut acc = 0;
        for &(s, k, share) in SURNAMES {
            acc += share;
            if roll < acc {
                return (s.into(), k.into());
            }
        }
    }
    if roll < ranked + 3 * TAIL.len() as u32 {
        let &(s, k) = TAIL.choose(rng).expect("a tail");
        return (s.into(), k.into());
    }
    let (a, ak) = FIRST_PARTS.choose(rng).expect("parts");
    let (b, bk) = SECOND_PARTS.choose(rng).expect("parts");
    (format!("{a}{b}"), format!("{ak}{bk}"))
}

fn given(rng: &mut ChaCha8Rng, female: bool) -> (&'static str, &'static str) {
    let pool: Vec<_> = GIVEN.iter().filter(|g| g.2 == female).collect();
    let g = pool.choose(rng).expect("names");
    (g.0, g.1)
}

fn birth(rng: &mut ChaCha8Rng, from: i32, to: i32) -> NaiveDate {
    let y = rng.gen_range(from..=to);
    let start = date(y, 1, 1);
    start + chrono::Days::new(rng.gen_range(0..365))
}

/// An address in one of the town's districts: 丁目, block (番) and house (号).
pub fn random_address(rng: &mut ChaCha8Rng) -> String {
    let (district, chome) = DISTRICTS[rng.gen_range(0..DISTRICTS.len())];
    format!("{district}{}丁目{}番{}号", rng.gen_range(1..=chome), rng.gen_range(1..=30), rng.gen_range(1..=20))
}

/// A given name (and its kana) for a child born in the period.
pub fn baby_name(rng: &mut ChaCha8Rng) -> (&'static str, &'static str) {
    let female = rng.gen_bool(0.5);
    given(rng, female)
}

pub fn generate(rng: &mut ChaCha8Rng, residents: usize, employees: usize, start: NaiveDate, days: u32) -> Town {
    let mut people: Vec<Person> = Vec::with_capacity(residents);
    let mut households: Vec<Household> = Vec::new();
    let mut family = Vec::new();
    while people.len() < residents {
        let (base, kana) = surname(rng);
        // Some registers spell the name with its variant kanji.
        let spelled = VARIANTS
            .iter()
            .filter(|v| v.0 == base)
            .find(|_| rng.gen_bool(0.15))
            .map_or(base.clone(), |v| v.1.to_owned());
        let address = random_address(rng);
        let size = match rng.gen_range(0..100) {
            0..35 => 1,
            35..63 => 2,
            63..80 => 3,
            80..94 => 4,
            _ => 5,
        };
        let h = households.len();
        let mut members = Vec::new();
        let head_female = size == 1 && rng.gen_bool(0.45);
        let head_birth = birth(rng, 1940, 1998);
        for m in 0..size {
            if people.len() >= residents {
                break;
            }
            let (relation, female, born) = match m {
                0 => ("世帯主", head_female, head_birth),
                1 => ("妻", true, head_birth + chrono::Days::new(rng.gen_range(0..1800))),
                _ => ("子", rng.gen_bool(0.5), birth(rng, (head_birth.year() + 22).min(2023), (head_birth.year() + 40).min(2024))),
            };
            let (g, gk) = given(rng, female);
            let uid = format!("{:09}", 100_000 + people.len() * 7 + 3);
            members.push(people.len());
            people.push(Person {
                uid,
                name: format!("{spelled} {g}"),
                kana: format!("{kana} {gk}"),
                surname: spelled.to_owned(),
                birth: born,
                household: h,
                relation,
            });
        }
        for (i, &a) in members.iter().enumerate().skip(1) {
            let relation = if i == 1 { "spouse" } else { "parent" };
            family.push(FamilyLink { resident_a: people[a].uid.clone(), resident_b: people[members[0]].uid.clone(), relation: relation.into() });
        }
        households.push(Household { id: format!("H{:06}", h + 1), address, members });
    }

    // Staff: departments by share; some live in the town (their own records are here).
    let adults: Vec<usize> = (0..people.len()).filter(|&p| (1962..=2000).contains(&people[p].birth.year())).collect();
    let mut staff = Vec::with_capacity(employees);
    let mut used = std::collections::BTreeSet::new();
    let total_share: u32 = DEPARTMENTS.iter().map(|d| d.2).sum();
    for n in 0..employees {
        let roll = (n as u32 * total_share) / employees.max(1) as u32;
        let mut acc = 0;
        let dept = DEPARTMENTS.iter().position(|d| {
            acc += d.2;
            roll < acc
        });
        let dept = dept.unwrap_or(0);
        let resident = if rng.gen_bool(0.3) {
            adults.choose(rng).copied().filter(|p| used.insert(*p))
        } else {
            None
        };
        let (name, kana) = match resident {
            Some(p) => (people[p].name.clone(), people[p].kana.clone()),
            None => {
                let (s, k) = surname(rng);
                let female = rng.gen_bool(0.45);
                let (g, gk) = given(rng, female);
                (format!("{s} {g}"), format!("{k} {gk}"))
            }
        };
        let role = if DEPARTMENTS[dept].0 == "D100" && rng.gen_bool(0.6) { "counter" } else { "staff" };
        let number = n as u32 + 1;
        staff.push(Staff {
            id: format!("E{number:04}"),
            number,
            name,
            kana,
            resident,
            dept,
            role,
            transfer: None,
            retires: false,
            pc: format!("PC-{}-{number:04}", DEPARTMENTS[dept].0),
        });
    }
    // Each department has a chief.
    for d in 0..DEPARTMENTS.len() {
        if let Some(s) = staff.iter_mut().find(|s| s.dept == d && s.role == "staff") {
            s.role = "chief";
        }
    }
    let end = start + chrono::Days::new(days as u64);
    let april = (start.year()..=end.year()).map(|y| date(y, 4, 1)).find(|a| *a > start && *a < end);
    if april.is_some() {
        for s in staff.iter_mut() {
            match rng.gen_range(0..100) {
                0..15 => {
                    let to = (s.dept + rng.gen_range(1..DEPARTMENTS.len())) % DEPARTMENTS.len();
                    s.transfer = Some(to);
                }
                15..17 => s.retires = true,
                _ => {}
            }
        }
    }
    // S1 needs a welfare employee who lives in town with family; make sure one does.
    let lives_with_family = |s: &Staff| s.resident.is_some_and(|p| households[people[p].household].members.len() >= 2);
    let stays = |s: &Staff| DEPARTMENTS[s.dept].0 == "D300" && s.transfer.is_none() && !s.retires;
    if !staff.iter().any(|s| stays(s) && lives_with_family(s))
        && let Some(s) = staff.iter_mut().find(|s| stays(s) && s.resident.is_none())
        && let Some(&p) = adults.iter().find(|&&p| households[people[p].household].members.len() >= 2 && !used.contains(&p))
    {
        used.insert(p);
        s.resident = Some(p);
        s.name = people[p].name.clone();
        s.kana = people[p].kana.clone();
    }
    let mayor = *adults.iter().find(|&&p| people[p].birth.year() < 1975 && !used.contains(&p)).unwrap_or(&0);
    let council: Vec<usize> = adults.iter().copied().filter(|p| !used.contains(p) && *p != mayor).step_by(97).take(5).collect();
    let counters = (1..=staff.iter().filter(|s| s.role == "counter").count().max(1)).map(|i| format!("MADO-{i:02}")).collect();
    Town { people, households, family, staff, mayor, council, counters, april }
}

impl Town {
    /// The department a staff member works in on `day`, if employed then.
    pub fn dept_on(&self, s: &Staff, day: NaiveDate) -> Option<usize> {
        match self.april {
            Some(a) if day >= a && s.retires => None,
            Some(a) if day >= a => Some(s.transfer.unwrap_or(s.dept)),
            _ => Some(s.dept),
        }
    }

    pub fn master(&self, start: NaiveDate) -> MasterData {
        let since = date(start.year() - 3, 4, 1);
        let mut m = MasterData::default();
        for &(code, name, _, _) in DEPARTMENTS {
            m.departments.push(Department { code: code.into(), name: name.into(), parent: (code == "D110").then(|| "D100".into()) });
        }
        for p in &self.people {
            m.residents.push(Resident { uid: p.uid.clone(), name: p.name.clone(), kana: p.kana.clone(), birth_date: p.birth, died: None });
            let h = &self.households[p.household];
            m.households.push(HouseholdMembership {
                resident_uid: p.uid.clone(),
                household: h.id.clone(),
                relation: p.relation.into(),
                address: h.address.clone(),
                period: Period { from: p.birth.max(date(2000, 1, 1)), to: None },
            });
        }
        m.family_links = self.family.clone();
        let march_end = self.april.map(|a| a.pred_opt().expect("a day before"));
        for s in &self.staff {
            m.employees.push(Employee {
                id: s.id.clone(),
                name: s.name.clone(),
                kana: s.kana.clone(),
                hired: since,
                retired: if s.retires { march_end } else { None },
                resident_uid: s.resident.map(|p| self.people[p].uid.clone()),
                supervisor: None,
            });
            let first_to = if s.transfer.is_some() || s.retires { march_end } else { None };
            m.assignments.push(Assignment {
                employee_id: s.id.clone(),
                department: DEPARTMENTS[s.dept].0.into(),
                role: s.role.into(),
                period: Period { from: since, to: first_to },
                team: None,
            });
            if let (Some(to), Some(april)) = (s.transfer, self.april) {
                m.assignments.push(Assignment {
                    employee_id: s.id.clone(),
                    department: DEPARTMENTS[to].0.into(),
                    role: "staff".into(),
                    period: Period { from: april, to: None },
                    team: None,
                });
            }
            // A transfer closes the old section's system accounts and opens the new one's.
            let period = Period { from: since, to: if s.retires || s.transfer.is_some() { march_end } else { None } };
            for (system, account) in crate::accounts(s, s.dept) {
                m.accounts.push(Account { system: system.into(), account, employee_id: Some(s.id.clone()), kind: AccountKind::Personal, period, department: None });
            }
            if let (Some(to), Some(april)) = (s.transfer, self.april) {
                for (system, account) in crate::accounts(s, to) {
                    let period = Period { from: april, to: None };
                    m.accounts.push(Account { system: system.into(), account, employee_id: Some(s.id.clone()), kind: AccountKind::Personal, period, department: None });
                }
            }
            m.terminals.push(Terminal {
                host: s.pc.clone(),
                location: DEPARTMENTS[s.dept].3.into(),
                kind: TerminalKind::Staff,
                agent: true,
                department: Some(DEPARTMENTS[s.dept].0.into()),
                assigned: Some(s.id.clone()),
            });
        }
        let always = Period { from: since, to: None };
        m.accounts.push(Account { system: "juki".into(), account: "9000".into(), employee_id: None, kind: AccountKind::Batch, period: always, department: None });
        m.accounts.push(Account { system: "windows".into(), account: "admin01".into(), employee_id: None, kind: AccountKind::Admin, period: always, department: None });
        for c in &self.counters {
            m.terminals.push(Terminal { host: c.clone(), location: "本庁舎1F窓口".into(), kind: TerminalKind::Counter, agent: true, department: Some("D100".into()), assigned: None });
        }
        // The welfare section's shared PC, used under a shared account for the
        // benefits system's reports.
        m.terminals.push(Terminal { host: "KYOYO-D300-01".into(), location: "本庁舎2F福祉課".into(), kind: TerminalKind::Shared, agent: true, department: Some("D300".into()), assigned: None });
        m.accounts.push(Account { system: "windows".into(), account: "fukushi-kyoyo".into(), employee_id: None, kind: AccountKind::Shared, period: always, department: None });
        m.terminals.push(Terminal { host: "UKETSUKE-01".into(), location: "本庁舎1F受付".into(), kind: TerminalKind::Reception, agent: false, department: None, assigned: None });
        m.terminals.push(Terminal { host: "BATCH-01".into(), location: "サーバ室".into(), kind: TerminalKind::Server, agent: true, department: Some("D800".into()), assigned: None });
        m.shares.push(FileShare { share: "jinji".into(), path: "/srv/jinji".into(), owner_department: "D400".into(), classification: Classification::Restricted, granted: vec![], period: always });
        if let Some(april) = self.april {
            // The fiscal year-end handover folder, open to everyone for a few days.
            let from = april - chrono::Days::new(7);
            let to = april + chrono::Days::new(4);
            m.shares.push(FileShare {
                share: "hikitsugi".into(),
                path: "/srv/hikitsugi".into(),
                owner_department: "D500".into(),
                classification: Classification::Confidential,
                granted: vec!["*".into()],
                period: Period { from, to: Some(to) },
            });
        }
        m.shares.push(FileShare { share: "kenshin".into(), path: "/srv/kenshin".into(), owner_department: "D310".into(), classification: Classification::Restricted, granted: vec![], period: always });
        m.shares.push(FileShare { share: "soumu".into(), path: "/srv/soumu".into(), owner_department: "D500".into(), classification: Classification::Internal, granted: vec![], period: always });
        m.vip.push(VipEntry { resident_uid: self.people[self.mayor].uid.clone(), reason: "市長".into(), period: always });
        for &c in &self.council {
            m.vip.push(VipEntry { resident_uid: self.people[c].uid.clone(), reason: "市議会議員".into(), period: always });
        }
        m
    }
}
