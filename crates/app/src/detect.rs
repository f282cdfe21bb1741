//! `mamori detect`, `findings` and `eval`: running detection over the store day by day
//! (bounded memory), and measuring it against a simulated town's ground truth.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;

use anyhow::{Context, Result};
use mamori_journal::{Journal, SqliteJournal, TimeRange};
use mamori_model::master::MasterData;
use mamori_model::{Event, Finding, Severity};
use serde::de::DeserializeOwned;

const DAY_MS: i64 = 86_400_000;

/// The master data stored by `mamori master load`.
pub fn master_from_store(j: &SqliteJournal) -> Result<MasterData> {
    fn rows<T: DeserializeOwned>(j: &SqliteJournal, kind: &str) -> Result<Vec<T>> {
        j.master_rows(kind)?.iter().map(|r| serde_json::from_str(r).with_context(|| crate::tr!("保存されている {kind} の行を読めません", "stored {kind} row"))).collect()
    }
    Ok(MasterData {
        departments: rows(j, "departments")?,
        employees: rows(j, "employees")?,
        assignments: rows(j, "assignments")?,
        accounts: rows(j, "accounts")?,
        residents: rows(j, "residents")?,
        households: rows(j, "households")?,
        family_links: rows(j, "family_links")?,
        cases: rows(j, "cases")?,
        counter_visits: rows(j, "counter_visits")?,
        terminals: rows(j, "terminals")?,
        devices: rows(j, "devices")?,
        shares: rows(j, "shares")?,
        vip: rows(j, "vip")?,
        holidays: rows(j, "holidays")?,
        case_kinds: rows(j, "case_kinds")?,
        open_days: rows(j, "open_days")?,
        traits: rows(j, "traits")?,
    })
}

/// The master data one resident's disclosure needs, read by key so that a disclosure
/// does not parse a whole town: of the residents' side the resident, their household
/// then and since, their family links, and the cases and visits of any of them; of the
/// staff side the `accounts` that touched the records, their holders and postings; and
/// the departments. (Terminals, devices, shares, the watch-list and the calendar are
/// left empty: a disclosure does not ask about them.) A store loaded before keys were
/// kept is read whole.
pub fn master_for_disclosure(j: &SqliteJournal, resident: &str, accounts: &[String]) -> Result<MasterData> {
    fn parse<T: DeserializeOwned>(kind: &str, rows: Vec<String>) -> Result<Vec<T>> {
        rows.iter().map(|r| serde_json::from_str(r).with_context(|| crate::tr!("保存されている {kind} の行を読めません", "stored {kind} row"))).collect()
    }
    let by = |kind: &str, keys: &[String]| -> Result<Option<Vec<String>>> { Ok(j.master_rows_by_key(kind, keys)?) };
    let (Some(own), Some(account_rows)) = (by("households", &[resident.to_owned()])?, by("accounts", accounts)?) else { return master_from_store(j) };
    let own: Vec<mamori_model::master::HouseholdMembership> = parse("households", own)?;
    let ids: Vec<String> = own.iter().map(|h| h.household.clone()).collect();
    let households: Vec<mamori_model::master::HouseholdMembership> = parse("households", by("households", &ids)?.unwrap_or_default())?;
    let mut people: Vec<String> = households.iter().map(|h| h.resident_uid.clone()).chain([resident.to_owned()]).collect();
    people.sort();
    people.dedup();
    let accounts: Vec<mamori_model::master::Account> = parse("accounts", account_rows)?;
    let mut staff: Vec<String> = accounts.iter().filter_map(|a| a.employee_id.clone()).collect();
    staff.sort();
    staff.dedup();
    let need = |kind: &str, keys: &[String]| -> Result<Vec<String>> {
        by(kind, keys)?.with_context(|| crate::tr!("{kind} がキーなしで保存されています: マスタデータを取り込み直してください", "{kind} stored without keys: load the master data again"))
    };
    Ok(MasterData {
        departments: parse("departments", j.master_rows("departments")?)?,
        employees: parse("employees", need("employees", &staff)?)?,
        assignments: parse("assignments", need("assignments", &staff)?)?,
        accounts,
        residents: parse("residents", need("residents", &people)?)?,
        households,
        family_links: parse("family_links", need("family_links", &[resident.to_owned()])?)?,
        // Sanctioned extracts concern everyone (`*`).
        cases: parse("cases", need("cases", &people.iter().cloned().chain(["*".to_owned()]).collect::<Vec<_>>())?)?,
        counter_visits: parse("counter_visits", need("counter_visits", &people)?)?,
        case_kinds: parse("case_kinds", j.master_rows("case_kinds")?)?,
        ..MasterData::default()
    })
}

/// The most appended events [`each_event`] reads by id (their times and ids, 16 bytes
/// each, are held and sorted first).
const BY_ID_AT_MOST: u64 = 4_000_000;

/// Calls `f` with every stored event from `from` (ms) on with an id above `after`, in
/// time order, read a day at a time (at most two days' bodies and a few thousand decoded
/// events held) — or, when no more than [`BY_ID_AT_MOST`] events were appended after
/// `after`, by id: an incremental step then costs what was appended, not a query per day
/// its times span. Everything is read in one snapshot of the store: an event appended
/// meanwhile to a day already read gets an id above every one read, so the next step
/// finds it.
pub fn each_event(j: &SqliteJournal, from: i64, after: Option<u64>, mut f: impl FnMut(u64, &Event)) -> Result<()> {
    each_chunk(j, from, after, |chunk| {
        for (seq, event) in &chunk {
            f(*seq, event);
        }
        Ok(())
    })
}

type Decoded = Result<Vec<(u64, Event)>, mamori_journal::JournalError>;

