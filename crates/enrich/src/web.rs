//! What a web host is: the shipped category list (`data/url_categories.tsv`) and a town's
//! own additions, matched by domain (the domain and its subdomains) or by a keyword in the
//! host name. Pure: built once, asked per event.

use std::collections::BTreeMap;

pub use mamori_text::host_of;

const SHIPPED: &str = include_str!("../data/url_categories.tsv");

/// The categories the shipped list uses.
pub const CATEGORIES: [&str; 6] = ["job_search", "cloud_storage", "file_sharing", "leak_site", "webmail", "spyware"];

#[derive(Debug, Clone, Default)]
pub struct WebCategories {
    /// Domain (lower case) → category.
    domains: BTreeMap<String, String>,
    /// Keyword → category.
    keywords: Vec<(String, String)>,
}

impl WebCategories {
    /// The shipped list with `extra` (category → patterns, as `[web] categories` in
    /// `detect.toml` gives them) added; a town's own entry wins over a shipped one.
    pub fn new(extra: &BTreeMap<String, Vec<String>>) -> WebCategories {
        let mut c = WebCategories::default();
        for line in SHIPPED.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            if let Some((pattern, category)) = line.split_once('\t') {
                c.add(pattern.trim(), category.trim());
            }
        }
        for (category, patterns) in extra {
            for p in patterns {
                c.add(p, category);
            }
        }
        c
    }

    fn add(&mut self, pattern: &str, category: &str) {
        let pattern = pattern.to_ascii_lowercase();
        match pattern.strip_prefix('*').and_then(|p| p.strip_suffix('*')) {
            Some(keyword) => {
                self.keywords.retain(|(k, _)| *k != keyword);
                self.keywords.push((keyword.to_owned(), category.to_owned()));
            }
            None => {
                self.domains.insert(pattern.trim_start_matches('.').to_owned(), category.to_owned());
            }
        }
    }

    /// The category of a host name or URL, if any: the longest matching domain, else the
    /// first keyword found in the URL (host or path: `…/free-keylogger/…`).
    pub fn category(&self, host_or_url: &str) -> Option<&str> {
        let host = host_of(host_or_url);
        let whole = host_or_url.to_ascii_lowercase();
        let mut d = host.as_str();
        loop {
            if let Some(c) = self.domains.get(d) {
                return Some(c);
            }
            match d.split_once('.') {
                Some((_, rest)) if rest.contains('.') || !rest.is_empty() => d = rest,
                _ => break,
            }
        }
        self.keywords.iter().find(|(k, _)| whole.contains(k.as_str())).map(|(_, c)| c.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_categorised_by_domain_subdomain_keyword_and_the_towns_own_list() {
        let mut extra = BTreeMap::new();
        extra.insert("cloud_storage".to_owned(), vec!["files.example.jp".to_owned()]);
        extra.insert("job_search".to_owned(), vec!["*haken*".to_owned()]);
        let c = WebCategories::new(&extra);
        let cases = [
            ("https://www.dropbox.com/upload", Some("cloud_storage")),
            ("http://wikileaks.org/submit", Some("leak_site")),
            ("WWW.MONSTER.COM", Some("job_search")),
            ("tenshoku.example.co.jp:8080", Some("job_search")),
            ("https://www.actualkeylogger-example.com/download", Some("spyware")),
            ("http://vendor.example.com/free-keylogger/setup.php", Some("spyware")),
            ("https://up.files.example.jp/x", Some("cloud_storage")),
            ("haken-example.jp", Some("job_search")),
            ("https://www.city.example.lg.jp/", None),
            ("notdropbox.com", None),
        ];
        for (url, want) in cases {
            assert_eq!(c.category(url), want, "{url}");
        }
        assert_eq!(host_of("https://user@Sub.Example.com:443/a?b"), "sub.example.com");
    }

    #[test]
    fn the_shipped_list_uses_only_the_documented_categories() {
        let c = WebCategories::new(&BTreeMap::new());
        for cat in c.domains.values().chain(c.keywords.iter().map(|(_, c)| c)) {
            assert!(CATEGORIES.contains(&cat.as_str()), "{cat}");
        }
    }
}
