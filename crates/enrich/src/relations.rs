//! Who a resident is to a member of staff, over the whole history master data holds: the
//! employee's own record, their household now and before (a former spouse who moved out),
//! their family-register relatives and those relatives' households, the people in their
//! building and next door, and colleagues. Each relation is named, with the path that
//! makes it, so that a finding can say why the resident is not a stranger.
//!
//! Built once from master data into per-employee maps, so that the question asked for
//! every record access is a hash look-up and a period check.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use mamori_model::master::{MasterData, Period};
use mamori_text::Address;
use serde::{Deserialize, Serialize};

/// The kinds of relation, strongest first: when several hold, the first is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationKind {
    /// The employee's own record.
    Own,
    /// A member of the employee's household on the day.
    Household,
    /// Someone who shared a household with the employee before (a former spouse, a child
    /// who moved out).
    FormerHousehold,
    /// A family-register (戸籍) relative: parent, child, spouse, sibling.
    Family,
    /// A relative two steps away in the register (grandparent, in-law), or someone living
    /// in a registered relative's household, or in the household a former household member
    /// moved on to, or a former member of a household the employee joined (a partner's
    /// former spouse), or of the household a member came from.
    ExtendedFamily,
    /// A relative three or four links away in the register: a cousin through a parent's
    /// sibling, an uncle or aunt the register links only through the grandparents, a
    /// spouse's sibling's child.
    DistantFamily,
    /// Someone of the same surname (after folding) in the same or the next block: kin the
    /// register does not link, more often than not.
    SameSurnameNearby,
    /// Another household in the employee's building (or house).
    SameBuilding,
    /// Next door: the house one number away in the same block.
    Neighbour,
    /// A colleague of the same section, on the day.
    ColleagueSameSection,
    /// Another member of staff.
    Colleague,
}

impl RelationKind {
    pub const ALL: [RelationKind; 11] = [
        RelationKind::Own,
        RelationKind::Household,
        RelationKind::FormerHousehold,
        RelationKind::Family,
        RelationKind::ExtendedFamily,
        RelationKind::DistantFamily,
        RelationKind::SameSurnameNearby,
        RelationKind::SameBuilding,
        RelationKind::Neighbour,
        RelationKind::ColleagueSameSection,
        RelationKind::Colleague,
    ];

    /// The name used in `detect.toml`, findings and the Sigma `Relation` field.
    pub fn code(self) -> &'static str {
        match self {
            RelationKind::Own => "own",
            RelationKind::Household => "household",
            RelationKind::FormerHousehold => "former_household",
            RelationKind::Family => "family",
            RelationKind::ExtendedFamily => "extended_family",
            RelationKind::DistantFamily => "distant_family",
            RelationKind::SameSurnameNearby => "same_surname_nearby",
            RelationKind::SameBuilding => "same_building",
            RelationKind::Neighbour => "neighbour",
            RelationKind::ColleagueSameSection => "colleague_same_section",
            RelationKind::Colleague => "colleague",
        }
    }

    pub fn ja(self) -> &'static str {
        match self {
            RelationKind::Own => "本人",
            RelationKind::Household => "同一世帯",
            RelationKind::FormerHousehold => "元同一世帯",
            RelationKind::Family => "親族(戸籍)",
            RelationKind::ExtendedFamily => "親族(2親等・親族の世帯)",
            RelationKind::DistantFamily => "親族(戸籍で3・4段先)",
            RelationKind::SameSurnameNearby => "同姓・近隣",
            RelationKind::SameBuilding => "同一建物",
            RelationKind::Neighbour => "隣家",
            RelationKind::ColleagueSameSection => "同じ課の職員",
            RelationKind::Colleague => "職員",
        }
    }

    pub fn en(self) -> &'static str {
        match self {
            RelationKind::Own => "own record",
            RelationKind::Household => "household member",
            RelationKind::FormerHousehold => "former household member",
            RelationKind::Family => "family-register relative",
            RelationKind::ExtendedFamily => "relative (second degree or a relative's household)",
            RelationKind::DistantFamily => "relative three or four links away in the register",
            RelationKind::SameSurnameNearby => "same surname nearby",
            RelationKind::SameBuilding => "same building",
            RelationKind::Neighbour => "next door",
            RelationKind::ColleagueSameSection => "colleague in the same section",
            RelationKind::Colleague => "member of staff",
        }
    }

    /// Whether this is kin or the employee themselves (rather than a neighbour or a colleague).
    pub fn is_kin(self) -> bool {
        self <= RelationKind::SameSurnameNearby
    }
}

/// A relation found on a day, with what makes it (`元同一世帯（〜2023-05-31）`, `戸籍: 父`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub kind: RelationKind,
    pub detail: String,
}

/// One link from an employee to a resident, valid over `period` (all time when `None`).
#[derive(Debug, Clone)]
struct Link {
    kind: RelationKind,
    period: Option<Period>,
    detail: String,
}