/// [`each_event`], handing the events on in chunks the caller owns (to pass them on to
/// another thread). Bodies are decoded on a second thread, a batch ahead of `f`: decoding
/// JSON is a quarter of a rebuild's time, and `f` (the detector, not `Send`) stays here.
pub fn each_chunk(j: &SqliteJournal, from: i64, after: Option<u64>, mut f: impl FnMut(Vec<(u64, Event)>) -> Result<()>) -> Result<()> {
    std::thread::scope(|scope| {
        let (raw_tx, raw_rx) = std::sync::mpsc::sync_channel::<Vec<mamori_journal::StoredEvent>>(1);
        let (decoded_tx, decoded_rx) = std::sync::mpsc::sync_channel::<Decoded>(8);
        let decoder = scope.spawn(move || {
            for batch in raw_rx {
                for chunk in batch.chunks(DECODE_CHUNK) {
                    if decoded_tx.send(chunk.iter().map(|s| Ok((s.seq, s.event()?))).collect()).is_err() {
                        return;
                    }
                }
                // An empty chunk ends the batch.
                if decoded_tx.send(Ok(Vec::new())).is_err() {
                    return;
                }
            }
        });
        // Owns both ends it uses, so that on any return the decoder sees them closed
        // and stops.
        let mut judge_all = |raw_tx: std::sync::mpsc::SyncSender<Vec<mamori_journal::StoredEvent>>, decoded_rx: std::sync::mpsc::Receiver<Decoded>| -> Result<()> {
            let judge_batch = |f: &mut dyn FnMut(Vec<(u64, Event)>) -> Result<()>| -> Result<()> {
                loop {
                    let chunk = decoded_rx.recv().with_context(|| crate::tr!("イベントをデコードするスレッドが止まりました", "the decoding thread stopped"))??;
                    if chunk.is_empty() {
                        return Ok(());
                    }
                    f(chunk)?;
                }
            };
            let mut queued = 0usize;
            // Sends `batch` to be decoded, and judges the one before it meanwhile.
            let mut push = |batch: Vec<mamori_journal::StoredEvent>, f: &mut dyn FnMut(Vec<(u64, Event)>) -> Result<()>| -> Result<()> {
                raw_tx.send(batch).with_context(|| crate::tr!("イベントをデコードするスレッドが止まりました", "the decoding thread stopped"))?;
                queued += 1;
                if queued > 1 {
                    judge_batch(f)?;
                    queued -= 1;
                }
                Ok(())
            };
            j.read_snapshot(|| read_batches(j, from, after, &mut |batch| push(batch, &mut f)))?;
            drop(push);
            drop(raw_tx);
            for _ in 0..queued {
                judge_batch(&mut f)?;
            }
            Ok(())
        };
        let judged = judge_all(raw_tx, decoded_rx);
        if decoder.join().is_err() {
            anyhow::bail!(crate::tr!("保存済みのイベントをデコードするスレッドが異常終了しました", "the thread decoding stored events panicked"));
        }
        judged
    })
}

/// Events decoded and handed on at a time by [`each_event`]'s decoding thread.
const DECODE_CHUNK: usize = 1024;

/// [`each_event`]'s reading: the stored events in batches, in the order `f` is to see them.
fn read_batches(j: &SqliteJournal, from: i64, after: Option<u64>, each: &mut dyn FnMut(Vec<mamori_journal::StoredEvent>) -> Result<()>) -> Result<()> {
    // By id only from bodies the store holds: a released body by id is a request to the
    // archive for each event, where the day-by-day path fetches a day's at once.
    let released_after = |after: u64| -> Result<bool> { Ok(j.released_segments()?.iter().any(|s| (s + 1) << j.segment_shift() > after + 1)) };
    if let Some(after) = after
        && j.size()?.saturating_sub(after + 1) <= BY_ID_AT_MOST
        && !released_after(after)?
    {
        let mut batch = Vec::new();
        for (_, seq) in j.times_after(after, from)? {
            batch.push(j.get(seq)?.with_context(|| crate::tr!("直前の一覧にあったイベント {seq} が見つかりません", "event {seq}, listed a moment ago"))?);
            if batch.len() == BY_ID_BATCH {
                each(std::mem::take(&mut batch))?;
            }
        }
        return if batch.is_empty() { Ok(()) } else { each(batch) };
    }
    let Some((first, last)) = j.time_span()? else { return Ok(()) };
    let mut from = from.max(first);
    while from <= last {
        let to = from + DAY_MS;
        let mut day = j.by_time(TimeRange { from, to }, usize::MAX)?;
        if let Some(a) = after {
            day.retain(|stored| stored.seq > a);
        }
        each(day)?;
        from = to;
    }
    Ok(())
}

/// Events read by id before they are handed on to be decoded.
const BY_ID_BATCH: usize = 8192;

pub struct DetectSummary {
    pub accesses: u64,
    pub explained: u64,
    pub findings: Vec<Finding>,
    /// Events judged in this run.
    pub judged: u64,
    /// Why this run started from scratch, if it did.
    pub rebuilt: Option<String>,
    /// Findings set aside by closed cases (kept, marked, not raised).
    pub suppressed: usize,
}

/// The detection settings in `path`, or the defaults.
pub fn load_config(path: Option<&std::path::Path>) -> Result<mamori_detect::Config> {
    let Some(path) = path else { return Ok(mamori_detect::Config::default()) };
    let text = std::fs::read_to_string(path).with_context(|| crate::tr!("{} を読めません", "reading {}", path.display()))?;
    mamori_detect::Config::from_toml(&text).map_err(anyhow::Error::msg).with_context(|| format!("{}", path.display()))
}

