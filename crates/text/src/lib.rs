//! Japanese text as municipal systems write it, in one place for every adapter and
//! matcher: folding of names (width, kana, spaces, variant kanji), Japanese-era dates,
//! My Number (個人番号) check digits, and mail domains.
//!
//! Pure functions over strings: no I/O, no configuration. The variant-kanji table is
//! generated from public data (Unihan, OpenCC) by `scripts/gen-kanji-variants.py` and
//! compiled in.

pub mod address;
pub mod date;
pub mod fold;
pub mod mynumber;

pub use address::Address;
pub use date::{DateError, parse_date, parse_date_time, parse_date_time_zoned, parse_time};
pub use fold::{fold_name, fold_variant};
pub use mynumber::is_valid_my_number;

/// Whether a mail address is in one of `domains` or their subdomains, case aside
/// (`x@mail.pref.example.lg.jp` is in `lg.jp`); a domain may be written `@lg.jp` or `.lg.jp`.
pub fn mail_domain_in(address: &str, domains: &[String]) -> bool {
    let domain = address.rsplit('@').next().unwrap_or("");
    domains.iter().any(|d| {
        let d = d.trim_start_matches(['@', '.']);
        let Some(cut) = domain.len().checked_sub(d.len()) else { return false };
        domain.is_char_boundary(cut)
            && domain[cut..].eq_ignore_ascii_case(d)
            && (cut == 0 || domain.as_bytes()[cut - 1] == b'.')
    })
}

/// The host name of a URL (`https://a.example.com:443/x` → `a.example.com`), or the host
/// name given, in lower case: one rule for the proxy sources and web categories alike.
pub fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod mail_tests {
    #[test]
    fn a_mail_domain_matches_itself_and_its_subdomains_only() {
        let lgjp = vec!["@LG.jp".to_owned()];
        assert!(super::mail_domain_in("a@pref.example.lg.jp", &lgjp));
        assert!(super::mail_domain_in("a@lg.jp", &lgjp));
        assert!(!super::mail_domain_in("a@notlg.jp", &lgjp));
        assert!(!super::mail_domain_in("a@example.com", &lgjp));
    }
}
