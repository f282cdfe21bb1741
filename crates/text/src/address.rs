//! Japanese street addresses as registers write them, parsed far enough to say whether two
//! homes are the same building or next to each other.
//!
//! The forms met in municipal data: `本町3丁目12番5号`, `本町三丁目12番地5`, `本町3-12-5`,
//! `本町３丁目１２－５　コーポ山田201号室`, `大字山田1234番地`, `山田1234-5`. Width, dash
//! variants (‐－ー−–—) and kanji numerals before 丁目 are folded; the area name is kept as
//! written after NFKC (`四条通` stays a name: numerals are read only before 丁目).

use unicode_normalization::UnicodeNormalization;

/// An address split into its parts. Missing parts are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Address {
    /// The place name before the numbers (町・大字・字), folded by NFKC.
    pub area: String,
    /// 丁目.
    pub chome: Option<u32>,
    /// 番 or 番地 (the block, or the lot in 番地 addressing).
    pub ban: Option<u32>,
    /// 号 (the house within a block), or the lot's branch number (枝番).
    pub go: Option<u32>,
    /// The building's name, when one is written after the numbers.
    pub building: Option<String>,
    /// A room or flat number.
    pub room: Option<String>,
}

fn kanji_digit(c: char) -> Option<u32> {
    "〇一二三四五六七八九".chars().position(|k| k == c).map(|p| p as u32)
}

/// A kanji numeral such as 三, 十二, 二十三 (up to 99), as a number.
fn kanji_number(s: &str) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    match s.split_once('十') {
        None => s.chars().try_fold(0u32, |acc, c| Some(acc * 10 + kanji_digit(c)?)),
        Some((tens, ones)) => {
            let tens = if tens.is_empty() { 1 } else { kanji_number(tens)? };
            let ones = if ones.is_empty() { 0 } else { kanji_number(ones)? };
            Some(tens * 10 + ones)
        }
    }
}

fn is_dash(c: char) -> bool {
    matches!(c, '-' | '‐' | '‑' | '‒' | '–' | '—' | '―' | '−' | 'ー' | 'ｰ' | '－')
}

/// Units that may follow a number in the number chain.
const UNITS: [&str; 6] = ["丁目", "番地", "番", "号", "の", "-"];

impl Address {
    /// Parses an address; never fails (an address with no numbers is all area).
    pub fn parse(text: &str) -> Address {
        let normal: String = text.nfkc().collect();
        // Kanji numerals before 丁目 become digits; elsewhere they are part of names.
        let mut s = String::with_capacity(normal.len());
        let chars: Vec<char> = normal.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let start = i;
            while i < chars.len() && (kanji_digit(chars[i]).is_some() || chars[i] == '十') {
                i += 1;
            }
            if i > start {
                let run: String = chars[start..i].iter().collect();
                let before_chome = chars[i..].starts_with(&['丁', '目']);
                match kanji_number(&run).filter(|_| before_chome) {
                    Some(n) => s.push_str(&n.to_string()),
                    None => s.push_str(&run),
                }
                continue;
            }
            let c = chars[i];
            // A dash between digits (or after one) is a separator, not a long vowel mark:
            // `コーポ` keeps its ー.
            let after_digit = s.chars().last().is_some_and(|p| p.is_ascii_digit());
            s.push(if is_dash(c) && after_digit { '-' } else { c });
            i += 1;
        }
        let Some(first_digit) = s.find(|c: char| c.is_ascii_digit()) else {
            return Address { area: s.split_whitespace().collect(), ..Address::default() };
        };
        let area: String = s[..first_digit].split_whitespace().collect();
        let mut rest = &s[first_digit..];
        let mut numbers: Vec<(u32, &str)> = Vec::new();
        loop {
            let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            if digits == 0 {
                break;
            }
            let Ok(n) = rest[..digits].parse::<u32>() else { break };
            rest = &rest[digits..];
            let unit = UNITS.iter().find(|u| rest.starts_with(**u)).copied().unwrap_or("");
            rest = &rest[unit.len()..];
            numbers.push((n, unit));
            // The chain goes on only after a unit that expects more (not after 号), across
            // spaces (`三丁目 12番地5`).
            let next = rest.trim_start();
            if unit.is_empty() || unit == "号" || !next.starts_with(|c: char| c.is_ascii_digit()) {
                break;
            }
            rest = next;
        }
        let mut a = Address { area, ..Address::default() };
        let mut nums = numbers.iter().peekable();
        if let Some((n, "丁目")) = nums.peek().copied() {
            a.chome = Some(*n);
            nums.next();
        } else if numbers.len() >= 3 && numbers.iter().take(2).all(|(_, u)| *u == "-") {
            // `3-12-5`: 丁目, 番, 号.
            a.chome = nums.next().map(|x| x.0);
        }
        a.ban = nums.next().map(|x| x.0);
        a.go = nums.next().map(|x| x.0);
        let extra: Vec<String> = nums.map(|x| x.0.to_string()).collect();
        let tail = rest.trim_start_matches(|c: char| c == '-' || c.is_whitespace()).trim();
        let (building, room) = split_building(tail);
        a.building = building;
        a.room = room.or_else(|| extra.first().cloned());
        a
    }

    /// Whether the two are one building (or one house): the same block and house number in
    /// the same area, whatever the room. Addresses without a block are never one building.
    pub fn same_building(&self, other: &Address) -> bool {
        self.area == other.area
            && self.chome == other.chome
            && self.ban.is_some()
            && self.ban == other.ban
            && self.go == other.go
            && match (&self.building, &other.building) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }

    /// Whether the two are next to each other: houses one apart in the same block, or,
    /// where a house number is missing, blocks (or lots) one apart.
    pub fn adjacent(&self, other: &Address) -> bool {
        if self.area != other.area || self.chome != other.chome {
            return false;
        }
        let (Some(a), Some(b)) = (self.ban, other.ban) else { return false };
        match (self.go, other.go) {
            (Some(x), Some(y)) => a == b && x.abs_diff(y) == 1,
            _ => a.abs_diff(b) == 1,
        }
    }

    /// Whether the two are in the same or the next block (番 ±1) of one 丁目: the
    /// neighbourhood where a shared surname suggests kin.
    pub fn near(&self, other: &Address) -> bool {
        match (self.ban, other.ban) {
            (Some(a), Some(b)) => self.area == other.area && self.chome == other.chome && a.abs_diff(b) <= 1,
            _ => self.area == other.area && self.chome == other.chome && self.area_only_equal(other),
        }
    }

    fn area_only_equal(&self, other: &Address) -> bool {
        self.ban.is_none() && other.ban.is_none() && self.building == other.building
    }
}