/// The Sigma rules to run: the shipped ones unless `shipped` is off (`[sigma] shipped =
/// false`), and every `*.yml` in `extra` (a folder's `pipeline.yml` replaces the shipped
/// field mapping).
pub fn sigma_rules(extra: Option<&std::path::Path>, shipped: bool) -> Result<(Vec<(String, String)>, String)> {
    let mut files: Vec<(String, String)> = if shipped { mamori_sigma::SHIPPED.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect() } else { Vec::new() };
    let mut pipeline = mamori_sigma::SHIPPED_PIPELINE.to_owned();
    if let Some(dir) = extra {
        let mut paths: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
            .with_context(|| crate::tr!("{} を読めません", "reading {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
            .collect();
        paths.sort();
        for p in paths {
            let text = std::fs::read_to_string(&p).with_context(|| crate::tr!("{} を読めません", "reading {}", p.display()))?;
            if p.file_stem().is_some_and(|s| s == "pipeline") {
                pipeline = text;
            } else if !shipped || !mamori_sigma::SHIPPED.iter().any(|(n, _)| p.file_name().is_some_and(|f| f == *n)) {
                files.push((p.display().to_string(), text));
            }
        }
    }
    Ok((files, pipeline))
}

/// The tag of the journal event that holds an explanation model.
const MODEL_TAG: &str = "explanation-model";

/// The explanation model in force: the one last learned and recorded in the log.
pub fn stored_model(j: &SqliteJournal) -> Result<Option<mamori_enrich::ExplanationModel>> {
    let Some(seq) = j.tagged(MODEL_TAG)?.into_iter().map(|(_, seq)| seq).max() else { return Ok(None) };
    let event = j.get(seq)?.with_context(|| crate::tr!("説明モデルのイベントが見つかりません", "the explanation model's event"))?.event()?;
    let model = event.unmapped.extra.get("model").with_context(|| crate::tr!("説明モデルのイベントにモデルがありません", "the explanation model's event holds no model"))?;
    Ok(Some(serde_json::from_value(model.clone()).with_context(|| crate::tr!("保存されている説明モデルを読めません", "stored explanation model"))?))
}

/// The model reports explain with: the stored one, else the default floors.
pub fn model_for_reports(j: &SqliteJournal, dir: &mamori_enrich::Directory) -> Result<mamori_enrich::ExplanationModel> {
    Ok(stored_model(j)?.unwrap_or_else(|| mamori_enrich::ExplanationModel::floors(&mamori_enrich::ExplanationSettings::default(), dir)))
}

/// Learns the explanation windows from every event in the store (`mamori explain learn`)
/// and records the model in the log, where every later run and report reads it.
pub fn learn(j: &mut SqliteJournal, config: &mamori_detect::Config) -> Result<mamori_enrich::ExplanationModel> {
    let master = master_from_store(j)?;
    let dir = mamori_enrich::Directory::new(&master);
    let mut learning = mamori_detect::Learning::new(&dir, config.clone());
    each_event(j, i64::MIN, None, |seq, e| learning.observe(seq, e))?;
    let model = learning.finish();
    let kept: Vec<&str> = model.templates.iter().filter(|t| t.kept && t.source == mamori_enrich::Source::Learned).map(|t| t.template.as_str()).collect();
    let detail = format!("explanation model learned from {} sampled accesses; learned: {}", model.sampled, if kept.is_empty() { "none".into() } else { kept.join(", ") });
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
    let mut event = mamori_model::Event::new(mamori_model::ClassUid::ApiActivity, 1, now, &crate::audit::operator(), "mamori");
    event.status_id = mamori_model::StatusId::Success;
    event.unmapped.operation = Some("explain.learn".into());
    event.unmapped.extra.insert("detail".into(), detail.into());
    event.unmapped.extra.insert("model".into(), serde_json::to_value(&model)?);
    event.unmapped.extra.insert("tags".into(), serde_json::json!([[MODEL_TAG, "model"]]));
    j.append(mamori_journal::Batch { events: &[mamori_journal::PreparedEvent::new(&event)], tags: &[(MODEL_TAG, "model")], ..Default::default() })?;
    Ok(model)
}

/// What detection judges under, read from the store once: master data, the explanation
/// model, the settings and the Sigma rules' text, and the fingerprint of them all that a
/// saved state must match. Streaming detection (`serve --detect`) keeps one between
/// batches and loads it again only when the master data or the model in the log change.
pub struct Setup {
    pub master: MasterData,
    model: mamori_enrich::ExplanationModel,
    config: mamori_detect::Config,
    files: Vec<(String, String)>,
    pipeline: String,
    fingerprint: String,
    /// The store's [`generation`] when loaded.
    generation: (Option<u64>, Option<u64>),
}

fn model_event(j: &SqliteJournal) -> Result<Option<u64>> {
    Ok(j.tagged(MODEL_TAG)?.into_iter().map(|(_, seq)| seq).max())
}

/// The events of the last master-data load and the last explanation model: what is built
/// from master data and the model (detection's setup, the gate's directory) is current
/// while these are the same. Two rows read, where hashing the master data reads them all.
pub fn generation(j: &SqliteJournal) -> Result<(Option<u64>, Option<u64>)> {
    Ok((j.master_generation()?, model_event(j)?))
}

impl Setup {
    /// Reads what detection needs; with no explanation model in the log, one is learned
    /// first (and read back, so that every run sees the same values).
    pub fn load(j: &mut SqliteJournal, config: mamori_detect::Config, sigma: Option<&std::path::Path>) -> Result<Setup> {
        let model = match stored_model(j)? {
            Some(m) => m,
            None => {
                learn(j, &config)?;
                stored_model(j)?.with_context(|| crate::tr!("記録したばかりの説明モデルが見つかりません", "the explanation model just recorded"))?
            }
        };
        let generation = generation(j)?;
        let master = master_from_store(j)?;
        let (files, pipeline) = sigma_rules(sigma, config.sigma.shipped)?;
        let master_digest = j.master_digest()?;
        let fingerprint = {
            use sha2::Digest;
            let mut h = sha2::Sha256::new();
            h.update(config.fingerprint());
            h.update(serde_json::to_string(&model)?);
            for (name, text) in &files {
                h.update(name);
                h.update(text);
            }
            h.update(&pipeline);
            h.update(&master_digest);
            h.update(env!("CARGO_PKG_VERSION"));
            // A build that judges differently (other analyzers, rules or logic) judges
            // everything again: what it finds in older events is not in the saved findings.
            h.update(mamori_detect::LOGIC_DIGEST);
            for rule in mamori_detect::REGISTRY.iter().flat_map(|r| r.rules.iter()) {
                h.update(rule.id);
            }
            h.finalize().iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        Ok(Setup { master, model, config, files, pipeline, fingerprint, generation })
    }

    /// Whether the store still holds the master data and model this was loaded with (the
    /// settings and rules are the process's own and cannot change under it). Asked before
    /// every streaming batch, so it reads which load and model are the latest, not the rows.
    pub fn current(&self, j: &SqliteJournal) -> Result<bool> {
        Ok(generation(j)? == self.generation)
    }

    fn rules<'d>(&self, dir: &'d mamori_enrich::Directory) -> Result<mamori_sigma::SigmaRules<'d>> {
        let tz = self.config.timezone();
        let web = mamori_enrich::WebCategories::new(&self.config.web.categories);
        Ok(mamori_sigma::SigmaRules::new(dir, &self.files, Some(&self.pipeline)).map_err(anyhow::Error::msg)?.in_timezone(tz).with_web(web).with_trusted_domains(self.config.trusted_mail_domains()))
    }
}

/// Detection in progress over one [`Setup`]: the detector and the Sigma rules with their
/// state, and how far they have judged. [`Session::step`] judges what was appended since
/// and commits; the CLI takes one step, streaming detection one per batch.
/// Why a run judged everything again: English (the log's and the server log's form) and
/// Japanese (what the CLI says by default, [`rebuild_reason_ja`]).
pub const REBUILD_ASKED: (&str, &str) = ("--rebuild", "--rebuild の指定");
pub const REBUILD_FIRST_RUN: (&str, &str) = ("no earlier run", "初めての実行");
pub const REBUILD_SETUP_CHANGED: (&str, &str) = ("the settings, rules, explanation model, master data or mamori's judging logic (another build) changed", "設定・ルール・説明モデル・マスタデータ・mamori の判定ロジック（別のビルド）のいずれかが変わった");
pub const REBUILD_OLDER_EVENTS: (&str, &str) = ("events older than those already judged arrived", "判定済みのイベントより古いイベントが届いた");
pub const REBUILD_OLDER_DECLARATION: (&str, &str) = ("a declaration at the gate older than the events already judged arrived", "判定済みのイベントより古い利用目的の申告が届いた");
pub const REBUILD_OTHER_VERSION: (&str, &str) = ("the saved state is from another version", "保存された状態が別の版のもの");

/// The Japanese of a reason [`DetectSummary::rebuilt`] gives.
pub fn rebuild_reason_ja(reason: &str) -> &str {
    [REBUILD_ASKED, REBUILD_FIRST_RUN, REBUILD_SETUP_CHANGED, REBUILD_OLDER_EVENTS, REBUILD_OLDER_DECLARATION, REBUILD_OTHER_VERSION]
        .into_iter()
        .find(|(en, _)| *en == reason)
        .map_or(reason, |(_, ja)| ja)
}

pub struct Session<'d> {
    setup: &'d Setup,
    rules: mamori_sigma::SigmaRules<'d>,
    detector: mamori_detect::Detector<'d>,
    /// The last event judged (`None`: nothing yet, the next step is from scratch).
    last_seq: Option<u64>,
    /// The last event judged when the state was last saved.
    saved_seq: Option<u64>,
    /// The latest time of a judged event (mamori's own actions aside).
    watermark: i64,
    /// Why this session started from scratch, until its first step reports it.
    rebuilt: Option<String>,
}

