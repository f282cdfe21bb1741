//! Japanese text as municipal systems write it, in one place for every adapter and
//! matcher: folding of names (width, kana, spaces, variant kanji), Japanese-era dates,
//! and My Number (個人番号) check digits.
//!
//! Pure functions over strings: no I/O, no configuration. The variant-kanji table is
//! generated from public data (Unihan, OpenCC) by `scripts/gen-kanji-variants.py` and
//! compiled in.

pub mod date;
pub mod fold;
pub mod mynumber;

pub use date::{DateError, parse_date, parse_date_time, parse_time};
pub use fold::{fold_name, fold_variant};
pub use mynumber::is_valid_my_number;