/// Splits what follows the numbers into a building name and a room: `コーポ山田201号室`
/// → (`コーポ山田`, `201`); `201` → (none, `201`).
fn split_building(tail: &str) -> (Option<String>, Option<String>) {
    if tail.is_empty() {
        return (None, None);
    }
    let tail = tail.trim_end_matches("号室").trim_end_matches('号');
    let digits_from = tail.char_indices().rev().take_while(|(_, c)| c.is_ascii_digit()).last().map(|(i, _)| i);
    match digits_from {
        Some(0) => (None, Some(tail.to_owned())),
        Some(i) => {
            let name: String = tail[..i].split_whitespace().collect();
            (Some(name).filter(|n| !n.is_empty()), Some(tail[i..].to_owned()))
        }
        None => (Some(tail.split_whitespace().collect()), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Address {
        Address::parse(s)
    }

    #[test]
    fn the_usual_forms_parse_to_the_same_parts() {
        let want = Address { area: "本町".into(), chome: Some(3), ban: Some(12), go: Some(5), building: None, room: None };
        for form in ["本町3丁目12番5号", "本町三丁目12番5号", "本町３丁目１２番５号", "本町3-12-5", "本町３－１２－５", "本町3丁目12-5", "本町 三丁目 12番地5"] {
            assert_eq!(p(form), want, "{form}");
        }
    }

    #[test]
    fn buildings_rooms_and_lots_are_kept_apart() {
        let a = p("本町3丁目12番5号 コーポ山田201号室");
        assert_eq!((a.ban, a.go, a.building.as_deref(), a.room.as_deref()), (Some(12), Some(5), Some("コーポ山田"), Some("201")));
        let b = p("大字山田1234番地");
        assert_eq!((b.area.as_str(), b.chome, b.ban, b.go), ("大字山田", None, Some(1234), None));
        let c = p("山田1234-5");
        assert_eq!((c.ban, c.go), (Some(1234), Some(5)));
        let d = p("四条通2丁目3番");
        assert_eq!((d.area.as_str(), d.chome, d.ban), ("四条通", Some(2), Some(3)));
        assert_eq!(p("十二丁目1番").chome, Some(12));
        assert_eq!(p("二十三丁目1番").chome, Some(23));
    }

    #[test]
    fn same_building_adjacent_and_near_are_told_apart() {
        let home = p("本町3丁目12番5号");
        let cases = [
            // (other, same building, adjacent, near)
            ("本町3丁目12番5号", true, false, true),
            ("本町3-12-5 201", true, false, true),
            ("本町3丁目12番6号", false, true, true),
            ("本町3丁目12番4号", false, true, true),
            ("本町3丁目12番7号", false, false, true),
            ("本町3丁目13番1号", false, false, true),
            ("本町3丁目15番1号", false, false, false),
            ("本町4丁目12番5号", false, false, false),
            ("新町3丁目12番6号", false, false, false),
        ];
        for (other, same, adj, near) in cases {
            let o = p(other);
            assert_eq!((home.same_building(&o), home.adjacent(&o), home.near(&o)), (same, adj, near), "{other}");
        }
        // Lots (番地) one apart are next door when there is no house number.
        assert!(p("大字山田1234番地").adjacent(&p("大字山田1235番地")));
        assert!(!p("大字山田1234番地").adjacent(&p("大字山田1237番地")));
        // Two different buildings at one number are not one building.
        assert!(!p("本町1-2-3 ハイツA").same_building(&p("本町1-2-3 ハイツB")));
    }
}