impl<'d> Session<'d> {
    /// Goes on from the saved state when it was saved under the same setup and no older
    /// events arrived since; otherwise starts from scratch (and says why). `dir` must be
    /// the directory of `setup.master`.
    pub fn open(j: &SqliteJournal, setup: &'d Setup, dir: &'d mamori_enrich::Directory, rebuild: bool) -> Result<Session<'d>> {
        let mut rules = setup.rules(dir)?;
        let mut why: Option<String> = None;
        let mut resumed: Option<(u64, i64, mamori_detect::Detector<'d>)> = None;
        match j.detect_state()? {
            _ if rebuild => why = Some(REBUILD_ASKED.0.into()),
            None => why = Some(REBUILD_FIRST_RUN.0.into()),
            Some((_, _, f, _)) if f != setup.fingerprint => why = Some(REBUILD_SETUP_CHANGED.0.into()),
            Some((last, watermark, _, state)) => match j.min_time_after(last)? {
                Some(t) if t < watermark => why = Some(REBUILD_OLDER_EVENTS.0.into()),
                _ if declared_before(j, last, watermark)? => why = Some(REBUILD_OLDER_DECLARATION.0.into()),
                _ => {
                    let v: serde_json::Value = serde_json::from_str(&state).with_context(|| crate::tr!("保存されている検知の状態を読めません", "saved detection state"))?;
                    let restored = serde_json::from_value::<mamori_detect::DetectorState>(v["detector"].clone())
                        .ok()
                        .and_then(|s| mamori_detect::Detector::resume(dir, setup.config.clone(), setup.model.clone(), s).ok())
                        .filter(|_| rules.restore(v["sigma"].clone()));
                    match restored {
                        Some(d) => resumed = Some((last, watermark, d)),
                        None => {
                            why = Some(REBUILD_OTHER_VERSION.0.into());
                            // A failed restore may have left part of the rules' state behind.
                            rules = setup.rules(dir)?;
                        }
                    }
                }
            },
        }
        Ok(match resumed {
            Some((last, watermark, detector)) => Session { setup, rules, detector, last_seq: Some(last), saved_seq: Some(last), watermark, rebuilt: None },
            None => Session {
                setup,
                rules,
                detector: mamori_detect::Detector::with_model(dir, setup.config.clone(), setup.model.clone()),
                last_seq: None,
                saved_seq: None,
                watermark: i64::MIN,
                rebuilt: why,
            },
        })
    }

    /// Whether the state saved in the store is this session's own: another run (`mamori
    /// detect` from the command line, a `--rebuild`) may have judged and saved since, and
    /// then this session must be opened again from what it saved.
    pub fn matches_saved(&self, j: &SqliteJournal) -> Result<bool> {
        Ok(match (j.detect_state_head()?, self.saved_seq) {
            (Some((last, fingerprint)), Some(own)) => last == own && fingerprint == self.setup.fingerprint,
            (None, None) => true,
            _ => false,
        })
    }

    /// Judges the events appended since the last step, applies the suppressions closed
    /// cases set, and commits findings, verdicts and state. `None`: events older than
    /// those judged arrived, and the session must be opened again (it starts over).
    pub fn step(&mut self, j: &mut SqliteJournal) -> Result<Option<DetectSummary>> {
        self.step_saving(j, true)
    }

    /// [`Session::step`], saving the state only when `save_state` (or on a first step from
    /// scratch): writing the whole state costs what the state weighs, not what the batch
    /// does, so streaming detection saves it now and then. A restart goes on from the
    /// state last saved and judges the events since again, to the same verdicts.
    pub fn step_saving(&mut self, j: &mut SqliteJournal, save_state: bool) -> Result<Option<DetectSummary>> {
        let after = self.last_seq;
        if let Some(last) = after
            && (j.min_time_after(last)?.is_some_and(|t| t < self.watermark) || declared_before(j, last, self.watermark)?)
        {
            return Ok(None);
        }
        let from = self.watermark;
        let (mut last_seq, mut watermark) = (after.unwrap_or(0), self.watermark);
        let mut verdicts = Vec::new();
        let mut judged = 0u64;
        let (detector, rules) = (&mut self.detector, &mut self.rules);
        // The Sigma rules judge on a thread of their own, a few chunks behind the
        // detector, whose verdicts (the employee, the explanation) they read.
        std::thread::scope(|scope| -> Result<()> {
            let (to_rules, chunks) = std::sync::mpsc::sync_channel::<(Vec<(u64, Event)>, Vec<(Option<String>, Option<String>)>)>(4);
            let rules_thread = scope.spawn(move || {
                for (chunk, verdicts) in chunks {
                    for ((seq, event), (employee, explanation)) in chunk.iter().zip(&verdicts) {
                        rules.observe(*seq, event, employee.as_deref(), explanation.as_deref());
                    }
                }
            });
            let reading = each_chunk(j, from, after, |chunk| {
                let mut seen = Vec::with_capacity(chunk.len());
                for (seq, event) in &chunk {
                    let seq = *seq;
                    judged += 1;
                    last_seq = last_seq.max(seq);
                    if event.class_uid != mamori_model::ClassUid::ApiActivity {
                        watermark = watermark.max(event.time);
                    }
                    let v = detector.observe(seq, event);
                    let explanation = v.explanation.as_ref().map(|e| e.code());
                    seen.push((v.employee.clone(), explanation.clone()));
                    if v.record_access {
                        verdicts.push((seq, v.employee, explanation));
                    }
                }
                to_rules.send((chunk, seen)).map_err(|_| anyhow::anyhow!(crate::tr!("Sigma ルールのスレッドが止まりました", "the Sigma rules' thread stopped")))
            });
            drop(to_rules);
            // Joined before the reading's error is returned: a panic in the rules is an
            // error here, not the scope's panic.
            if rules_thread.join().is_err() {
                anyhow::bail!(crate::tr!("Sigma ルールのスレッドが異常終了しました", "the Sigma rules' thread panicked"));
            }
            reading
        })?;
        let mut findings = self.detector.findings();
        findings.extend(self.rules.findings());
        mamori_detect::sort_findings(&mut findings);
        // What closed cases set aside stays stored, marked, and is not raised.
        let suppressed = crate::cases::apply_suppressions(&mut findings, &crate::cases::suppressions(j)?);
        let rows: Vec<(String, String)> = findings.iter().map(|f| (f.id.clone(), serde_json::to_string(f).expect("a finding serialises"))).collect();
        let save_state = save_state || after.is_none();
        let state = save_state.then(|| serde_json::json!({"detector": self.detector.state(), "sigma": self.rules.state()}).to_string());
        let count = rows.len();
        j.commit_detection(&rows, &verdicts, after.is_none(), state.as_deref().map(|state| (last_seq, watermark, self.setup.fingerprint.as_str(), state)), &|digests| crate::audit::detection_event(count, digests))?;
        self.last_seq = Some(last_seq);
        if save_state {
            self.saved_seq = Some(last_seq);
        }
        self.watermark = watermark;
        let (accesses, explained) = self.detector.counts();
        Ok(Some(DetectSummary { accesses, explained, findings, judged, rebuilt: self.rebuilt.take(), suppressed }))
    }
}