fn overlap(a: &Period, b: &Period) -> Option<Period> {
    let from = a.from.max(b.from);
    let to = match (a.to, b.to) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    };
    to.is_none_or(|t| from <= t).then_some(Period { from, to })
}

/// A registration at an address: resident, period, index of the parsed address.
type Home<'a> = (&'a str, Period, usize);

/// The relation graph: per employee who lives in the town, the residents linked to them.
#[derive(Default)]
pub struct Relations {
    links: HashMap<String, HashMap<String, Vec<Link>>>,
    /// Resident → the employee whose own record it is.
    staff_record: HashMap<String, String>,
}

impl Relations {
    pub fn new(m: &MasterData) -> Relations {
        let mut r = Relations::default();
        // Memberships by resident and by household, and addresses by (area, 丁目).
        let mut memberships: HashMap<&str, Vec<(&str, Period)>> = HashMap::new();
        let mut members: HashMap<&str, Vec<(&str, Period)>> = HashMap::new();
        let mut homes: HashMap<&str, Vec<(Period, Address)>> = HashMap::new();
        let mut streets: HashMap<(String, Option<u32>), Vec<Home>> = HashMap::new();
        let mut parsed: Vec<Address> = Vec::new();
        for h in &m.households {
            memberships.entry(&h.resident_uid).or_default().push((&h.household, h.period));
            members.entry(&h.household).or_default().push((&h.resident_uid, h.period));
            let a = Address::parse(&h.address);
            streets.entry((a.area.clone(), a.chome)).or_default().push((&h.resident_uid, h.period, parsed.len()));
            homes.entry(&h.resident_uid).or_default().push((h.period, a.clone()));
            parsed.push(a);
        }
        let mut family: HashMap<&str, Vec<(&str, &str)>> = HashMap::new();
        for l in &m.family_links {
            family.entry(&l.resident_a).or_default().push((&l.resident_b, &l.relation));
            family.entry(&l.resident_b).or_default().push((&l.resident_a, &l.relation));
        }
        let surnames: HashMap<&str, String> = m
            .residents
            .iter()
            .filter_map(|p| p.name.split([' ', '\u{3000}']).find(|w| !w.is_empty()).map(|s| (p.uid.as_str(), mamori_text::fold_name(s))))
            .collect();
        let households_of = |resident: &str| memberships.get(resident).cloned().unwrap_or_default();
        for e in &m.employees {
            let Some(own) = e.resident_uid.as_deref() else { continue };
            r.staff_record.insert(own.to_owned(), e.id.clone());
            let mut to: HashMap<String, Vec<Link>> = HashMap::new();
            let mut add = |resident: &str, kind, period, detail: String| {
                to.entry(resident.to_owned()).or_default().push(Link { kind, period, detail });
            };
            add(own, RelationKind::Own, None, RelationKind::Own.ja().to_owned());
            // Household members, now and before: the overlap of the two memberships.
            for (household, mine) in households_of(own) {
                for (other, theirs) in members.get(household).into_iter().flatten() {
                    if *other == own {
                        continue;
                    }
                    // Someone who had left the household before the employee joined it (a
                    // partner's former spouse): from the day the employee joined.
                    if theirs.to.is_some_and(|left| left < mine.from) {
                        add(other, RelationKind::ExtendedFamily, Some(Period { from: mine.from, to: None }), format!("世帯 {household} の元世帯員"));
                        continue;
                    }
                    if let Some(p) = overlap(&mine, theirs) {
                        add(other, RelationKind::Household, Some(p), format!("世帯 {household}"));
                        // The household a member came from, as it was while they were in it
                        // (a partner's former spouse and children), from the day they and the
                        // employee live together.
                        for (earlier, was) in households_of(other).into_iter().filter(|(h, q)| *h != household && q.to.is_some_and(|t| t <= p.from)) {
                            for (third, q) in members.get(earlier).into_iter().flatten() {
                                if *third != own && *third != *other && overlap(&was, q).is_some() {
                                    add(third, RelationKind::ExtendedFamily, Some(Period { from: p.from, to: None }), format!("世帯員 {other} の元世帯 {earlier}"));
                                }
                            }
                        }
                        // The household a former member moved on to (a former spouse's new
                        // partner), while they live together.
                        let Some(parted) = p.to else { continue };
                        for (later, with) in households_of(other).into_iter().filter(|(h, q)| *h != household && q.from >= parted) {
                            for (third, q) in members.get(later).into_iter().flatten() {
                                if *third != own
                                    && *third != *other
                                    && let Some(together) = overlap(&with, q)
                                {
                                    add(third, RelationKind::ExtendedFamily, Some(together), format!("元世帯員 {other} の世帯 {later}"));
                                }
                            }
                        }
                    }
                }
            }
            // The family register, one and two steps out, and the households of the first.
            let mut seen: HashSet<&str> = HashSet::from([own]);
            for (first, relation) in family.get(own).into_iter().flatten() {
                if !seen.insert(first) {
                    continue;
                }
                add(first, RelationKind::Family, None, format!("戸籍: {relation}"));
                for (household, theirs) in households_of(first) {
                    for (other, p) in members.get(household).into_iter().flatten() {
                        if *other != own && *other != *first && overlap(&theirs, p).is_some() {
                            add(other, RelationKind::ExtendedFamily, None, format!("親族 {first} の世帯"));
                        }
                    }
                }
            }
            let firsts: Vec<&str> = family.get(own).into_iter().flatten().map(|(f, _)| *f).collect();
            let mut seconds: Vec<&str> = Vec::new();
            for first in firsts {
                for (second, relation) in family.get(first).into_iter().flatten() {
                    if seen.insert(second) {
                        add(second, RelationKind::ExtendedFamily, None, format!("戸籍: {first} の{relation}"));
                        seconds.push(second);
                    }
                }
            }
            // Three and four links out: cousins, a spouse's sibling's child, and relatives
            // of the second degree the register reaches only the long way round.
            let mut frontier = seconds;
            for _ in 3..=4 {
                let mut next = Vec::new();
                for near in frontier {
                    for (far, relation) in family.get(near).into_iter().flatten() {
                        if seen.insert(far) {
                            add(far, RelationKind::DistantFamily, None, format!("戸籍: {near} の{relation}"));
                            next.push(*far);
                        }
                    }
                }
                frontier = next;
            }
            // The neighbourhood, at each of the employee's addresses while they lived there.
            let my_surname = surnames.get(own);
            for (mine, home) in homes.get(own).into_iter().flatten() {
                for (other, theirs, i) in streets.get(&(home.area.clone(), home.chome)).into_iter().flatten() {
                    if *other == own {
                        continue;
                    }
                    let Some(p) = overlap(mine, theirs) else { continue };
                    let there = &parsed[*i];
                    if home.same_building(there) {
                        add(other, RelationKind::SameBuilding, Some(p), format!("同一建物 {}", address_text(there)));
                    } else if home.adjacent(there) {
                        add(other, RelationKind::Neighbour, Some(p), format!("隣家 {}", address_text(there)));
                    }
                    if my_surname.is_some() && my_surname == surnames.get(other) && home.near(there) {
                        add(other, RelationKind::SameSurnameNearby, Some(p), format!("同姓・近隣 {}", address_text(there)));
                    }
                }
            }
            r.links.insert(e.id.clone(), to);
        }
        r
    }

