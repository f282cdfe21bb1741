//! `detect.toml`: the settings shared by every analyzer (the organisation's time zone,
//! explanation windows, risk), and one section per analyzer, named after its module and
//! read by the analyzer itself. Every key has a default; an unknown section or key is an
//! error naming it, so that a misspelling never silently falls back to a default.

use chrono::{DateTime, NaiveDateTime};
use mamori_enrich::ExplanationSettings;
use serde::Deserialize;

use crate::analyzers::REGISTRY;

/// The organisation: where its clocks are.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrganisationConfig {
    /// IANA time zone every hour-of-day and day-off judgement is made in.
    pub timezone: String,
}

impl Default for OrganisationConfig {
    fn default() -> Self {
        OrganisationConfig { timezone: "Asia/Tokyo".into() }
    }
}

/// Web categories a town adds to the shipped list (category → domains or `*keyword*`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    pub categories: std::collections::BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskConfig {
    /// Days after which a finding counts half as much towards its employee's risk.
    pub half_life_days: f64,
}

impl Default for RiskConfig {
    fn default() -> Self {
        RiskConfig { half_life_days: 30.0 }
    }
}

/// The Sigma rules: whether the ones mamori ships run (a town may replace them with its
/// own, or measure its own alone).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SigmaConfig {
    pub shipped: bool,
}

impl Default for SigmaConfig {
    fn default() -> Self {
        SigmaConfig { shipped: true }
    }
}

/// Everything `detect.toml` says.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub organisation: OrganisationConfig,
    pub explanations: ExplanationSettings,
    pub risk: RiskConfig,
    pub web: WebConfig,
    pub sigma: SigmaConfig,
    /// The analyzers' own sections, as written (each analyzer reads its own).
    pub analyzers: toml::Table,
    pub(crate) tz: chrono_tz::Tz,
}

impl Config {
    /// The organisation's time zone.
    pub fn timezone(&self) -> chrono_tz::Tz {
        self.tz
    }

    /// The domains personal data may be mailed to (`[mail] trusted_domains`), for the
    /// Sigma fields that speak of mail leaving for somewhere untrusted.
    pub fn trusted_mail_domains(&self) -> Vec<String> {
        let configured = self.analyzers.get("mail").and_then(|m| m.get("trusted_domains")).and_then(|d| d.as_array());
        match configured {
            Some(list) => list.iter().filter_map(|d| d.as_str().map(str::to_owned)).collect(),
            None => crate::analyzers::mail::DEFAULT_TRUSTED_DOMAINS.iter().map(|d| (*d).to_owned()).collect(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::from_table(toml::Table::new()).expect("the defaults are valid")
    }
}

/// The sections that are not an analyzer's.
const SHARED: [&str; 5] = ["organisation", "explanations", "risk", "web", "sigma"];

impl Config {
    /// Reads `detect.toml` text.
    pub fn from_toml(text: &str) -> Result<Config, String> {
        let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        Config::from_table(table)
    }

    pub fn from_table(mut table: toml::Table) -> Result<Config, String> {
        fn section<T: for<'de> Deserialize<'de> + Default>(table: &mut toml::Table, name: &str) -> Result<T, String> {
            match table.remove(name) {
                None => Ok(T::default()),
                Some(v) => v.try_into().map_err(|e| format!("[{name}]: {e}")),
            }
        }
        let organisation: OrganisationConfig = section(&mut table, "organisation")?;
        let explanations: ExplanationSettings = section(&mut table, "explanations")?;
        let risk: RiskConfig = section(&mut table, "risk")?;
        let web: WebConfig = section(&mut table, "web")?;
        let sigma: SigmaConfig = section(&mut table, "sigma")?;
        let tz: chrono_tz::Tz = organisation.timezone.parse().map_err(|_| format!("[organisation] timezone: `{}` is not an IANA time zone (e.g. Asia/Tokyo)", organisation.timezone))?;
        for name in table.keys() {
            if !REGISTRY.iter().any(|r| r.section == name) {
                let known: Vec<&str> = SHARED.iter().copied().chain(REGISTRY.iter().map(|r| r.section)).collect();
                return Err(format!("unknown section [{name}]; the sections are: {}", known.join(", ")));
            }
        }
        let config = Config { organisation, explanations, risk, web, sigma, analyzers: table, tz };
        // Every analyzer reads its section now, so that a bad key fails here, not mid-run.
        config.build_analyzers()?;
        Ok(config)
    }

    pub(crate) fn build_analyzers(&self) -> Result<Vec<Box<dyn crate::analyzers::Analyzer>>, String> {
        let mut out = Vec::new();
        for r in REGISTRY {
            let mut section = match self.analyzers.get(r.section) {
                Some(toml::Value::Table(t)) => t.clone(),
                Some(_) => return Err(format!("[{}] must be a table", r.section)),
                None => toml::Table::new(),
            };
            let enabled = match section.remove("enabled") {
                None => true,
                Some(toml::Value::Boolean(b)) => b,
                Some(_) => return Err(format!("[{}] enabled: expected true or false", r.section)),
            };
            if enabled {
                out.push((r.build)(toml::Value::Table(section)).map_err(|e| format!("[{}]: {e}", r.section))?);
            }
        }
        Ok(out)
    }

    /// The organisation's local time of an instant (ms since the epoch).
    pub fn local(&self, ms: i64) -> NaiveDateTime {
        DateTime::from_timestamp_millis(ms).unwrap_or_default().with_timezone(&self.tz).naive_local()
    }

    /// A stable text of every setting, for telling whether saved detection state still
    /// fits.
    pub fn fingerprint(&self) -> String {
        format!("{:?}|{:?}|{:?}|{:?}|{:?}|{:?}", self.organisation, self.explanations, self.risk, self.web, self.sigma, self.analyzers)
    }
}

impl<'de> Deserialize<'de> for Config {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let table = toml::Table::deserialize(d)?;
        Config::from_table(table).map_err(serde::de::Error::custom)
    }
}
