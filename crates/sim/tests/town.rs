//! The simulated town: determinism, master data that loads, ground truth that points at
//! real lines, and the statistics that make it look like a municipality.

use std::collections::BTreeMap;
use std::path::Path;

use mamori_sim::{Params, simulate};

fn small(seed: u64) -> Params {
    Params { residents: 3000, employees: 80, days: 90, seed, ..Default::default() }
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for sub in ["", "master", "logs"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                out.insert(p.strip_prefix(dir).unwrap().display().to_string(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn the_same_seed_writes_the_same_bytes_and_another_seed_does_not() {
    let (a, b, c) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    simulate(&small(11), a.path()).unwrap();
    simulate(&small(11), b.path()).unwrap();
    simulate(&small(12), c.path()).unwrap();
    let (fa, fb, fc) = (files(a.path()), files(b.path()), files(c.path()));
    assert!(fa.len() >= 20, "{:?}", fa.keys());
    assert_eq!(fa, fb, "same seed, same bytes");
    assert_ne!(fa["logs/juki_access.csv"], fc["logs/juki_access.csv"]);
    assert_ne!(fa["master/residents.csv"], fc["master/residents.csv"]);
}

/// A year of a large town does not fit in memory: the writer must append each working day
/// as it ends and keep none of its events.
#[test]
fn each_working_day_is_on_disk_when_it_ends_and_no_event_of_it_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut days: Vec<chrono::NaiveDate> = Vec::new();
    let mut accesses = 0;
    mamori_sim::simulate_observed(&small(7), dir.path(), |day, w| {
        assert!(days.last().is_none_or(|last| *last < day), "{day} after {days:?}");
        days.push(day);
        let held = w.accesses.len() + w.logons.len() + w.badges.len() + w.usb.len() + w.files.len() + w.mails.len() + w.web.len() + w.policy.len() + w.agent_starts.len() + w.prints.len();
        assert_eq!(held, 0, "{day}: events kept after the day was written");
        assert!(w.master.cases.is_empty() && w.master.counter_visits.is_empty(), "{day}: cases or visits kept");
        assert!(w.written.accesses > accesses, "{day}: the day's accesses went to the writer");
        accesses = w.written.accesses;
        // Everyone badges in and out: the badge log ends with this day.
        let badges = std::fs::read_to_string(dir.path().join("logs/badge.csv")).unwrap();
        let last = badges.lines().last().unwrap();
        assert!(last.starts_with(&day.to_string()), "{day}: the badge log ends with {last}");
    })
    .unwrap();
    assert!(days.len() > 55, "every working day of the 90: {}", days.len());
}

#[test]
fn master_data_loads_without_a_rejected_row() {
    let dir = tempfile::tempdir().unwrap();
    simulate(&small(3), dir.path()).unwrap();
    let loaded = mamori_master::load_dir(&dir.path().join("master")).unwrap();
    assert!(loaded.errors.is_empty(), "{:?}", &loaded.errors[..loaded.errors.len().min(5)]);
    assert!(loaded.unresolved.is_empty(), "{:?}", &loaded.unresolved[..loaded.unresolved.len().min(5)]);
    assert!((3000..3100).contains(&loaded.data.residents.len()), "3,000 residents and the births of the period: {}", loaded.data.residents.len());
    assert!(loaded.data.cases.iter().any(|c| c.kind == "出生届") && loaded.data.cases.iter().any(|c| c.kind == "転居届"));
    let moved = loaded.data.households.iter().filter(|h| h.period.to.is_some()).count();
    assert!(moved > 100, "households that moved keep their old address until the day before: {moved}");
    assert!(loaded.data.holidays.iter().any(|h| h.name == "春分の日"));
    assert!(loaded.data.vip.iter().any(|v| v.reason == "市長"));
}

#[test]
fn every_incident_has_truth_pointing_at_unjustified_lines_that_exist() {
    let dir = tempfile::tempdir().unwrap();
    simulate(&small(5), dir.path()).unwrap();
    let truth = std::fs::read_to_string(dir.path().join("truth.jsonl")).unwrap();
    let labels = std::fs::read_to_string(dir.path().join("labels.csv")).unwrap();
    let unjustified: std::collections::BTreeSet<(String, u64)> = labels
        .lines()
        .skip(1)
        .filter(|l| l.split(',').nth(3) == Some("no"))
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[1].to_owned(), c[2].parse().unwrap())
        })
        .collect();
    let mut scenarios = std::collections::BTreeSet::new();
    let mut business_events = 0;
    let mut negatives = 0;
    let mut line_counts: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    for line in truth.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v.get("town").is_some() {
            assert!(v["town"]["practices"].is_array(), "{line}");
            continue;
        }
        let negative = v["hard_negative"] == true;
        if negative {
            negatives += 1;
        } else {
            scenarios.insert(v["scenario"].as_str().unwrap().to_owned());
        }
        let events = v["events"].as_array().unwrap();
        assert!(!events.is_empty(), "{line}");
        for e in events {
            let (file, n) = (e["file"].as_str().unwrap(), e["line"].as_u64().unwrap());
            let lines = *line_counts.entry(file.to_owned()).or_insert_with(|| std::fs::read(dir.path().join(file)).unwrap().split(|&b| b == b'\n').count() as u64);
            assert!(lines >= n, "{file}:{n} exists");
            // Record accesses carry labels; device events (S7) do not. A hard negative's
            // accesses are legitimate.
            let business = ["juki", "zeimu", "koseki", "fukushi", "saijo"].contains(&e["source"].as_str().unwrap());
            if negative {
                assert!(!unjustified.contains(&(file.to_owned(), n)), "{file}:{n} of a hard negative is labelled justified");
                continue;
            }
            business_events += usize::from(business);
            assert!(!business || unjustified.contains(&(file.to_owned(), n)), "{file}:{n} is labelled unjustified");
        }
    }
    assert_eq!(
        scenarios.into_iter().collect::<Vec<_>>(),
        ["B1", "B2", "B3", "B4", "S1", "S10", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9"],
        "every scenario of the brief, and the four behaviour incidents"
    );
    assert!(negatives >= 3, "the town's practices give hard negatives");
    assert_eq!(unjustified.len(), business_events, "every unjustified access is some incident's, and no more");
    let s1_and_s2: usize = truth
        .lines()
        .filter(|l| (l.contains("\"S1\"") || l.contains("\"S2\"")) && !l.contains("shared-account"))
        .map(|l| l.matches("\"line\"").count())
        .sum();
    assert_eq!(s1_and_s2, 14, "S1: 7 look-ups of tax and resident records, 3 of them (S2) on colleagues' terminals");
}

