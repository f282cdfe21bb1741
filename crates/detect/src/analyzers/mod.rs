//! The analyzers. Each is one module of the same shape: its settings (a `detect.toml`
//! section named after the module, every key with a default), its state (keyed by employee
//! or terminal, serialisable, so that detection can go on from a saved state and be split
//! across machines by employee), what it observes, the rules it raises (with their
//! Japanese and English names and how their findings read), and its tests.
//!
//! Adding one: a new module implementing [`Analyzer`], a line in [`REGISTRY`], and its
//! entry in `docs/detection.md`.

use mamori_model::ClassUid;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::findings::{Findings, Rule};
use crate::observe::{Context, Observation};

mod account_use;
mod after_hours;
mod agent_silence;
mod audit_policy;
mod behaviour;
mod browsing;
mod crowd;
mod devices;
mod gate;
mod handover;
mod lapsed_account;
pub(crate) mod mail;
mod new_records;
mod relatives;
mod sessions;
mod shares;
mod vip;
mod volume;

/// One analyzer: observes events of some classes, keeps its own state, notes evidence.
pub trait Analyzer: Send {
    /// The event classes it wants to see.
    fn classes(&self) -> &'static [ClassUid];
    /// Judges one event (in time order) and notes any evidence.
    fn observe(&mut self, o: &Observation, cx: &Context, out: &mut Findings);
    /// Its state, to save after a run (none for an analyzer that judges each event alone).
    fn save(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    /// Goes on from a saved state.
    fn restore(&mut self, _state: serde_json::Value) -> Result<(), String> {
        Ok(())
    }
}

/// How an analyzer is found and built.
pub struct Registration {
    /// Its `detect.toml` section (and module name).
    pub section: &'static str,
    /// Builds it from its section (without `enabled`, which the registry handles).
    pub build: fn(toml::Value) -> Result<Box<dyn Analyzer>, String>,
    pub rules: &'static [Rule],
}

/// Every analyzer, in the order they see each event.
pub const REGISTRY: &[Registration] = &[
    lapsed_account::REGISTRATION,
    account_use::REGISTRATION,
    sessions::REGISTRATION,
    relatives::REGISTRATION,
    vip::REGISTRATION,
    crowd::REGISTRATION,
    browsing::REGISTRATION,
    new_records::REGISTRATION,
    after_hours::REGISTRATION,
    volume::REGISTRATION,
    shares::REGISTRATION,
    handover::REGISTRATION,
    devices::REGISTRATION,
    agent_silence::REGISTRATION,
    mail::REGISTRATION,
    audit_policy::REGISTRATION,
    behaviour::REGISTRATION,
    gate::REGISTRATION,
];

/// Reads an analyzer's section into its settings type.
pub(crate) fn settings<T: DeserializeOwned>(v: toml::Value) -> Result<T, String> {
    v.try_into().map_err(|e: toml::de::Error| e.to_string())
}

/// Serialises an analyzer's state.
pub(crate) fn save<T: Serialize>(state: &T) -> serde_json::Value {
    serde_json::to_value(state).expect("analyzer state serialises")
}

/// Restores an analyzer's state.
pub(crate) fn restore<T: DeserializeOwned + Default>(into: &mut T, v: serde_json::Value) -> Result<(), String> {
    // An analyzer that kept no state before saved none: it starts empty, rather than the
    // whole journal being judged again.
    *into = if v.is_null() { T::default() } else { serde_json::from_value(v).map_err(|e| e.to_string())? };
    Ok(())
}

/// P(X ≥ k) for X ~ Poisson(λ). Below the mean it is 1 − P(X < k), the terms summed in
/// log space (a term far below the mean underflows to 0 on its own); above it, the terms
/// from k upward, so that a tail far below 1e-16 is still told apart from another.
pub(crate) fn poisson_tail(lambda: f64, k: usize) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if lambda <= 0.0 {
        return 0.0;
    }
    let ln_term = |i: usize| -lambda + i as f64 * lambda.ln() - ln_factorial(i);
    if (k as f64) <= lambda {
        let below: f64 = (0..k).map(|i| ln_term(i).exp()).sum();
        return (1.0 - below).clamp(0.0, 1.0);
    }
    let (mut term, mut sum) = (ln_term(k).exp(), 0.0);
    for i in k.. {
        sum += term;
        term *= lambda / (i + 1) as f64;
        if term <= sum * 1e-17 || i > k + 10_000 {
            break;
        }
    }
    sum.min(1.0)
}

/// ln(n!), exact in the sum for small n and by Stirling's series beyond.
fn ln_factorial(n: usize) -> f64 {
    if n < 64 {
        return (2..=n).map(|i| (i as f64).ln()).sum();
    }
    let x = n as f64;
    x * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI * x).ln() + 1.0 / (12.0 * x) - 1.0 / (360.0 * x.powi(3))
}

#[cfg(test)]
mod poisson_tests {
    use super::poisson_tail;

    #[test]
    fn the_poisson_tail_is_right_far_below_and_far_above_the_mean() {
        assert!((poisson_tail(1.0, 1) - (1.0 - (-1.0f64).exp())).abs() < 1e-12);
        assert!((poisson_tail(1000.0, 10) - 1.0).abs() < 1e-12, "ten when a thousand are expected is no surprise");
        assert!((poisson_tail(1800.0, 40) - 1.0).abs() < 1e-12);
        assert!((poisson_tail(100.0, 100) - 0.5133).abs() < 1e-3, "about half at the mean");
        let far = poisson_tail(0.5, 30);
        assert!(far > 0.0 && far < 1e-35, "{far}");
        assert!(poisson_tail(0.5, 31) < far);
    }
}

/// Implements `save` and `restore` over an analyzer's `state` field.
macro_rules! state_field {
    () => {
        fn save(&self) -> serde_json::Value {
            crate::analyzers::save(&self.state)
        }
        fn restore(&mut self, v: serde_json::Value) -> Result<(), String> {
            crate::analyzers::restore(&mut self.state, v)
        }
    };
}
pub(crate) use state_field;

