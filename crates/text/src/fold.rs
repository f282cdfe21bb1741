//! Name folding: two spellings of one name fold to the same string.
//!
//! Steps, in order: Unicode NFKC (full-width Latin and digits, half-width katakana,
//! compatibility characters), removal of ideographic variation selectors, removal of
//! all white space (including the full-width space U+3000), hiragana to katakana, and
//! variant kanji to their standard form (髙→高, 﨑→崎, 邊/邉→辺, 齋→斎, 濵→浜, 德→徳 …)
//! from `data/kanji_variants.tsv`, which `scripts/gen-kanji-variants.py` derives from
//! Unicode's Unihan database and OpenCC's 旧字体→新字体 list.

use std::collections::HashMap;
use std::sync::OnceLock;

use unicode_normalization::UnicodeNormalization;

const VARIANTS_TSV: &str = include_str!("../data/kanji_variants.tsv");

fn variants() -> &'static HashMap<char, char> {
    static MAP: OnceLock<HashMap<char, char>> = OnceLock::new();
    MAP.get_or_init(|| {
        VARIANTS_TSV
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| {
                let mut cols = l.split('\t').map(|c| c.chars());
                let (mut from, mut to) = (cols.next()?, cols.next()?);
                Some((from.next()?, to.next()?))
            })
            .collect()
    })
}

/// The standard form of one kanji, or the character itself.
pub fn fold_variant(c: char) -> char {
    variants().get(&c).copied().unwrap_or(c)
}

fn is_variation_selector(c: char) -> bool {
    matches!(c, '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}')
}

fn hiragana_to_katakana(c: char) -> char {
    match c {
        // ぁ..ゖ and the iteration marks ゝゞ map 0x60 up to their katakana.
        '\u{3041}'..='\u{3096}' | '\u{309D}'..='\u{309E}' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
        _ => c,
    }
}

/// Folds a name (kanji or kana) for comparison.
pub fn fold_name(s: &str) -> String {
    // ASCII is its own NFKC form, has no kana, and no variant table entry (a test holds
    // the table to that), so only the spaces go: the cheap path for romanised names and
    // the words and numbers of a spreadsheet's cells.
    if s.is_ascii() {
        return s.chars().filter(|c| !c.is_whitespace()).collect();
    }
    s.nfkc()
        .filter(|&c| !c.is_whitespace() && !is_variation_selector(c))
        .map(hiragana_to_katakana)
        .map(fold_variant)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_variant_folds_an_ascii_character_so_ascii_names_skip_the_table() {
        assert!(variants().keys().all(|c| !c.is_ascii()));
        for name in ["SMITH John", "Nguyen  Van\tAn", "ABC123"] {
            let long_way: String = name.nfkc().filter(|&c| !c.is_whitespace()).map(fold_variant).collect();
            assert_eq!(fold_name(name), long_way);
        }
    }

    #[test]
    fn spellings_of_one_name_fold_together() {
        let same = [
            ("髙橋 一郎", "高橋一郎"),
            ("山﨑　花子", "山崎花子"),
            ("渡邊", "渡辺"),
            ("渡邉", "渡辺"),
            ("齋藤", "斎藤"),
            ("濵田", "浜田"),
            ("德川", "徳川"),
            ("ｻﾄｳ ﾀﾛｳ", "サトウタロウ"),
            ("さとう たろう", "サトウタロウ"),
            ("ＡＢＣ１２３", "ABC123"),
            ("葛\u{E0100}飾", "葛飾"),
        ];
        for (a, b) in same {
            assert_eq!(fold_name(a), fold_name(b), "{a} and {b}");
        }
    }

    #[test]
    fn different_names_stay_different() {
        // A shared common surname is not a variant, and neither are distinct standard kanji.
        for (a, b) in [("佐藤", "加藤"), ("崎", "埼"), ("斎藤", "斉藤"), ("高橋", "髙田")] {
            assert_ne!(fold_name(a), fold_name(b), "{a} and {b}");
        }
    }

    #[test]
    fn the_table_is_the_generated_one_and_has_no_chains() {
        let map = variants();
        assert!(map.len() > 2000, "{}", map.len());
        for (from, to) in map {
            assert_ne!(from, to);
            assert!(!map.contains_key(to), "{from}→{to} folds again: the table must map straight to the standard form");
        }
    }
}