#[test]
fn the_town_looks_like_a_town() {
    let world = mamori_sim::run(&Params { residents: 20_000, employees: 300, ..Default::default() });
    // Surnames at their real frequency: 佐藤 first, about 1.5%, and shared by many.
    let mut surnames: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &world.town.people {
        *surnames.entry(p.surname.as_str()).or_default() += 1;
    }
    let mut ranked: Vec<(&&str, &usize)> = surnames.iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(a.1));
    let top2: std::collections::BTreeSet<&str> = ranked.iter().take(2).map(|(s, _)| **s).collect();
    let share = *ranked[0].1 as f64 / 20_000.0;
    assert!(top2 == ["佐藤", "鈴木"].into() && (0.01..0.03).contains(&share), "佐藤 and 鈴木 lead, at about 1.5%: {ranked:?}");
    assert!(surnames.keys().any(|s| *s == "髙橋") && surnames.keys().any(|s| *s == "高橋"), "variant spellings occur");
    // Counters serve hundreds of residents a day.
    let by_day = |pred: &dyn Fn(&mamori_sim::Access) -> bool| {
        let mut days: BTreeMap<chrono::NaiveDate, usize> = BTreeMap::new();
        world.accesses.iter().filter(|a| pred(a)).for_each(|a| *days.entry(a.at.date()).or_default() += 1);
        days
    };
    let counter = by_day(&|a| a.host.starts_with("MADO"));
    let mean = counter.values().sum::<usize>() / counter.len();
    assert!(mean > 300, "counter accesses a day: {mean}");
    // Tax staff work past 19:00 in the tax season, and nobody does in January.
    let late = |month: u32| {
        world.accesses.iter().filter(|a| a.system == mamori_sim::System::Zeimu && chrono::Timelike::hour(&a.at) >= 19 && chrono::Datelike::month(&a.at.date()) == month).count()
    };
    assert!(late(3) > 100 && late(1) == 0, "March {} January {}", late(3), late(1));
    // The 1 April transfer wave: a second posting from 1 April for about 15% of staff.
    let april = chrono::NaiveDate::from_ymd_opt(2024, 4, 1).unwrap();
    let moved = world.master.assignments.iter().filter(|a| a.period.from == april).count();
    assert!((25..70).contains(&moved), "{moved} transfers");
}