    /// How `resident` is related to `employee` on `day`, apart from colleagues (which need
    /// postings: see [`crate::Directory::relation`]).
    pub(crate) fn kin_or_neighbour(&self, employee: &str, resident: &str, day: NaiveDate) -> Option<Relation> {
        let links = self.links.get(employee)?.get(resident)?;
        links
            .iter()
            .filter_map(|l| match (l.kind, l.period) {
                (kind, None) => Some(Relation { kind, detail: l.detail.clone() }),
                (kind, Some(p)) if p.covers(day) => Some(Relation { kind, detail: l.detail.clone() }),
                // A household shared before the day: a former household member.
                (RelationKind::Household, Some(Period { to: Some(until), .. })) if until < day => {
                    Some(Relation { kind: RelationKind::FormerHousehold, detail: format!("元{}（〜{until}）", l.detail) })
                }
                // Next door or in the building until one of them moved, in the last two
                // years: still someone one knows, and where they went is what a curious
                // neighbour looks up. (Whoever lived next door a decade ago is not.)
                (kind @ (RelationKind::Neighbour | RelationKind::SameBuilding), Some(Period { to: Some(until), .. })) if until < day && (day - until).num_days() <= FORMER_NEIGHBOUR_DAYS => {
                    Some(Relation { kind, detail: format!("元{}（〜{until}）", l.detail) })
                }
                _ => None,
            })
            .min_by_key(|r| r.kind)
    }

    /// The employee whose own record `resident` is.
    pub fn staff_with_record(&self, resident: &str) -> Option<&str> {
        self.staff_record.get(resident).map(String::as_str)
    }

    /// How many residents are members of staff.
    pub fn staff_record_count(&self) -> usize {
        self.staff_record.len()
    }
}

/// How long a neighbour who moved away stays one (元隣家).
const FORMER_NEIGHBOUR_DAYS: i64 = 730;

fn address_text(a: &Address) -> String {
    let mut s = a.area.clone();
    if let Some(c) = a.chome {
        s.push_str(&format!("{c}丁目"));
    }
    if let Some(b) = a.ban {
        s.push_str(&format!("{b}番"));
    }
    if let Some(g) = a.go {
        s.push_str(&format!("{g}号"));
    }
    s
}