/// How often [`follow`] saves its whole state with a step's findings: a restart judges
/// again the events since (to the same verdicts), and saving at every step would cost
/// each batch what the state weighs.
pub const STATE_SAVE_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Streaming detection over the store at `dir` (`serve --detect`, a cluster worker): waits
/// for `next` (a wake-up after committed events; it returns what the caller wants to hear
/// back through `covered` once a step has judged them, or `None` to stop), judges what was
/// appended since, and commits the findings; `stepped` sees each step's summary. Master
/// data, the directory, the compiled rules and the detector's state stay in memory from
/// one step to the next (loaded again only when the log's master data or explanation
/// model change, older events arrive, or another run saved its state meanwhile); each
/// step commits its findings and verdicts, and every [`STATE_SAVE_EVERY`] the state with
/// them, so a restart goes on from there. With an explanation model in the log, master
/// data and rules are loaded (and anything not yet judged is judged) at once, not when the
/// first batch is waiting for them; with none, the first batch is what a model is learned
/// from. Errors are logged and the wake-up counted as covered: the next one tries again.
pub fn follow(
    dir: &std::path::Path,
    config: &mamori_detect::Config,
    sigma: Option<&std::path::Path>,
    mut next: impl FnMut() -> Option<u64>,
    covered: impl Fn(u64),
    mut stepped: impl FnMut(&DetectSummary),
) {
    let has_model = crate::archive::open_store(dir).and_then(|j| generation(&j)).is_ok_and(|(_, model)| model.is_some());
    let mut pending: Option<u64> = has_model.then_some(0);
    loop {
        let covers = match pending.take().or_else(&mut next) {
            Some(c) => c,
            None => return,
        };
        let mut j = match crate::archive::open_store(dir) {
            Ok(j) => j,
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "streaming detection: opening the store");
                covered(covers);
                continue;
            }
        };
        let setup = match Setup::load(&mut j, config.clone(), sigma) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "streaming detection: loading master data and rules");
                covered(covers);
                continue;
            }
        };
        let directory = mamori_enrich::Directory::new(&setup.master);
        let mut session = match Session::open(&j, &setup, &directory, false) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "streaming detection: opening the session");
                covered(covers);
                continue;
            }
        };
        tracing::info!("streaming detection: master data, directory and rules loaded");
        let mut covers = covers;
        let mut saved = std::time::Instant::now();
        loop {
            let save_state = saved.elapsed() >= STATE_SAVE_EVERY;
            match session.step_saving(&mut j, save_state) {
                Ok(Some(summary)) => {
                    tracing::info!(judged = summary.judged, findings = summary.findings.len(), rebuilt = summary.rebuilt.as_deref().unwrap_or(""), "streaming detection step");
                    stepped(&summary);
                }
                // Older events arrived: this batch again, from a new session.
                Ok(None) => {
                    pending = Some(covers);
                    break;
                }
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "streaming detection");
                    covered(covers);
                    break;
                }
            }
            if save_state {
                saved = std::time::Instant::now();
            }
            covered(covers);
            covers = match next() {
                Some(c) => c,
                None => return,
            };
            // New master data or model, or another run saved its own state meanwhile (the
            // CLI's `detect`): load again and go on from what the store holds.
            if !setup.current(&j).unwrap_or(false) || !session.matches_saved(&j).unwrap_or(false) {
                pending = Some(covers);
                break;
            }
        }
    }
}

/// Whether a declaration made at the purpose-of-use gate was appended after event `last`
/// with a time before `watermark`: mamori's own events do not count as "older events"
/// (a console view is stamped now), but a declaration explains accesses and is judged,
/// so one that an access stamped by a clock running ahead has overtaken means starting
/// over — as a rebuild would judge it first. Looked for in the week before the watermark
/// (the server stamps declarations; a source clock a week ahead is a broken one).
fn declared_before(j: &SqliteJournal, last: u64, watermark: i64) -> Result<bool> {
    let range = TimeRange { from: watermark.saturating_sub(7 * DAY_MS), to: watermark };
    for key in j.api_keys()? {
        let Some(system) = key.scope.strip_prefix(crate::admin::GATE_SCOPE) else { continue };
        for stored in j.by_actor(&format!("gate:{system}"), range)? {
            if stored.seq > last && mamori_detect::is_gate_declaration(&stored.event()?) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Every stored event, in time order, as the Sigma rules see it: mamori's flat taxonomy,
/// enriched as of the event's time, with the employee and explanation the detector gives
/// it (the detector runs beside, committing nothing). One object per event to `write`;
/// returns how many. This is the input another Sigma engine needs to run the same rules
/// on the same view (`mamori events sigma-flat`, `mamori bench detect`).
pub fn sigma_flat(j: &mut SqliteJournal, config: mamori_detect::Config, sigma: Option<&std::path::Path>, mut write: impl FnMut(&serde_json::Value) -> Result<()>) -> Result<u64> {
    let setup = Setup::load(j, config, sigma)?;
    let dir = mamori_enrich::Directory::new(&setup.master);
    let rules = setup.rules(&dir)?;
    let mut detector = mamori_detect::Detector::with_model(&dir, setup.config.clone(), setup.model.clone());
    let (mut written, mut failed) = (0u64, None);
    each_event(j, i64::MIN, None, |seq, event| {
        if failed.is_some() {
            return;
        }
        let v = detector.observe(seq, event);
        let explanation = v.explanation.as_ref().map(|e| e.code());
        match write(&rules.fields(seq, event, v.employee.as_deref(), explanation.as_deref())) {
            Ok(()) => written += 1,
            Err(e) => failed = Some(e),
        }
    })?;
    failed.map_or(Ok(written), Err)
}

/// Runs detection over the store: incrementally from the saved state (only events added
/// since, when they are not older than those already judged), or from scratch when
/// `rebuild` is asked, nothing was saved, the rules, settings, explanation model or master
/// data changed, or older events arrived. Either way the results are the same as a run
/// from scratch. With no explanation model in the log, one is learned first.
pub fn run(j: &mut SqliteJournal, config: mamori_detect::Config, sigma: Option<&std::path::Path>, rebuild: bool) -> Result<DetectSummary> {
    let setup = Setup::load(j, config, sigma)?;
    let dir = mamori_enrich::Directory::new(&setup.master);
    let mut session = Session::open(j, &setup, &dir, rebuild)?;
    match session.step(j)? {
        Some(summary) => Ok(summary),
        // Older events arrived between opening and stepping (another writer): start over.
        None => Session::open(j, &setup, &dir, false)?.step(j)?.with_context(|| crate::tr!("最初からの実行で判定が得られませんでした", "a run from scratch judges whatever it finds")),
    }
}

pub fn stored_findings(j: &SqliteJournal) -> Result<Vec<Finding>> {
    j.findings()?.iter().map(|f| serde_json::from_str(f).with_context(|| crate::tr!("保存されている所見を読めません", "stored finding"))).collect()
}

fn jst(ms: i64) -> String {
    let offset = chrono::FixedOffset::east_opt(9 * 3600).expect("JST");
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.with_timezone(&offset).format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()
}

/// The findings, most severe first: each with its rule's name, its severity, its span,
/// and its counts; `limit` of them, and a line saying how many more there are.
pub fn print_findings(findings: &[Finding], limit: usize, english: bool, out: &mut impl Write) -> Result<()> {
    for f in findings.iter().take(limit) {
        let severity = match (f.severity, english) {
            (Severity::Critical, false) => "重大",
            (Severity::High, false) => "高",
            (Severity::Medium, false) => "中",
            (Severity::Low, false) => "低",
            (Severity::Critical, true) => "critical",
            (Severity::High, true) => "high",
            (Severity::Medium, true) => "medium",
            (Severity::Low, true) => "low",
        };
        let title = if english { &f.title_en } else { &f.title_ja };
        let title = if title.is_empty() { &f.rule } else { title };
        writeln!(out, "[{severity}] {title} ({}) {} 〜 {}", f.rule, jst(f.from), jst(f.to))?;
        writeln!(out, "    {}", if english { &f.explanation_en } else { &f.explanation_ja })?;
        if let Some(s) = &f.suppressed {
            if english {
                writeln!(out, "    suppressed by case {} until {}: {}", s.case, s.until, s.reason)?;
            } else {
                writeln!(out, "    事案 {} により {} まで抑制: {}", s.case, s.until, s.reason)?;
            }
        }
        let ids: Vec<String> = f.evidence.iter().take(8).map(u64::to_string).collect();
        writeln!(out, "    {}: {}{}", if english { "evidence ids" } else { "証拠の記録番号" }, ids.join(", "), if f.evidence.len() > 8 { " …" } else { "" })?;
    }
    if findings.len() > limit {
        let more = findings.len() - limit;
        if english {
            writeln!(out, "… {more} more findings ({} in all; --limit N shows more)", findings.len())?;
        } else {
            writeln!(out, "… ほか {more} 件（全 {} 件。--limit N で表示）", findings.len())?;
        }
    }
    Ok(())
}

#[derive(serde::Serialize)]
pub struct ScenarioScore {
    pub scenario: String,
    /// The shape the incident took (`former-household`), empty when the truth says none.
    pub variant: String,
    pub incidents: usize,
    pub detected: usize,
    /// Incidents found with a high (or critical) finding.
    pub detected_high: usize,
    /// Median and largest hours from an incident's first malicious event to its first
    /// finding.
    pub median_hours_to_detect: Option<f64>,
    pub max_hours_to_detect: Option<f64>,
}

/// How one incident fared.
#[derive(serde::Serialize)]
pub struct IncidentScore {
    pub id: String,
    pub scenario: String,
    pub variant: String,
    pub employees: Vec<String>,
    pub detected: bool,
    pub high: bool,
    /// Hours from its first malicious event to its first finding.
    pub hours_to_detect: Option<f64>,
    /// The rules of the findings that matched it, most severe first.
    pub rules: Vec<String>,
}

/// How a kind of legitimate look-alike fared.
#[derive(serde::Serialize)]
pub struct NegativeScore {
    pub kind: String,
    pub events: usize,
    /// Findings whose evidence includes any of its events, and those of high severity.
    pub flagged: usize,
    pub flagged_high: usize,
}

#[derive(serde::Serialize)]
pub struct Evaluation {
    /// The town's practices, when the truth names them.
    pub practices: Vec<String>,
    pub scenarios: Vec<ScenarioScore>,
    pub incidents: Vec<IncidentScore>,
    pub recall: f64,
    pub high_findings: usize,
    pub high_findings_matching: usize,
    pub precision: f64,
    pub hard_negatives: Vec<NegativeScore>,
    pub hard_negatives_raised_high: usize,
    pub legitimate_accesses: usize,
    pub legitimate_explained: usize,
    pub explained_share: f64,
    pub median_hours_to_detect: Option<f64>,
    pub max_hours_to_detect: Option<f64>,
    /// Staff in master data who are in no incident, and how many of them a high finding
    /// names first.
    pub other_employees: usize,
    pub other_employees_high: usize,
}

fn basename(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

fn median(v: &mut [f64]) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

/// Compares the stored findings with a ground truth in mamori's truth format
/// (`docs/eval.md`): incidents with their events (file and line), or, where a truth has
/// no events, their employees and time span; kinds of hard negatives with their events;
/// and per-access labels for the share of legitimate accesses explained.
pub fn evaluate(j: &SqliteJournal, truth: &str, labels: Option<&str>) -> Result<Evaluation> {
    // Where each event came from: (file name, line) → (id, time); the source's own record
    // id → (id, time) (ids may repeat across a data set's files); id → time.
    let mut origin: HashMap<(String, u64), (u64, i64)> = HashMap::new();
    let mut records: HashMap<String, Vec<(u64, i64)>> = HashMap::new();
    let mut times: HashMap<u64, i64> = HashMap::new();
    each_event(j, i64::MIN, None, |seq, e: &Event| {
        times.insert(seq, e.time);
        if let (Some(log), Some(line)) = (&e.metadata.log_name, e.unmapped.origin.line) {
            origin.insert((basename(log).to_owned(), line), (seq, e.time));
        }
        if let Some(id) = e.unmapped.extra.get("record_id").and_then(|v| v.as_str()) {
            records.entry(id.to_owned()).or_default().push((seq, e.time));
        }
    })?;
    let findings = stored_findings(j)?;
    let resolve = |v: &serde_json::Value| -> Vec<(u64, i64)> {
        let mut out = Vec::new();
        for e in v["events"].as_array().into_iter().flatten() {
            if let Some(id) = e["record_id"].as_str() {
                out.extend(records.get(id).into_iter().flatten().copied());
            } else if let (Some(file), Some(line)) = (e["file"].as_str(), e["line"].as_u64())
                && let Some(found) = origin.get(&(basename(file).to_owned(), line))
            {
                out.push(*found);
            }
        }
        out
    };
    let time = |v: &serde_json::Value| v.as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).map(|t| t.timestamp_millis());
    let mut practices = Vec::new();
    // (scenario, variant) → (incidents, detected, detected high, hours to detect).
    type Tally = (usize, usize, usize, Vec<f64>);
    let mut per: BTreeMap<(String, String), Tally> = BTreeMap::new();
    let mut malicious: HashSet<u64> = HashSet::new();
    let mut negatives = Vec::new();
    let mut all_hours = Vec::new();
    let mut insiders: HashSet<String> = HashSet::new();
    let mut incidents = Vec::new();
    for (n, line) in truth.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).with_context(|| crate::tr!("正解データの {} 行目", "truth line {}", n + 1))?;
        if let Some(town) = v.get("town") {
            practices = town["practices"].as_array().into_iter().flatten().filter_map(|p| p.as_str().map(str::to_owned)).collect();
            continue;
        }
        let events = resolve(&v);
        let ids: HashSet<u64> = events.iter().map(|e| e.0).collect();
        let touching = |f: &&Finding| f.evidence.iter().any(|id| ids.contains(id));
        if v["hard_negative"].as_bool() == Some(true) {
            let hits: Vec<&Finding> = findings.iter().filter(touching).collect();
            negatives.push(NegativeScore {
                kind: v["kind"].as_str().unwrap_or("?").to_owned(),
                events: ids.len(),
                flagged: hits.len(),
                flagged_high: hits.iter().filter(|f| f.severity >= Severity::High).count(),
            });
            continue;
        }
        malicious.extend(&ids);
        let employees: Vec<&str> = v["employees"].as_array().into_iter().flatten().filter_map(|e| e.as_str()).collect();
        let (from, to) = (time(&v["from"]), time(&v["to"]));
        // A truth that names people and a span but no events is matched by a finding on one
        // of them with evidence inside the span. One that names its events is matched by
        // findings that hold one of them: an unrelated finding on the same person in the
        // same weeks is not the incident found.
        let by_person = |f: &&Finding| {
            f.employees.iter().any(|e| employees.contains(&e.as_str()))
                && f.evidence.iter().filter_map(|id| times.get(id)).any(|t| from.is_none_or(|a| *t >= a) && to.is_none_or(|b| *t <= b))
        };
        insiders.extend(employees.iter().map(|e| e.to_string()));
        let first = events.iter().map(|e| e.1).min().or(from);
        let hits: Vec<&Finding> = findings.iter().filter(|f| touching(f) || (ids.is_empty() && by_person(f))).collect();
        let key = (v["scenario"].as_str().unwrap_or("?").to_owned(), v["variant"].as_str().unwrap_or("").to_owned());
        let mut score = IncidentScore {
            id: v["id"].as_str().map_or_else(|| format!("{}-{}", key.0, n + 1), str::to_owned),
            scenario: key.0.clone(),
            variant: key.1.clone(),
            employees: employees.iter().map(|e| e.to_string()).collect(),
            detected: !hits.is_empty(),
            high: hits.iter().any(|f| f.severity >= Severity::High),
            hours_to_detect: None,
            rules: Vec::new(),
        };
        let mut ranked = hits.clone();
        ranked.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.rule.cmp(&b.rule)));
        for f in ranked {
            if !score.rules.contains(&f.rule) {
                score.rules.push(f.rule.clone());
            }
        }
        let entry = per.entry(key).or_default();
        entry.0 += 1;
        if !hits.is_empty() {
            entry.1 += 1;
            if score.high {
                entry.2 += 1;
            }
            if let (Some(first), Some(found)) = (first, hits.iter().map(|f| f.detected_at).min()) {
                let h = (found - first).max(0) as f64 / 3_600_000.0;
                entry.3.push(h);
                all_hours.push(h);
                score.hours_to_detect = Some(h);
            }
        }
        incidents.push(score);
    }
    let scenarios: Vec<ScenarioScore> = per
        .into_iter()
        .map(|((scenario, variant), (incidents, detected, detected_high, mut hours))| {
            let max = hours.iter().copied().reduce(f64::max);
            ScenarioScore { scenario, variant, incidents, detected, detected_high, median_hours_to_detect: median(&mut hours), max_hours_to_detect: max }
        })
        .collect();
    let total: usize = scenarios.iter().map(|s| s.incidents).sum();
    let detected: usize = scenarios.iter().map(|s| s.detected).sum();
    let high: Vec<&Finding> = findings.iter().filter(|f| f.severity >= Severity::High).collect();
    let matching = high.iter().filter(|f| f.evidence.iter().any(|id| malicious.contains(id))).count();
    let (mut legit, mut explained) = (0, 0);
    if let Some(labels) = labels {
        let verdicts = j.explanations()?;
        for row in labels.lines().skip(1) {
            let cols: Vec<&str> = row.split(',').collect();
            if cols.len() < 4 || cols[3] != "yes" {
                continue;
            }
            let Some(&(seq, _)) = cols[2].parse().ok().and_then(|n: u64| origin.get(&(basename(cols[1]).to_owned(), n))) else { continue };
            legit += 1;
            if verdicts.get(&seq).is_some_and(Option::is_some) {
                explained += 1;
            }
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let max_hours = all_hours.iter().copied().reduce(f64::max);
    // Everyone else raised high: the false alarms a reviewer would chase, by person.
    let staff = j.master_rows("employees")?.len();
    let others_high: HashSet<&str> = high.iter().filter_map(|f| f.employees.first()).map(String::as_str).filter(|e| !insiders.contains(*e)).collect();
    Ok(Evaluation {
        practices,
        recall: ratio(detected, total),
        high_findings: high.len(),
        high_findings_matching: matching,
        precision: ratio(matching, high.len()),
        hard_negatives_raised_high: negatives.iter().map(|n| n.flagged_high).sum(),
        hard_negatives: negatives,
        scenarios,
        incidents,
        legitimate_accesses: legit,
        legitimate_explained: explained,
        explained_share: ratio(explained, legit),
        median_hours_to_detect: median(&mut all_hours),
        max_hours_to_detect: max_hours,
        other_employees: staff.saturating_sub(insiders.len()),
        other_employees_high: others_high.len(),
    })
}

pub fn print_evaluation(e: &Evaluation, per_incident: bool, out: &mut impl Write) -> Result<()> {
    if !e.practices.is_empty() {
        writeln!(out, "{}: {}", crate::tr!("事務慣行", "practices"), e.practices.join(", "))?;
    }
    let hours = |h: Option<f64>| h.map_or("-".into(), |h| format!("{h:.1}"));
    // Japanese headers are wider than their character count: padded by display width.
    let cell = |s: &str, width: usize| format!("{s}{}", " ".repeat(width.saturating_sub(s.chars().map(|c| if c >= '\u{1100}' { 2 } else { 1 }).sum::<usize>())));
    if per_incident {
        writeln!(out, "{} {} {} {} {} {:>7}  {}", cell(&crate::tr!("事案", "incident"), 12), cell(&crate::tr!("類型", "scenario"), 9), cell(&crate::tr!("変種", "variant"), 16), cell(&crate::tr!("職員", "employees"), 12), cell(&crate::tr!("検知", "found"), 8), crate::tr!("時間", "hours"), crate::tr!("規則", "rules"))?;
        for i in &e.incidents {
            let found = if i.high { crate::tr!("高", "high") } else if i.detected { crate::tr!("あり", "yes") } else { crate::tr!("なし", "no") };
            writeln!(out, "{:<12} {:<9} {:<16} {:<12} {} {:>7}  {}", i.id, i.scenario, i.variant, i.employees.join(" "), cell(&found, 8), hours(i.hours_to_detect), i.rules.join(", "))?;
        }
    }
    writeln!(out, "{} {} {:>9} {:>9} {:>6} {:>12} {:>10}", cell(&crate::tr!("類型", "scenario"), 9), cell(&crate::tr!("変種", "variant"), 18), crate::tr!("事案数", "incidents"), crate::tr!("検知", "detected"), crate::tr!("高", "high"), crate::tr!("時間中央値", "median hours"), crate::tr!("最大時間", "max hours"))?;
    for s in &e.scenarios {
        writeln!(out, "{:<9} {:<18} {:>9} {:>9} {:>6} {:>12} {:>10}", s.scenario, s.variant, s.incidents, s.detected, s.detected_high, hours(s.median_hours_to_detect), hours(s.max_hours_to_detect))?;
    }
    writeln!(out, "{}", crate::tr!("recall {:.1}%  適合率（事案に一致する重要度「高」の所見）{}/{} = {:.1}%", "recall {:.1}%  precision (high findings matching an incident) {}/{} = {:.1}%", e.recall * 100.0, e.high_findings_matching, e.high_findings, e.precision * 100.0))?;
    writeln!(out, "{}", crate::tr!("最初の所見までの時間: 中央値 {} 時間、最大 {} 時間", "time to first finding: median {} h, max {} h", hours(e.median_hours_to_detect), hours(e.max_hours_to_detect)))?;
    if e.other_employees > 0 {
        writeln!(out, "{}", crate::tr!("事案に関わらない職員で「高」とされた者: {}/{} = {:.1}%", "other staff raised high: {}/{} = {:.1}%", e.other_employees_high, e.other_employees, 100.0 * e.other_employees_high as f64 / e.other_employees as f64))?;
    }
    if !e.hard_negatives.is_empty() {
        writeln!(out, "{}", crate::tr!("正当な紛らわしい業務（hard negatives）: 「高」の所見 {} 件", "hard negatives (legitimate look-alikes): {} raised high", e.hard_negatives_raised_high))?;
        for n in &e.hard_negatives {
            writeln!(out, "{}", crate::tr!("  {:<24} {:>6} 件  所見 {:>3}  高 {:>3}", "  {:<24} {:>6} events  {:>3} findings  {:>3} high", n.kind, n.events, n.flagged, n.flagged_high))?;
        }
    }
    if e.legitimate_accesses > 0 {
        writeln!(out, "{}", crate::tr!("正当な記録照会のうち説明できたもの: {}/{} = {:.2}%", "legitimate record accesses explained: {}/{} = {:.2}%", e.legitimate_explained, e.legitimate_accesses, e.explained_share * 100.0))?;
    }
    Ok(())
}

/// The explanation model as a table: each template, its window against floor and bound,
/// the accesses it explains against what chance would, and whether it is kept.
pub fn print_model(m: &mamori_enrich::ExplanationModel, english: bool, out: &mut impl Write) -> Result<()> {
    use mamori_enrich::Source;
    let source = |s: Source| match (s, english) {
        (Source::Floor, false) => "設定値",
        (Source::Declared, false) => "申告",
        (Source::Learned, false) => "学習",
        (Source::Floor, true) => "floor",
        (Source::Declared, true) => "declared",
        (Source::Learned, true) => "learned",
    };
    if english {
        writeln!(out, "explanation model: {} accesses sampled; visits explain {} min before to {} min after", m.sampled, m.visit_before_minutes, m.visit_after_minutes)?;
        writeln!(out, "{:<34} {:>8} {:>12} {:>8} {:>7} {:>6} {:>8} {:>5} source", "template", "window", "floor-bound", "support", "chance", "staff", "coverage", "kept")?;
    } else {
        writeln!(out, "説明モデル: 標本 {} 件。来庁は {} 分前から {} 分後まで", m.sampled, m.visit_before_minutes, m.visit_after_minutes)?;
        writeln!(out, "{:<34} {:>8} {:>12} {:>8} {:>7} {:>6} {:>8} {:>5} 由来", "テンプレート", "窓", "下限-上限", "支持", "偶然", "職員", "被覆率", "採用")?;
    }
    for t in &m.templates {
        let window = if t.unit.is_empty() { "-".to_owned() } else { format!("{}{}", t.window, if t.unit == "days" { "d" } else { "m" }) };
        let bounds = if t.unit.is_empty() { "-".to_owned() } else { format!("{}-{}", t.floor, t.bound) };
        let kept = match (t.kept, english) {
            (true, false) => "採用",
            (false, false) => "不採用",
            (true, true) => "yes",
            (false, true) => "no",
        };
        writeln!(out, "{:<34} {:>8} {:>12} {:>8} {:>7} {:>6} {:>7.2}% {:>5} {}", t.template, window, bounds, t.support, t.chance, t.employees, t.coverage * 100.0, kept, source(t.source))?;
    }
    let team = |k: &mamori_enrich::KindWindow| -> String {
        if k.team.is_empty() {
            return if english { "none".into() } else { "なし".into() };
        }
        k.team.iter().map(|a| if *a == 0 { "any".to_owned() } else { mamori_enrich::activity_name(*a).to_owned() }).collect::<Vec<_>>().join("+")
    };
    for (kind, k) in &m.kinds {
        let open = if k.ongoing { if english { "open until closed".to_owned() } else { "終結まで".to_owned() } } else { format!("{}d", k.open_days) };
        if english {
            writeln!(out, "case kind {kind}: unclosed {open}, after closing {}d, team {}, {}", k.tail_days, team(k), source(k.source))?;
        } else {
            writeln!(out, "案件種別 {kind}: 未終結 {open}、終結後 {}日、課内共同 {}、{}", k.tail_days, team(k), source(k.source))?;
        }
    }
    if m.follow_up_days > 0 {
        writeln!(out, "{} {}", if english { "follow-ups of the section's new records:" } else { "課内で登録した記録の事後処理:" }, m.follow_up_days)?;
    }
    Ok(())
}
