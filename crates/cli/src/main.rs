//! The `mamori` command. It parses arguments, opens the data directory and hands work to
//! the library crates; it holds no logic of its own beyond presenting results. Every
//! action that changes the store is itself recorded in the store (see `audit.rs`).

/// mimalloc: detection decodes events on one thread and frees them on another, and every
/// stage allocates small strings by the million; glibc's allocator was a fifth of the
/// samples (BENCHMARKS.md, issue 16 point 5).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bench;
mod help_ja;
mod proofcheck;
mod witness;

use mamori_app::timearg::inclusive_range;
use mamori_app::{audit, check, detect, report, review, timearg};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use mamori_app::tr;
use clap::{Args, Parser, Subcommand};
use mamori_ingest::{ImportOptions, import_file};
use mamori_journal::{Journal, SqliteJournal, StoredEvent};
use mamori_report::Table;

#[derive(Parser)]
#[command(name = "mamori", version, about = "mamori (守り): watches how staff use the personal data they hold")]
struct Cli {
    /// Data directory of the store.
    #[arg(long, global = true, env = "MAMORI_DATA", default_value = "mamori-data")]
    data: PathBuf,
    /// English output (Japanese by default), for any command.
    #[arg(long, global = true)]
    en: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a new store (and its checkpoint signing key) in DIR.
    Init {
        dir: PathBuf,
        /// Where to write the signing key (default: DIR.signing.key beside the directory).
        /// `MAMORI_SIGNING_KEY` names it to later commands if it moves.
        #[arg(long)]
        key: Option<PathBuf>,
        /// The log's name in its checkpoints, e.g. `mamori.city.example.lg.jp/audit`.
        #[arg(long)]
        origin: Option<String>,
        /// log2 of events per storage segment.
        #[arg(long, default_value_t = mamori_journal::DEFAULT_SEGMENT_SHIFT)]
        segment_shift: u32,
    },
    /// Import files of events.
    Import {
        files: Vec<PathBuf>,
        /// Source name: one configured in the sources file (its format and mapping are
        /// used), or `ndjson` for files of mamori's normalised events.
        #[arg(long, default_value = "ndjson")]
        source: String,
        /// Sources file or directory (mamori.toml, sources/*.toml); default ./mamori.toml,
        /// else mamori.toml in the data directory.
        #[arg(long, env = "MAMORI_CONFIG")]
        config: Option<PathBuf>,
        /// Most events per committed batch (a file's first batches are smaller, from
        /// 2,048 doubling, so that writing starts while the rest is parsed).
        #[arg(long, default_value_t = 50_000)]
        batch: usize,
        /// Keep reading the files as they grow (complete lines only), until stopped;
        /// a restart resumes from the committed position.
        #[arg(long)]
        follow: bool,
        /// How often a followed file is checked, in milliseconds.
        #[arg(long, default_value_t = 1000)]
        poll_ms: u64,
        /// Read and map the files without storing anything: show the first events as
        /// mapped, the refused lines with their reasons, and `mamori check`'s report on
        /// them against the store's master data.
        #[arg(long)]
        dry_run: bool,
        /// With --dry-run: how many mapped events and refused lines to show.
        #[arg(long, default_value_t = 5)]
        show: usize,
    },
    /// Recompute the Merkle tree from the stored events and check every checkpoint, the
    /// master data and segment spans against the log, and the store against what its
    /// witnesses cosigned.
    Verify {
        #[arg(long)]
        json: bool,
        /// Also ask this witness (`VKEY@URL`), whether or not the store names it: an
        /// auditor's own list, kept apart from the store.
        #[arg(long = "witness", value_name = "VKEY@URL")]
        witnesses: Vec<String>,
        /// Do not ask witnesses over the network (stored cosignatures are still checked).
        #[arg(long)]
        offline: bool,
        /// The log's public key as you hold it (published at the start): fail if the
        /// store's keys are not that key and its rotations.
        #[arg(long)]
        key: Option<String>,
        /// Record the result in the log (the console's dashboard shows the latest): for a
        /// scheduled run on the server, which holds the signing key.
        #[arg(long)]
        record: bool,
    },
    /// Witnesses: run one for another body's log (`init`, `trust`, `serve`), or have this
    /// store's checkpoints cosigned (`add`, `cosign`).
    #[command(subcommand)]
    Witness(WitnessCommand),
    /// Inclusion and consistency proofs, and checking them.
    #[command(subcommand)]
    Proof(ProofCommand),
    /// The checkpoint signing key.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Print the latest signed checkpoint (to publish it).
    Checkpoint,
    /// Finish the key runs: each resident's and account's entries merged across sealed
    /// segments, so a query by resident or account costs one look-up per run, not per
    /// segment. Appends build them a little at a time; this finishes what is due (a store
    /// made before runs existed, or after a long import) and prints them by level.
    Compact,
    /// Lines that could not be imported.
    #[command(subcommand)]
    Deadletter(DeadletterCommand),
    /// Master data (staff, accounts, residents, cases …).
    #[command(subcommand)]
    Master(MasterCommand),
    /// Query stored events.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Serve the HTTP API (streaming ingest) until stopped.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8478")]
        listen: std::net::SocketAddr,
        /// Sources file or directory (as for import).
        #[arg(long, env = "MAMORI_CONFIG")]
        config: Option<PathBuf>,
        /// Detect as batches arrive (the engine of `mamori detect`, going on from its saved
        /// state after every committed batch).
        #[arg(long)]
        detect: bool,
        /// Detection settings for --detect.
        #[arg(long)]
        rules: Option<PathBuf>,
        /// The console is reached over HTTPS (a TLS proxy in front, docs/console.md):
        /// session cookies are marked `Secure` and answers carry HSTS.
        #[arg(long)]
        secure_cookies: bool,
        /// Service log lines on standard error: `text` for a person, `json` (one object a
        /// line) for a log collector. Requests are logged by route, never by a URL that
        /// could hold a finding's or employee's id.
        #[arg(long, default_value = "text", value_parser = ["text", "json"])]
        log_format: String,
        /// Serve HTTPS with this certificate chain (PEM): cookies are then `Secure` and
        /// answers carry HSTS. With --tls-key.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The certificate's private key (PEM, PKCS#8, PKCS#1 or SEC1).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// The purpose-of-use gate's policy (docs/gate.md); the default without it.
        #[arg(long, env = "MAMORI_GATE")]
        gate: Option<PathBuf>,
        /// Extra Sigma rules for --detect.
        #[arg(long)]
        sigma: Option<PathBuf>,
        /// Serve as the stateless front of a cluster (docs/cluster.md): batches go to
        /// these NATS servers (comma-separated) for the tenant of each key; no store is
        /// opened, and the console, reports and gate are not served.
        #[arg(long, value_name = "NATS", conflicts_with_all = ["detect", "gate", "tls_cert", "secure_cookies"])]
        cluster: Option<String>,
    },
    /// A prefecture's cluster (docs/cluster.md): its tenants, their API keys, its state.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// The archive (docs/archive.md): sealed segments as Parquet in object storage, with the
    /// tiles and signed checkpoint that prove them.
    #[command(subcommand)]
    Archive(ArchiveCommand),
    /// Work a cluster's tenants (docs/cluster.md): take each free tenant's lease, append its
    /// batches to its store at `--data`/tenants/TENANT in stream order, detect, and publish
    /// the findings; runs until stopped.
    Worker {
        /// The cluster's NATS servers, comma-separated.
        #[arg(long, env = "MAMORI_NATS")]
        nats: String,
        /// Run streaming detection on each tenant held (with the tenant's detect.toml).
        #[arg(long)]
        detect: bool,
        /// This worker's name in the lease bucket (default: host name and process id).
        #[arg(long)]
        name: Option<String>,
        /// Batches taken from a tenant's stream at once.
        #[arg(long, default_value_t = 64)]
        fetch: usize,
        /// Copy each tenant's sealed segments to this archive (a directory or file:// URL)
        /// as they seal (docs/archive.md).
        #[arg(long, env = "MAMORI_ARCHIVE")]
        archive: Option<String>,
        /// Keep the archived segments' event bodies in the tenants' stores too. By default a
        /// worker with --archive releases them once they are archived and judged, so that a
        /// tenant's store keeps whole only its newest segments (and an index row for every
        /// older event), and reads older bodies from the archive.
        #[arg(long, requires = "archive")]
        keep_archived: bool,
    },
    /// The monthly access-log review by each department's manager (アクセスログ点検).
    #[command(subcommand)]
    Review(ReviewCommand),
    /// Console users (auditors, privacy officers): passwords kept as Argon2id hashes.
    #[command(subcommand)]
    User(UserCommand),
    /// API keys that let a system send one source's records to `mamori serve`.
    #[command(subcommand)]
    Apikey(ApikeyCommand),
    /// Explain every record access and look for misuse; stores the findings.
    Detect {
        #[command(flatten)]
        inputs: DetectionInputs,
        /// Judge every event again from scratch instead of only the new ones.
        #[arg(long)]
        rebuild: bool,
    },
    /// The explanation templates and windows: learn them from the town's own log, or show
    /// what was learned (docs/detection.md).
    #[command(subcommand)]
    Explain(ExplainCommand),
    /// The stored findings, most severe first (Japanese; --en for English).
    Findings {
        /// How many to show (default 20 in the listing, all with --json or --ocsf).
        #[arg(long)]
        limit: Option<usize>,
        /// One finding a line, as mamori stores it.
        #[arg(long)]
        json: bool,
        /// One finding a line as OCSF Detection Finding (2004) / Data Security Finding (2006).
        #[arg(long, conflicts_with = "json")]
        ocsf: bool,
    },
    /// Employees ranked by risk: their findings weighed by severity and evidence, fading
    /// with a half-life (detect.toml `[risk] half_life_days`).
    Risk {
        /// As of this date (default: the latest finding's last evidence).
        #[arg(long)]
        as_of: Option<String>,
        #[arg(long)]
        rules: Option<PathBuf>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Whether the town's mapping joins up: per source, whose actions its events are and
    /// how their accounts were found, unknown hosts and residents, codes outside their
    /// tables, gaps, dead letters; exits 1 when a threshold is not met (docs/adoption.md).
    Check {
        /// Only this source (its name in mamori.toml, or the product it writes).
        #[arg(long)]
        source: Option<String>,
        /// The sources file (default: ./mamori.toml, else DATA/mamori.toml): a source whose
        /// `product` differs from its name is checked under the product, dead letters too.
        #[arg(long)]
        config: Option<PathBuf>,
        /// detect.toml, for the organisation's time zone.
        #[arg(long)]
        rules: Option<PathBuf>,
        #[arg(long, default_value_t = 0.95)]
        min_resolved: f64,
        #[arg(long, default_value_t = 0.9)]
        min_known_hosts: f64,
        #[arg(long, default_value_t = 0.95)]
        min_known_residents: f64,
        #[arg(long, default_value_t = 0.01)]
        max_dead_letters: f64,
        #[arg(long)]
        json: bool,
    },
    /// Compare the stored findings with a simulated town's ground truth.
    Eval {
        /// The town's truth.jsonl (written by `mamori simulate`).
        #[arg(long)]
        truth: PathBuf,
        /// The town's labels.csv, for the share of legitimate accesses explained.
        #[arg(long)]
        labels: Option<PathBuf>,
        /// The scores as JSON.
        #[arg(long)]
        json: bool,
        /// Also list each incident: found or not, how soon, by which rules.
        #[arg(long)]
        incidents: bool,
    },
    /// Documents for people.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Simulate a small town, import it, detect, and show the findings and the evaluation.
    Demo {
        /// Where to put the town and the store (default: a new temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Write a simulated town: master data, logs in the real formats, injected incidents
    /// and their ground truth (truth.jsonl, labels.csv).
    Simulate {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 20_000)]
        residents: usize,
        #[arg(long, default_value_t = 300)]
        employees: usize,
        #[arg(long, default_value_t = 90)]
        days: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// First simulated day (JST date).
        #[arg(long, default_value = "2024-01-15")]
        start: chrono::NaiveDate,
    },
    /// Measure ingest, adapters, detection, queries and the gate (BENCHMARKS.md);
    /// `bench --quick` prints the whole table in a few minutes.
    Bench(BenchArgs),
}

#[derive(Subcommand)]
enum ReportCommand {
    /// The access history of one resident's records (開示請求): every access in the
    /// period, oldest first, with its business or "no business record found".
    Disclosure {
        /// 宛名番号.
        #[arg(long)]
        resident: String,
        /// From this JST date (default: the beginning).
        #[arg(long)]
        from: Option<String>,
        /// Up to this JST date, inclusive (default: today).
        #[arg(long)]
        to: Option<String>,
        /// The disclosure request's number, printed on every page.
        #[arg(long, default_value = "")]
        request_no: String,
        /// html, csv (UTF-8 with BOM), csv-sjis (Shift_JIS), json (with proofs).
        #[arg(long, default_value = "html")]
        format: String,
        /// How operators are shown: withheld (default), number, name.
        #[arg(long, default_value = "withheld")]
        operator: String,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        archive: ArchiveRead,
    },
    /// Every record access of one employee in a period, with the business behind each
    /// (the back-search once misuse is suspected).
    Employee {
        /// Employee id (職員番号 in the master data).
        #[arg(long)]
        employee: String,
        #[arg(long)]
        from: Option<String>,
        /// Inclusive.
        #[arg(long)]
        to: Option<String>,
        /// html, csv, csv-sjis, json (with proofs).
        #[arg(long, default_value = "html")]
        format: String,
        /// Only the accesses with no business found.
        #[arg(long)]
        unexplained: bool,
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        archive: ArchiveRead,
    },
    /// Lock-policy compliance: how often each employee left a Windows session locked or
    /// unlocked when badging out, per department (from the last `mamori detect`).
    Locks {
        /// YYYY-MM (default: every month judged).
        #[arg(long)]
        month: Option<String>,
        /// text or csv (UTF-8 with BOM).
        #[arg(long, default_value = "text")]
        format: String,
    },
    /// Breach sizing and the draft report to the PPC (漏えい等報告), from findings,
    /// events and recovered files; with the notice list (本人通知) as CSV.
    Breach {
        /// A finding id (repeatable); its evidence events are sized.
        #[arg(long)]
        finding: Vec<String>,
        /// Event ids, comma-separated.
        #[arg(long, value_delimiter = ',')]
        events: Vec<u64>,
        /// Recovered files, or a folder of them (a seized USB stick's contents); matched
        /// to logged copies by name, inspected like mail attachments.
        #[arg(long)]
        evidence: Vec<PathBuf>,
        /// The date the body became aware (YYYY-MM-DD): the deadlines count from it.
        #[arg(long)]
        aware: String,
        /// The leak may have been for an improper purpose (final report in 60 days).
        #[arg(long)]
        improper_purpose: bool,
        #[arg(long, default_value = "個人データの漏えい等")]
        title: String,
        /// html (the draft report) or json.
        #[arg(long, default_value = "html")]
        format: String,
        /// Also write the notice list (本人通知) here, as UTF-8 CSV.
        #[arg(long)]
        notice: Option<PathBuf>,
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ReviewCommand {
    /// Draw a department's sheet for a month: every access with no business on file and a
    /// risk-weighted random sample of the rest, reproducible from its seed.
    Sheet {
        #[arg(long)]
        department: String,
        /// YYYY-MM.
        #[arg(long)]
        month: String,
        /// How many explained accesses to draw.
        #[arg(long, default_value_t = 20)]
        sample: usize,
        /// The sample's seed (default: derived from department and month).
        #[arg(long)]
        seed: Option<u64>,
        /// html (printable), csv (to fill in), csv-sjis, json.
        #[arg(long, default_value = "html")]
        format: String,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Record the manager's sign-off: the sheet's CSV with 判定 filled in for every row.
    Signoff {
        #[arg(long)]
        department: String,
        #[arg(long)]
        month: String,
        /// Who signs: a console user of the manager role for this department (`mamori user
        /// add --role manager --department …`), whose password is read from standard input.
        #[arg(long)]
        reviewer: String,
        /// The filled-in sheet (CSV, UTF-8 or Shift_JIS).
        #[arg(long)]
        marks: PathBuf,
        #[arg(long, default_value_t = 20)]
        sample: usize,
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Which departments have signed off, and which are overdue.
    Status {
        /// YYYY-MM, repeatable (default: the month before --as-of).
        #[arg(long)]
        month: Vec<String>,
        /// Judge as of this date (default: today).
        #[arg(long)]
        as_of: Option<String>,
        /// Days after the month's end a review is due.
        #[arg(long, default_value_t = 10)]
        grace_days: u64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ExplainCommand {
    /// Mine the explanation windows and section practices from every stored record access
    /// and record the model in the log (the next `detect` judges everything under it).
    Learn {
        /// Detection settings: the `[explanations]` floors and bounds.
        #[arg(long)]
        rules: Option<PathBuf>,
    },
    /// Each template of the model in force: its window, support, chance and whether kept.
    Stats {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a console user (or, with --replace, set an existing one's password, role and
    /// department); the password is read from standard input (one line), never from the
    /// command line.
    Add {
        #[arg(long)]
        name: String,
        /// Replace an existing user: a new password ends their sessions everywhere.
        #[arg(long)]
        replace: bool,
        /// administrator, auditor, manager or privacy-officer (docs/console.md).
        #[arg(long, default_value = "auditor")]
        role: String,
        /// A manager's department code (as in the master data): the only staff they see.
        #[arg(long)]
        department: Option<String>,
    },
    /// Remove a console user: their sessions end at once (recorded in the log).
    Remove {
        #[arg(long)]
        name: String,
    },
    /// List console users (name, role, department, created).
    List,
}

/// Where a report is answered from when not from the store alone (docs/archive.md).
#[derive(Args)]
struct ArchiveRead {
    /// Answer from the archive at this location: the archived rows, then the store's rows
    /// after them, all proven against the store's latest checkpoint. (Not taken from
    /// MAMORI_ARCHIVE: where a report comes from is said on its command line.)
    #[arg(long, requires = "tenant")]
    archive: Option<String>,
    /// The tenant whose archive to read.
    #[arg(long)]
    tenant: Option<String>,
    /// How the archive is read: parquet (in process) or spark (a PySpark job).
    #[arg(long, default_value = "parquet")]
    engine: String,
}

impl ArchiveRead {
    /// The location, tenant and engine, when a report is to be answered from the archive.
    fn parts(&self) -> Result<Option<(&str, &str, mamori_app::archive::Engine)>> {
        let Some(location) = &self.archive else { return Ok(None) };
        Ok(Some((location, self.tenant.as_deref().unwrap_or_default(), mamori_app::archive::Engine::parse(&self.engine)?)))
    }

    /// Said on standard error after an archive answer.
    fn tell(answer: &mamori_app::archive::ArchiveAnswer) {
        eprintln!(
            "アーカイブから {} 件、保存庫から {} 件（アーカイブは {} 件目まで、チェックポイント {}）",
            answer.from_archive, answer.from_store, answer.archived_through, answer.checkpoint_size
        );
    }

    /// What the audit record adds about where the answer came from.
    fn audit_note(&self) -> String {
        self.archive.as_ref().map(|a| format!(", from the archive {a} ({})", self.engine)).unwrap_or_default()
    }
}

/// One tenant's archive.
#[derive(Args)]
struct ArchiveTenant {
    #[arg(long, env = "MAMORI_ARCHIVE")]
    archive: String,
    #[arg(long)]
    tenant: String,
}

#[derive(Subcommand)]
enum ArchiveCommand {
    /// Copy the store's sealed segments not yet archived to TO (a directory or file:// URL)
    /// under tenant=TENANT, then the tiles and the latest checkpoint, then the manifest.
    /// Safe to run again after a failure, and from cron.
    Export {
        #[arg(long, env = "MAMORI_ARCHIVE")]
        to: String,
        #[arg(long)]
        tenant: String,
    },
    /// Drop from the store the event bodies of the sealed segments the archive holds, each
    /// segment compared byte for byte with its archived copy first: the store then keeps an
    /// index row per event (what queries search) and reads released bodies from the archive,
    /// each checked against the store's own Merkle tiles. Run after `export`; safe to run
    /// again.
    Release(ArchiveTenant),
    /// What a tenant's archive holds: segments, events, files, bytes, its checkpoint.
    Status(ArchiveTenant),
    /// Check a tenant's archive against this store's log: its manifest one the log
    /// recorded, every archived event present once, hashing to the leaf the signed tree
    /// holds, searchable by its own resident and actor; every tile proven against the
    /// checkpoint. Exits 1 at the first fault.
    Verify(ArchiveTenant),
    /// Events per tenant and JST day across the whole archive, from the manifests: what a
    /// prefecture's operators see (counts, never a resident).
    Counts {
        #[arg(long, env = "MAMORI_ARCHIVE")]
        archive: String,
        /// `manifest`: the rows each file holds, as the manifests record them (instant);
        /// `spark`: counted again from the rows themselves by a PySpark job, each by its own
        /// JST day (an archive on the local file system).
        #[arg(long, default_value = "manifest", value_parser = ["manifest", "spark"])]
        engine: String,
    },
}

#[derive(Subcommand)]
enum ClusterCommand {
    /// Add a tenant, or update its sources: its streams (`mamori.TENANT.SOURCE` for each
    /// source in `--data`/tenants/TENANT/mamori.toml), and the cluster's buckets. The
    /// tenant's store must have been made there with `mamori init` first.
    #[command(name = "tenant-add")]
    TenantAdd {
        #[arg(long, env = "MAMORI_NATS")]
        nats: String,
        #[arg(long)]
        tenant: String,
        /// Copies of each stream, on as many NATS servers.
        #[arg(long, default_value_t = 3)]
        replicas: usize,
        /// How long a worker's lease on a tenant lasts unrenewed: how soon another worker
        /// takes over from one that died (set when the cluster's first tenant is added).
        #[arg(long, default_value_t = 10)]
        lease_seconds: u64,
        /// Days the tenant's ingest stream keeps a batch before the NATS servers drop it (0:
        /// for ever). Once the workers archive sealed segments (`worker --archive`), the
        /// archive is the long-term copy; keep batches well beyond the longest time a
        /// segment takes to seal plus the longest outage of the workers.
        #[arg(long, default_value_t = 0)]
        keep_days: u64,
    },
    /// Make an API key that sends SOURCE for TENANT through `serve --cluster`; printed once,
    /// only its hash is kept.
    Apikey {
        #[arg(long, env = "MAMORI_NATS")]
        nats: String,
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        source: String,
        /// Who or what the key is for (the sending system).
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Each tenant's batches, what its workers have acknowledged, findings published, and
    /// who holds its lease: counts only, no resident's data.
    Status {
        #[arg(long, env = "MAMORI_NATS")]
        nats: String,
        /// One JSON object per tenant.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ApikeyCommand {
    /// Make a key for SOURCE, or for reading reports; it is printed once and only its
    /// hash is kept.
    Create {
        #[arg(long)]
        source: Option<String>,
        /// A key for `GET /v1/reports/…` instead (its label names the reader in the log).
        #[arg(long)]
        reports: bool,
        /// A key for business system SYSTEM to ask the purpose-of-use gate
        /// (`POST /v1/access-check`, docs/gate.md).
        #[arg(long, value_name = "SYSTEM")]
        gate: Option<String>,
        /// Who or what the key is for (the sending system).
        #[arg(long, default_value = "")]
        label: String,
        /// The sources file `serve --config` reads (default: ./mamori.toml, else
        /// DATA/mamori.toml): a key for a source it does not define is refused.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// List keys (id, source, label, creation time); the keys themselves are not kept.
    List,
    /// Revoke a key by its id (from `list`): the sender is refused from the next request.
    Revoke { id: String },
}

/// What detection runs with: `detect`, `events sigma-flat` and `bench detect` alike.
#[derive(clap::Args)]
struct DetectionInputs {
    /// detect.toml: thresholds, trusted mail domains, `[sigma] shipped = false` to run
    /// only `--sigma`'s rules (docs/detection.md); built-in defaults when not given.
    #[arg(long)]
    rules: Option<PathBuf>,
    /// A folder of Sigma rules (*.yml) to run besides the shipped ones (docs/sigma.md);
    /// its pipeline.yml replaces the shipped field mapping.
    #[arg(long)]
    sigma: Option<PathBuf>,
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
struct BenchArgs {
    /// The issue-16 table in a few minutes: ingest beside the SQLite ceiling, the
    /// adapters, detection beside rsigma (when on PATH), streaming detection, disclosure.
    #[arg(long)]
    quick: bool,
    /// Where `--quick` works (made, then removed).
    #[arg(long, default_value = "mamori-bench-quick", requires = "quick")]
    dir: PathBuf,
    #[command(subcommand)]
    command: Option<BenchCommand>,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Import N synthetic record accesses into a fresh store under DIR.
    Ingest {
        #[arg(long, default_value = "mamori-bench")]
        dir: PathBuf,
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        #[arg(long, default_value_t = mamori_journal::DEFAULT_SEGMENT_SHIFT)]
        segment_shift: u32,
        #[arg(long, default_value_t = 50_000)]
        batch: usize,
        /// Rounds, each the plain-SQLite ceiling then mamori on the same lines.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Write the input this many lines at a time, each file removed once imported
        /// (writing not timed), for stores bigger than the disk's room for their input.
        #[arg(long, default_value_t = 0)]
        chunk: u64,
        /// Skip the plain-SQLite ceiling (it needs about as much disk as the store).
        #[arg(long)]
        no_ceiling: bool,
    },
    /// Time detection from scratch on the store of `--data` (enrichment, every analyzer,
    /// the Sigma rules), beside the rsigma CLI on the same rules and the same events as
    /// the rules see them, when `--rsigma` names it.
    Detect {
        #[command(flatten)]
        inputs: DetectionInputs,
        /// The rsigma CLI (`cargo install rsigma`).
        #[arg(long)]
        rsigma: Option<PathBuf>,
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// Import each log of a simulated town (`mamori simulate --out TOWN`) through its
    /// source, beside the synthetic NDJSON path in the same round.
    Adapters {
        #[arg(long)]
        town: PathBuf,
        /// Synthetic events imported each round for the comparison.
        #[arg(long, default_value_t = 300_000)]
        synthetic: u64,
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// Time streaming detection: a fresh store under DIR with the bench master data, the
    /// server with `--detect` in a process of its own, one sender posting RATE events a second in
    /// a batch every BATCH_MS for SECONDS; from each batch's acknowledgement to the commit
    /// of its probe's finding, and the process's memory over the run.
    Stream {
        #[arg(long, default_value = "mamori-bench-stream")]
        dir: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        rate: u64,
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        #[arg(long, default_value_t = 100)]
        batch_ms: u64,
    },
    /// The archive (docs/archive.md): EVENTS synthetic record accesses over a year of a
    /// 200,000-resident town in a store under DIR (made once, then reused), its sealed
    /// segments exported to Parquet, LOOKUPS residents' year answered from the archive and
    /// from the store, SPARK of them through the PySpark job.
    Archive {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 10_000_000)]
        events: u64,
        #[arg(long, default_value_t = 100)]
        lookups: u64,
        #[arg(long, default_value_t = 3)]
        spark: u64,
    },
    /// Event → finding through the cluster (docs/cluster.md): a three-node JetStream
    /// cluster on loopback, one tenant with the probe rule, the front and WORKERS workers
    /// with --detect; RATE events a second in a batch every BATCH_MS for SECONDS, timed
    /// from each batch's acknowledgement to its probe finding on the findings subject.
    #[command(name = "cluster-latency")]
    ClusterLatency {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 1000)]
        rate: u64,
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        #[arg(long, default_value_t = 1000)]
        batch_ms: u64,
        #[arg(long, default_value_t = 2)]
        workers: usize,
    },
    /// The clustered mode on this machine (docs/cluster.md): a three-node JetStream cluster
    /// on loopback (needs nats-server), TENANTS tenants, the front in a process; BATCHES
    /// batches of BATCH events per tenant published through the front, then WORKERS worker
    /// processes import them. Publish and import rates, bytes per event.
    Cluster {
        #[arg(long, default_value = "mamori-bench-cluster")]
        dir: PathBuf,
        #[arg(long, default_value_t = 4)]
        tenants: usize,
        #[arg(long, default_value_t = 50)]
        batches: u64,
        #[arg(long, default_value_t = 5000)]
        batch: u64,
        #[arg(long, default_value_t = 1)]
        workers: usize,
    },
    /// Write a fixed, varied set of COUNT Sigma rules (correlations among them) into DIR,
    /// for `bench detect --sigma DIR`.
    SigmaRules {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 100)]
        count: usize,
    },
    /// Time resident and account history look-ups on the store of `--data`.
    Query {
        #[arg(long, default_value_t = 1000)]
        lookups: u64,
    },
    /// Time one resident's disclosure (master data by key, explanations, proofs, HTML) on
    /// the bench store of `--data`; adds the bench master data if it has none.
    Disclosure {
        #[arg(long, default_value_t = 200)]
        lookups: u64,
    },
    /// Time the purpose-of-use gate: a fresh store under DIR with 200,000 residents, the
    /// server in this process, RATE checks a second for SECONDS, open loop.
    Gate {
        #[arg(long, default_value = "mamori-bench-gate")]
        dir: PathBuf,
        #[arg(long, default_value_t = 1000)]
        rate: u64,
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        #[arg(long, default_value_t = 8)]
        clients: usize,
    },
}

#[derive(Subcommand)]
enum ProofCommand {
    /// Prove that event ID is in the log (JSON to stdout).
    Inclusion {
        event_id: u64,
        /// Tree size to prove against (a signed checkpoint); default the latest.
        #[arg(long)]
        tree_size: Option<u64>,
    },
    /// Prove that the log of OLD_SIZE events is a prefix of the log of NEW_SIZE.
    Consistency { old_size: u64, new_size: u64 },
    /// Check a proof file with the log's public key, as an outside party would.
    Check {
        proof: PathBuf,
        /// The verifier key (`origin+id+base64`), or a file holding it.
        #[arg(long)]
        key: String,
        /// A checkpoint obtained independently (published); the proof must match it.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum WitnessCommand {
    /// Make a witness in DIR (its key, owner-only, and its state); prints its public key.
    Init {
        dir: PathBuf,
        /// The witness's name, a schema-less URL (e.g. `witness.pref.example.lg.jp/w1`).
        #[arg(long)]
        name: String,
    },
    /// Watch a log: its public key (`mamori key show` on the log's side).
    Trust { dir: PathBuf, log_key: String },
    /// Print the witness's public key.
    Key { dir: PathBuf },
    /// Serve `add-checkpoint` (C2SP tlog-witness) and the newest cosigned checkpoints.
    Serve {
        dir: PathBuf,
        #[arg(long, default_value = "127.0.0.1:7380")]
        listen: std::net::SocketAddr,
    },
    /// Have this store's checkpoints cosigned by a witness (recorded in the log).
    Add {
        /// The witness's submission prefix, e.g. `https://witness.pref.example.lg.jp/w1`.
        #[arg(long)]
        url: String,
        /// The witness's public key (`mamori witness key` on its side).
        key: String,
    },
    /// Submit the newest checkpoint to every witness the store names.
    Cosign,
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Print the public verifier key.
    Show,
    /// Replace the signing key: the rotation is an event signed by the old key, and the
    /// new key (written to --key) signs from then on.
    Rotate {
        #[arg(long)]
        key: PathBuf,
    },
}

#[derive(Subcommand)]
enum DeadletterCommand {
    /// Lines refused at import, oldest first: file, line, source and why.
    List {
        /// How many to show (a note on stderr says when more are stored).
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// One JSON object a line, with the refused line itself (`raw`).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum MasterCommand {
    /// Load every master-data file found in DIR (see docs/formats.md).
    Load {
        dir: PathBuf,
        /// DIR holds the CERT insider-threat data set's monthly LDAP snapshots.
        #[arg(long)]
        cert_ldap: bool,
    },
}

#[derive(Args)]
struct Range {
    /// From this date or time (JST date `2024-05-08`, or RFC 3339).
    #[arg(long)]
    from: Option<String>,
    /// Up to this date, the whole day included (as the reports' --to), or up to this time.
    #[arg(long)]
    to: Option<String>,
    /// Print OCSF JSON (with derived type_uid) instead of the stored form.
    #[arg(long)]
    ocsf: bool,
}

#[derive(Subcommand)]
enum EventsCommand {
    /// One event by its id (its index in the log).
    Get { id: u64 },
    /// Every event concerning a resident (宛名番号).
    Resident {
        uid: String,
        #[command(flatten)]
        range: Range,
    },
    /// Every event of an account as the source system gives it.
    Actor {
        uid: String,
        #[command(flatten)]
        range: Range,
    },
    /// Events in a time range.
    Time {
        #[command(flatten)]
        range: Range,
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// Every event as the Sigma rules see it (docs/sigma.md's taxonomy, enriched, with
    /// the detector's employee and explanation), one JSON object a line in time order:
    /// the input for running the same rules in another Sigma engine.
    SigmaFlat {
        #[command(flatten)]
        inputs: DetectionInputs,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = parse_command_line();
    mamori_app::lang::set_english(cli.en);
    match run(cli) {
        Ok(code) => code,
        // The reader went away (`mamori … | head`): what it wanted it has; like any Unix
        // filter, stop quietly. The work itself (an import, a detection run) was committed
        // before its summary was printed.
        Err(e) if e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mamori: {}", error_text(&e));
            ExitCode::from(2)
        }
    }
}

/// An error as its reader reads it: the OS gives I/O reasons in English only, so in
/// Japanese each is put by its kind.
fn error_text(e: &anyhow::Error) -> String {
    let mut text = format!("{e:#}");
    if !mamori_app::lang::english() {
        for io in e.chain().filter_map(|c| c.downcast_ref::<std::io::Error>()) {
            text = text.replace(&io.to_string(), &mamori_app::lang::io_reason_ja(io));
        }
        text = mamori_app::lang::os_reasons_ja(&text);
    }
    text
}

/// The command line, its help in Japanese unless `--en` is on it.
fn parse_command_line() -> Cli {
    use clap::{CommandFactory, FromArgMatches};
    let english = help_ja::english_requested(std::env::args_os());
    let cmd = if english { Cli::command() } else { help_ja::localise(Cli::command()) };
    let matches = cmd.try_get_matches().unwrap_or_else(|e| match help_ja::error_ja(&e) {
        // Help and version are not errors: clap prints them (already in Japanese).
        Some(text) if !english && e.use_stderr() => {
            eprint!("{text}");
            std::process::exit(e.exit_code())
        }
        _ => e.exit(),
    });
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// The store at `data`, with the archive it released segments to, if any.
fn open(data: &Path) -> Result<SqliteJournal> {
    mamori_app::archive::open_store(data)
}

fn run(cli: Cli) -> Result<ExitCode> {
    let out = &mut std::io::stdout().lock();
    let en = cli.en;
    match cli.command {
        Command::Init { dir, origin, segment_shift, key } => {
            let origin = origin.unwrap_or_else(audit::default_origin);
            // By default beside the data directory, not in it: a copy or backup of the
            // store must not carry the power to re-sign it.
            let key = match key {
                Some(k) => k,
                None => {
                    let abs = std::path::absolute(&dir)?;
                    let name = abs.file_name().map_or_else(|| "mamori".into(), |n| n.to_string_lossy().into_owned());
                    abs.with_file_name(format!("{name}.signing.key"))
                }
            };
            let mut j = SqliteJournal::init(&dir, &origin, segment_shift, &key)?;
            let vkey = j.verifier_key().to_owned();
            audit::record_fields(&mut j, audit::Action::Init, &format!("store created, origin {origin}"), &[("vkey", &vkey)])?;
            if en {
                writeln!(out, "initialised {} (origin {origin})", dir.display())?;
                writeln!(out, "signing key: {} (keep it apart from the data; see docs/verification.md)", key.display())?;
                writeln!(out, "public key: {}", j.verifier_key())?;
            } else {
                writeln!(out, "ストアを作成しました: {}（ログ名 {origin}）", dir.display())?;
                writeln!(out, "署名鍵: {}（データとは別の場所に保管してください。docs/verification.md）", key.display())?;
                writeln!(out, "公開鍵: {}", j.verifier_key())?;
            }
        }
        Command::Import { files, source, config, batch, follow, poll_ms, dry_run, show } => {
            let sources = sources_config(config.as_deref(), &cli.data)?;
            if files.is_empty() {
                anyhow::ensure!(!follow, tr!("--follow には追跡するファイルを指定してください", "--follow needs the files to follow"));
                // The nightly job: every configured source's `paths` (or the one named).
                let chosen: Vec<(&String, &mamori_sources::SourceConfig)> =
                    sources.iter().filter(|(name, c)| (source == "ndjson" || **name == source) && !c.paths.is_empty()).collect();
                if chosen.is_empty() {
                    bail!(tr!("取り込むファイルを指定するか、mamori.toml のそのソースの節に `paths = [...]` として列挙してください", "name the files to import, or list them under `paths = [...]` in the source's section of mamori.toml"));
                }
                let mut code = ExitCode::SUCCESS;
                for (name, c) in chosen {
                    let files = mamori_sources::expand_paths(&c.paths).map_err(|e| anyhow::anyhow!(tr!("ソース `{name}`: {e}", "source `{name}`: {e}")))?;
                    let args = Cli { data: cli.data.clone(), en, command: Command::Import { files, source: name.clone(), config: config.clone(), batch, follow, poll_ms, dry_run, show } };
                    if run(args)? != ExitCode::SUCCESS {
                        code = ExitCode::from(1);
                    }
                }
                return Ok(code);
            }
            let source_config = sources.get(&source);
            // A mistyped source name must not read a CSV as NDJSON, dead-letter every line
            // and mark the file imported.
            if source_config.is_none() && source != "ndjson" {
                let mut known: Vec<&String> = sources.keys().collect();
                known.sort();
                bail!(tr!(
                    "ソース `{source}` は設定されていません（設定済み: {}）。--source ndjson は mamori 独自のイベント形式を読みます",
                    "source `{source}` is not configured (configured: {}); --source ndjson reads mamori's own event format",
                    if known.is_empty() { tr!("なし。--config の指定は正しいですか", "none — is --config right?") } else { known.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ") }
                ));
            }
            if dry_run {
                return dry_run_import(&cli.data, &source, source_config, &files, show, out);
            }
            let mut j = open(&cli.data)?;
            let context = mamori_app::sources::adapter_context(&j, source_config)?;
            let adapter = || -> Result<Box<dyn mamori_sources::LineAdapter>> {
                Ok(match source_config {
                    Some(c) => mamori_sources::adapter(&source, c, &context).map_err(anyhow::Error::msg)?,
                    None => mamori_sources::ndjson_adapter(),
                })
            };
            let options = ImportOptions { source: source.clone(), batch_size: batch.max(1), follow, ..Default::default() };
            if follow {
                audit::record(&mut j, audit::Action::Import, &format!("following {files:?} as source {source}"))?;
                return follow_files(&mut j, &files, &options, adapter, poll_ms, out);
            }
            let files = expand_maildirs(&files, source_config)?;
            let mut failed = false;
            for file in &files {
                let bar = progress_bar(file);
                let result = import_file(&mut j, file, &options, adapter()?, &mut |done, total| {
                    bar.set_length(total);
                    bar.set_position(done);
                });
                bar.finish_and_clear();
                match result {
                    Ok(s) => {
                        // The log's record stays in English, one form for every reader of it.
                        let line = match &s.duplicate_of {
                            Some(other) => format!("{}: already imported ({other}); nothing added", file.display()),
                            None => format!(
                                "{}: accepted {}, rejected {}, ignored {}, skipped {} lines committed by an earlier run",
                                file.display(),
                                s.accepted,
                                s.rejected,
                                s.ignored,
                                s.already_committed_lines
                            ),
                        };
                        let said = match (&s.duplicate_of, en) {
                            (_, true) => line.clone(),
                            (Some(other), false) => format!("{}: 取り込み済みです（{other}）。追加はありません", file.display()),
                            (None, false) => format!(
                                "{}: 取り込み {} 件、取り込めない行 {} 件、対象外 {} 件、前回までに取り込み済み {} 行",
                                file.display(),
                                s.accepted,
                                s.rejected,
                                s.ignored,
                                s.already_committed_lines
                            ),
                        };
                        writeln!(out, "{said}")?;
                        audit::record(&mut j, audit::Action::Import, &line)?;
                        for other in &s.same_content_elsewhere {
                            if en {
                                eprintln!("mamori: warning: {}: the same content was imported before as {other}; if the two sources read different rows of it (route), this is right, else its records are now stored twice", file.display());
                            } else {
                                eprintln!("mamori: 注意: {}: 同じ内容のファイルが {other} として取り込み済みです。二つのソースが別々の行を読む（route）ならこれで正しく、そうでなければ記録が二重に保存されています", file.display());
                            }
                        }
                        // Not one record read: most often the wrong --source (or none, which
                        // reads NDJSON). The lines are kept in dead letters; the file can be
                        // imported again through the right source.
                        if s.duplicate_of.is_none() && s.accepted == 0 && s.rejected > 0 {
                            failed = true;
                            if en {
                                eprintln!(
                                    "mamori: {}: every record was rejected as source `{source}`; is that its source? (`mamori deadletter list` shows why; importing it through the right --source reads it again)",
                                    file.display()
                                );
                            } else {
                                eprintln!(
                                    "mamori: {}: ソース `{source}` としては 1 行も取り込めませんでした。ソースの指定は正しいですか（理由は `mamori deadletter list`。正しい --source で取り込み直せます）",
                                    file.display()
                                );
                            }
                        }
                    }
                    Err(e) => {
                        failed = true;
                        let said = e.to_string();
                        eprintln!("mamori: {}", if en { said } else { mamori_app::lang::os_reasons_ja(&said) });
                    }
                }
            }
            // The new checkpoint to the witnesses; one that is down is asked next time.
            witness::cosign_quietly(&mut j);
            if failed {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Verify { json, witnesses, offline, key, record } => {
            let mut j = open(&cli.data)?;
            let checks = witness::gather(&j, &witnesses, offline, key)?;
            let bar = indicatif::ProgressBar::new(0);
            let result = j.verify_at(&checks.sizes(), &mut |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            })?;
            bar.finish_and_clear();
            let result = result.and_then(|report| checks.judge(&report).map(|said| (report, said)));
            if record {
                let said = match &result {
                    Ok((report, _)) => format!("ok: {} events, {} checkpoints verified; tree size {}", report.events, report.checkpoints, report.tree_size),
                    Err(failure) => format!("FAILED: {failure}"),
                };
                let day = report::today_jst()?;
                audit::record_tagged(&mut j, audit::Action::Verify, &said, &[(audit::VERIFY_TAG, day.as_str())]).with_context(|| tr!("検証結果を記録できません（--record には署名鍵が必要です）", "recording the verification (--record needs the signing key)"))?;
            }
            match result {
                Ok((report, said)) => {
                    for line in said {
                        eprintln!("{line}");
                    }
                    if json {
                        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
                    } else if en {
                        writeln!(
                            out,
                            "ok: {} events, {} checkpoints verified; tree size {}, root {}",
                            report.events, report.checkpoints, report.tree_size, report.root
                        )?;
                    } else {
                        writeln!(
                            out,
                            "検証 OK: イベント {} 件、チェックポイント {} 件を確認しました（木の大きさ {}、根 {}）",
                            report.events, report.checkpoints, report.tree_size, report.root
                        )?;
                    }
                }
                Err(failure) => {
                    if json {
                        writeln!(out, "{}", serde_json::to_string_pretty(&failure)?)?;
                    }
                    if en {
                        eprintln!("mamori: {failure}");
                    } else {
                        eprintln!("mamori: 改ざん検証に失敗しました（{failure}）");
                    }
                    return Ok(ExitCode::from(1));
                }
            }
        }
        Command::Witness(cmd) => return witness::run(cmd, &cli.data, out),
        Command::Proof(cmd) => return proofcheck::run(cmd, &cli.data, en, out),
        Command::Key(KeyCommand::Show) => {
            writeln!(out, "{}", open(&cli.data)?.verifier_key())?;
        }
        Command::Key(KeyCommand::Rotate { key }) => {
            let mut j = open(&cli.data)?;
            j.rotate_key(&key, &|old, new| audit::key_rotation_event(old, new))?;
            if en {
                writeln!(out, "new signing key at {}; public key: {}", key.display(), j.verifier_key())?;
                writeln!(out, "publish the new public key beside the old one; `verify --key` accepts either")?;
            } else {
                writeln!(out, "新しい署名鍵: {}、公開鍵: {}", key.display(), j.verifier_key())?;
                writeln!(out, "新しい公開鍵を古い鍵と並べて公表してください（`verify --key` はどちらも受け付けます）")?;
            }
        }
        Command::Compact => {
            let mut j = open(&cli.data)?;
            j.compact()?;
            let runs = j.key_runs()?;
            if runs.is_empty() {
                writeln!(out, "{}", if en { "no key runs: fewer than 16 sealed segments" } else { "キー索引ランなし（封印済み区間が 16 個未満）" })?;
            }
            for (level, done, rows, building) in runs {
                if en {
                    writeln!(out, "level {level}: {done} runs of {} segments each, {rows} index rows; {building} being built", 16u64.pow(level))?;
                } else {
                    writeln!(out, "レベル {level}: ラン {done} 個（各 {} 区間、索引 {rows} 行）、作成中 {building} 個", 16u64.pow(level))?;
                }
            }
        }
        Command::Checkpoint => {
            let cp = open(&cli.data)?.latest_checkpoint()?.with_context(|| tr!("ストアにチェックポイントがありません", "the store has no checkpoint"))?;
            write!(out, "{}", cp.note)?;
        }
        Command::Deadletter(DeadletterCommand::List { limit, json }) => {
            let j = open(&cli.data)?;
            let letters = j.dead_letters(limit)?;
            let total: u64 = j.dead_letter_counts()?.iter().map(|(_, n)| n).sum();
            if !json && total > letters.len() as u64 {
                if en {
                    eprintln!("mamori: {} of {total} dead letters shown (--limit)", letters.len());
                } else {
                    eprintln!("mamori: 取り込めなかった行 {total} 件のうち {} 件を表示しています（--limit）", letters.len());
                }
            }
            for d in letters {
                if json {
                    let v = serde_json::json!({
                        "source": d.source, "file": d.file, "line": d.line, "reason": d.reason,
                        "raw": String::from_utf8_lossy(&d.raw),
                    });
                    writeln!(out, "{v}")?;
                } else {
                    writeln!(out, "{}:{}: [{}] {}", d.file, d.line, d.source, d.reason)?;
                }
            }
        }
        Command::Master(MasterCommand::Load { dir, cert_ldap }) => return master_load(&cli.data, &dir, cert_ldap, en, out),
        Command::Events(cmd) => events(cmd, &cli.data, out)?,
        Command::Detect { inputs: DetectionInputs { rules, sigma }, rebuild } => {
            let config = detect::load_config(rules.as_deref())?;
            let mut j = open(&cli.data)?;
            let started = std::time::Instant::now();
            let summary = detect::run(&mut j, config, sigma.as_deref(), rebuild)?;
            let share = 100.0 * summary.explained as f64 / summary.accesses.max(1) as f64;
            let seconds = started.elapsed().as_secs_f64();
            if en {
                match &summary.rebuilt {
                    Some(why) => writeln!(out, "judged all {} events from scratch ({why})", summary.judged)?,
                    None => writeln!(out, "judged {} new events", summary.judged)?,
                }
                writeln!(out, "{} record accesses, {} explained ({share:.2}%), {} findings in {seconds:.1} s", summary.accesses, summary.explained, summary.findings.len())?;
                if summary.suppressed > 0 {
                    writeln!(out, "(of which {} suppressed by closed cases)", summary.suppressed)?;
                }
            } else {
                match &summary.rebuilt {
                    Some(why) => writeln!(out, "全 {} 件を最初から判定しました（{}）", summary.judged, detect::rebuild_reason_ja(why))?,
                    None => writeln!(out, "新しいイベント {} 件を判定しました", summary.judged)?,
                }
                writeln!(out, "記録照会 {} 件、うち業務の根拠あり {} 件（{share:.2}%）、検知 {} 件（{seconds:.1} 秒）", summary.accesses, summary.explained, summary.findings.len())?;
                if summary.suppressed > 0 {
                    writeln!(out, "（うち {} 件は終結した事案により抑制）", summary.suppressed)?;
                }
            }
            let raised: Vec<_> = summary.findings.iter().filter(|f| f.suppressed.is_none()).cloned().collect();
            detect::print_findings(&raised, 10, en, out)?;
        }
        Command::Explain(ExplainCommand::Learn { rules }) => {
            let config = detect::load_config(rules.as_deref())?;
            let mut j = open(&cli.data)?;
            let model = detect::learn(&mut j, &config)?;
            detect::print_model(&model, en, out)?;
        }
        Command::Explain(ExplainCommand::Stats { json }) => {
            let j = open(&cli.data)?;
            let Some(model) = detect::stored_model(&j)? else {
                bail!(tr!("ログにまだ説明モデルがありません。`mamori explain learn`（または `mamori detect`）を実行してください", "no explanation model in the log yet: run `mamori explain learn` (or `mamori detect`)"))
            };
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&model)?)?;
            } else {
                detect::print_model(&model, en, out)?;
            }
        }
        Command::Findings { limit, json, ocsf } => {
            let j = open(&cli.data)?;
            let findings = detect::stored_findings(&j)?;
            no_detection_yet(&j, &findings, en, json || ocsf)?;
            if json || ocsf {
                for f in findings.iter().take(limit.unwrap_or(usize::MAX)) {
                    let line = if ocsf { f.ocsf().to_string() } else { serde_json::to_string(f)? };
                    writeln!(out, "{line}")?;
                }
            } else {
                detect::print_findings(&findings, limit.unwrap_or(20), en, out)?;
            }
        }
        Command::Risk { as_of, rules, limit, json } => {
            let config = detect::load_config(rules.as_deref())?;
            let j = open(&cli.data)?;
            let findings = detect::stored_findings(&j)?;
            no_detection_yet(&j, &findings, false, json)?;
            let as_of = match as_of {
                Some(d) => timearg::parse_ms(&d)? + 86_400_000,
                None => findings.iter().map(|f| f.to).max().unwrap_or(0),
            };
            let ranked = mamori_detect::risk(&findings, as_of, &config.risk);
            if json {
                for r in ranked.iter().take(limit) {
                    writeln!(out, "{}", serde_json::to_string(r)?)?;
                }
            } else {
                if !ranked.is_empty() {
                    let (rank, employee, score, top) = if en { ("#", "employee", "score", "top findings (rule:employee score)") } else { ("順", "職員", "スコア", "主な所見（ルール:職員 スコア）") };
                    writeln!(out, "{rank:>3} {employee:<8} {score:>7}  {top}")?;
                }
                for (i, r) in ranked.iter().take(limit).enumerate() {
                    let top: Vec<String> = r.findings.iter().take(3).map(|(id, s)| format!("{id} {s:.1}")).collect();
                    writeln!(out, "{:>2}. {:<8} {:>7.1}  {}", i + 1, r.employee, r.score, top.join(", "))?;
                }
            }
        }
        Command::Check { source, config, rules, min_resolved, min_known_hosts, min_known_residents, max_dead_letters, json } => {
            let j = open(&cli.data)?;
            let master = detect::master_from_store(&j)?;
            let dir = mamori_enrich::Directory::new(&master);
            let tz = detect::load_config(rules.as_deref())?.timezone();
            let limits = check::Thresholds { min_resolved, min_known_hosts, min_known_residents, max_dead_letters };
            // Sources configured with another `product` count their dead letters under it.
            let products = check::products(&sources_config(config.as_deref(), &cli.data)?);
            let checks = check::check(&j, &dir, tz, source.as_deref(), &products, limits)?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&checks)?)?;
            } else {
                check::print(&checks, out)?;
            }
            if checks.iter().any(|c| !c.problems.is_empty()) {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Eval { truth, labels, json, incidents } => {
            let j = open(&cli.data)?;
            let truth = std::fs::read_to_string(&truth).with_context(|| tr!("{} を読めません", "reading {}", truth.display()))?;
            let labels = labels.map(std::fs::read_to_string).transpose()?;
            let e = detect::evaluate(&j, &truth, labels.as_deref())?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&e)?)?;
            } else {
                detect::print_evaluation(&e, incidents, out)?;
            }
        }
        Command::Demo { dir, seed } => return demo(dir, seed, out),
        Command::Report(ReportCommand::Disclosure { resident, from, to, request_no, format, operator, out: file, archive }) => {
            let policy = match operator.as_str() {
                "withheld" => mamori_report::OperatorPolicy::Withheld,
                "number" => mamori_report::OperatorPolicy::Number,
                "name" => mamori_report::OperatorPolicy::Name,
                other => bail!(tr!("--operator `{other}`: withheld、number、name のいずれかを指定してください", "--operator `{other}`: use withheld, number or name")),
            };
            let range = inclusive_range(from.as_deref(), to.as_deref())?;
            let mut j = open(&cli.data)?;
            let request = report::Request {
                resident: &resident,
                range,
                from: from.clone().unwrap_or_else(|| "（記録の最初から）".into()),
                to: to.clone().unwrap_or_else(|| "（現在まで）".into()),
                request_no: request_no.clone(),
                policy,
            };
            let d = match archive.parts()? {
                None => report::disclosure(&j, &request)?,
                Some((location, tenant, engine)) => {
                    let (d, answer) = mamori_app::archive::disclosure(&j, location, tenant, engine, &request)?;
                    ArchiveRead::tell(&answer);
                    d
                }
            };
            let bytes = match format.as_str() {
                "html" => d.html().into_bytes(),
                "csv" => d.csv_utf8(),
                "csv-sjis" => d.csv_shift_jis().map_err(anyhow::Error::msg)?,
                "json" => d.json().into_bytes(),
                other => bail!(tr!("--format `{other}`: html、csv、csv-sjis、json のいずれかを指定してください", "--format `{other}`: use html, csv, csv-sjis or json")),
            };
            audit::record(
                &mut j,
                audit::Action::Report,
                &format!("disclosure of resident {resident} (request {request_no}): {} entries, {format}{}", d.entries.len(), archive.audit_note()),
            )?;
            match file {
                Some(path) => std::fs::write(&path, bytes).with_context(|| tr!("{} に書き込めません", "writing {}", path.display()))?,
                None => out.write_all(&bytes)?,
            }
        }
        Command::Review(ReviewCommand::Sheet { department, month, sample, seed, format, out: file }) => {
            let mut j = open(&cli.data)?;
            let seed = seed.unwrap_or_else(|| review::default_seed(&department, &month));
            let sheet = review::sheet(&j, &department, &month, seed, sample)?;
            let bytes = match format.as_str() {
                "html" => sheet.html().into_bytes(),
                "csv" => sheet.csv_utf8(),
                "csv-sjis" => sheet.csv_shift_jis().map_err(anyhow::Error::msg)?,
                "json" => sheet.json().into_bytes(),
                other => bail!(tr!("--format `{other}`: html、csv、csv-sjis、json のいずれかを指定してください", "--format `{other}`: use html, csv, csv-sjis or json")),
            };
            audit::record(&mut j, audit::Action::Report, &format!("review sheet {} (seed {seed}): {} rows", sheet.id(), sheet.rows.len()))?;
            match file {
                Some(path) => std::fs::write(&path, bytes).with_context(|| tr!("{} に書き込めません", "writing {}", path.display()))?,
                None => out.write_all(&bytes)?,
            }
        }
        Command::Review(ReviewCommand::Signoff { department, month, reviewer, marks, sample, seed }) => {
            let mut j = open(&cli.data)?;
            let signer = review::reviewer_may_sign(&j, &reviewer, &department)?;
            // The manager signs, not whoever holds a shell: their console password, from
            // standard input, as at the console's sign-in.
            let mut password = String::new();
            std::io::stdin().read_line(&mut password)?;
            if !mamori_server::console::verify_password(password.trim_end_matches(['\r', '\n']), &signer.phc) {
                audit::record(&mut j, audit::Action::ReviewSignoff, &format!("sign-off of {department}/{month} as {reviewer} refused: wrong password"))?;
                bail!(tr!("{reviewer} のパスワードが違います（標準入力から読みます）。この失敗は記録されました", "wrong password for {reviewer}, read from standard input; the refusal is recorded"));
            }
            let seed = seed.unwrap_or_else(|| review::default_seed(&department, &month));
            let sheet = review::sheet(&j, &department, &month, seed, sample)?;
            let signoff = review::read_marks(&marks, &sheet, &reviewer)?;
            let key = sheet.id();
            let seq = review::record_signoff(&mut j, &audit::operator(), &sheet, &signoff)?;
            let (rows, not_business, ask) = (signoff.marks.len(), signoff.detail["not_business"].as_array().map_or(0, Vec::len), signoff.detail["ask"].as_array().map_or(0, Vec::len));
            if en {
                writeln!(out, "signed off {key} by {reviewer}: {rows} rows, {not_business} 業務外, {ask} 確認 (event {seq})")?;
            } else {
                writeln!(out, "{key} の点検を {reviewer} が確認しました: {rows} 行、業務外 {not_business}、確認 {ask}（記録 {seq}）")?;
            }
        }
        Command::Review(ReviewCommand::Status { month, as_of, grace_days, json }) => {
            let j = open(&cli.data)?;
            let as_of = match as_of {
                Some(d) => chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").with_context(|| tr!("--as-of `{d}`: YYYY-MM-DD の形式で指定してください", "--as-of `{d}`: use YYYY-MM-DD"))?,
                None => chrono::NaiveDate::parse_from_str(&report::today_jst()?, "%Y-%m-%d")?,
            };
            let months = if month.is_empty() {
                let first = chrono::Datelike::with_day(&as_of, 1).expect("day 1").pred_opt().expect("a day before");
                vec![first.format("%Y-%m").to_string()]
            } else {
                month
            };
            let states = review::status(&j, &months, as_of, grace_days)?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&states)?)?;
            } else {
                for s in &states {
                    let what = match (&s.signoff, s.state) {
                        (Some((seq, at, who)), _) => format!("点検済み {at} {who}（記録 {seq}）"),
                        (None, "overdue") => format!("期限超過（期限 {}）", s.due),
                        _ => format!("未点検（期限 {}）", s.due),
                    };
                    writeln!(out, "{} {:<6} {what}", s.month, s.department)?;
                }
            }
        }
        Command::Report(ReportCommand::Locks { month, format }) => {
            let j = open(&cli.data)?;
            let rows = report::lock_compliance(&j, month.as_deref())?;
            let mut text = String::new();
            if format == "csv" {
                text.push_str("\u{FEFF}月,所属,職員,施錠して離席,施錠せず離席,施錠率\r\n");
                for r in &rows {
                    text.push_str(&format!("{},{},{},{},{},{:.1}%\r\n", r.month, r.department, r.employee, r.locked, r.unlocked, r.rate() * 100.0));
                }
            } else {
                anyhow::ensure!(format == "text", tr!("--format `{format}`: text または csv を指定してください", "--format `{format}`: use text or csv"));
                text.push_str("月       所属    職員     施錠  未施錠  施錠率\n");
                for r in &rows {
                    text.push_str(&format!("{} {:<7} {:<8} {:>4} {:>6} {:>6.1}%\n", r.month, r.department, r.employee, r.locked, r.unlocked, r.rate() * 100.0));
                }
            }
            out.write_all(text.as_bytes())?;
        }
        Command::Report(ReportCommand::Employee { employee, from, to, format, unexplained, out: file, archive }) => {
            let range = inclusive_range(from.as_deref(), to.as_deref())?;
            let mut j = open(&cli.data)?;
            let from = from.unwrap_or_else(|| "（記録の最初から）".into());
            let to = to.unwrap_or_else(|| "（現在まで）".into());
            let mut b = match archive.parts()? {
                None => report::back_search(&j, &employee, range, from, to)?,
                Some((location, tenant, engine)) => {
                    let (b, answer) = mamori_app::archive::back_search(&j, location, tenant, engine, &employee, range, from, to)?;
                    ArchiveRead::tell(&answer);
                    b
                }
            };
            if unexplained {
                b.entries.retain(|e| !e.explained);
            }
            let bytes = match format.as_str() {
                "html" => b.html().into_bytes(),
                "csv" => b.csv_utf8(),
                "csv-sjis" => b.csv_shift_jis().map_err(anyhow::Error::msg)?,
                "json" => b.json().into_bytes(),
                other => bail!(tr!("--format `{other}`: html、csv、csv-sjis、json のいずれかを指定してください", "--format `{other}`: use html, csv, csv-sjis or json")),
            };
            let unexplained_n = b.entries.iter().filter(|e| !e.explained).count();
            audit::record(&mut j, audit::Action::Report, &format!("back-search of employee {employee}: {} accesses, {unexplained_n} unexplained{}", b.entries.len(), archive.audit_note()))?;
            match file {
                Some(path) => std::fs::write(&path, bytes).with_context(|| tr!("{} に書き込めません", "writing {}", path.display()))?,
                None => out.write_all(&bytes)?,
            }
        }
        Command::Report(ReportCommand::Breach { finding, events, evidence, aware, improper_purpose, title, format, notice, out: file }) => {
            anyhow::ensure!(!finding.is_empty() || !events.is_empty() || !evidence.is_empty(), tr!("漏えいしたものを --finding、--events、--evidence のいずれかで指定してください", "name what left: --finding, --events or --evidence"));
            let aware = chrono::NaiveDate::parse_from_str(&aware, "%Y-%m-%d").with_context(|| tr!("--aware `{aware}`: YYYY-MM-DD の形式で指定してください", "--aware `{aware}`: use YYYY-MM-DD"))?;
            let mut j = open(&cli.data)?;
            let source = finding.iter().map(|f| format!("所見 {f}")).chain((!events.is_empty()).then(|| format!("記録 {} 件", events.len()))).collect::<Vec<_>>().join("、");
            let facts = mamori_report::BreachFacts { title, aware, improper_purpose, employees: Vec::new(), source };
            let b = report::breach(&j, report::BreachRequest { findings: finding.clone(), events, evidence, facts })?;
            let bytes = match format.as_str() {
                "html" => b.html().into_bytes(),
                "json" => b.json().into_bytes(),
                other => bail!(tr!("--format `{other}`: html または json を指定してください", "--format `{other}`: use html or json")),
            };
            audit::record(&mut j, audit::Action::Report, &format!("breach sizing ({}): {} people", finding.join(", "), b.people))?;
            if let Some(path) = notice {
                std::fs::write(&path, b.notice_csv()).with_context(|| tr!("{} に書き込めません", "writing {}", path.display()))?;
            }
            match file {
                Some(path) => std::fs::write(&path, bytes).with_context(|| tr!("{} に書き込めません", "writing {}", path.display()))?,
                None => out.write_all(&bytes)?,
            }
            match (en, b.mandatory_because.is_empty()) {
                (true, quiet) => eprintln!("{} people affected; reporting {}", b.people, if quiet { "not mandatory on what is known" } else { "mandatory" }),
                (false, true) => eprintln!("対象者 {} 人。分かっている事実からは報告義務はありません", b.people),
                (false, false) => eprintln!("対象者 {} 人。個人情報保護委員会への報告が必要です", b.people),
            }
        }
        Command::Simulate { out: dir, residents, employees, days, seed, start } => {
            anyhow::ensure!(residents >= 100 && employees >= 30, tr!("模擬自治体には住民 100 人以上、職員 30 人以上が必要です", "a town needs at least 100 residents and 30 staff"));
            let params = mamori_sim::Params { residents, employees, days, seed, start };
            let started = std::time::Instant::now();
            let summary = mamori_sim::simulate(&params, &dir)?;
            for (file, rows) in &summary.files {
                writeln!(out, "{file:<28} {rows:>9}")?;
            }
            let seconds = started.elapsed().as_secs_f64();
            if en {
                writeln!(out, "{} record accesses, {} incidents injected, in {seconds:.1} s → {}", summary.accesses, summary.incidents, dir.display())?;
            } else {
                writeln!(out, "記録照会 {} 件、注入した事案 {} 件（{seconds:.1} 秒）→ {}", summary.accesses, summary.incidents, dir.display())?;
            }
        }
        Command::Serve { listen, config, detect, rules, sigma, secure_cookies, log_format, tls_cert, tls_key, gate, cluster } => {
            let _flush_on_exit = service_logs(&log_format);
            if let Some(nats) = cluster {
                return mamori_server::cluster::serve(&nats, listen, |addr| {
                    tracing::info!(address = %addr, "mamori: listening on http://{addr} (cluster front, NATS {nats})");
                })
                .map(|()| ExitCode::SUCCESS);
            }
            let gate_policy = mamori_app::gate::Policy::load(gate.as_deref())?;
            let detect_config = detect::load_config(rules.as_deref())?;
            let risk = detect_config.risk.clone();
            let streaming = if detect { Some((detect_config, sigma)) } else { None };
            let j = open(&cli.data)?;
            let sources = sources_config(config.as_deref(), &cli.data)?;
            let context = sources
                .values()
                .find(|c| matches!(c.format, mamori_sources::Format::Mbox | mamori_sources::Format::Maildir))
                .map(|c| mamori_app::sources::adapter_context(&j, Some(c)))
                .transpose()?
                .unwrap_or_default();
            let names: Vec<&String> = sources.keys().collect();
            let summary = format!("serving {} sources: {names:?}", sources.len());
            let mut server = mamori_server::Server::new(j, sources, context)?.with_secure_cookies(secure_cookies).with_risk(risk).with_gate_policy(gate_policy)?;
            if let (Some(cert), Some(key)) = (&tls_cert, &tls_key) {
                server = server.with_tls(cert, key).map_err(anyhow::Error::msg)?;
            }
            if let Some(settings) = streaming {
                server = server.with_streaming_detection(settings)?;
            }
            let scheme = if tls_cert.is_some() { "https" } else { "http" };
            mamori_server::serve(server, listen, |addr| {
                tracing::info!(address = %addr, "mamori: listening on {scheme}://{addr} ({summary})");
            })?;
        }
        Command::Worker { nats, detect, name, fetch, archive, keep_archived } => {
            let _flush_on_exit = service_logs("text");
            let name = name.unwrap_or_else(|| format!("{}-{}", std::fs::read_to_string("/etc/hostname").unwrap_or_default().trim(), std::process::id()));
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(async {
                let cluster = mamori_cluster::Cluster::connect(&nats, &name).await?;
                // Workers may start before the first tenant is added (and the buckets made).
                let lease = loop {
                    match cluster.lease_time().await {
                        Ok(l) => break l,
                        Err(e) => {
                            tracing::info!(error = format!("{e:#}"), "waiting for the cluster's first tenant");
                            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        }
                    }
                };
                tracing::info!(worker = name, lease_s = lease.as_secs_f64(), "mamori worker: working the tenants under {}", cli.data.display());
                let settings = mamori_cluster::worker::Settings { root: cli.data.clone(), name, lease, detect, fetch: fetch.max(1), archive, release_archived: !keep_archived };
                // Stopped by Ctrl-C or SIGTERM (systemd, cluster-up.sh): leases are given
                // back, not left to expire.
                let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
                mamori_cluster::worker::run(cluster, settings, async move {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                })
                .await
            })?;
        }
        Command::Cluster(command) => cluster_command(command, &cli.data, out)?,
        Command::Archive(command) => archive_command(command, &cli.data, cli.en, out)?,
        Command::Apikey(ApikeyCommand::Create { source, reports, gate, label, config }) => {
            let scope = match (source, reports, gate) {
                (Some(s), false, None) if !s.starts_with('@') => s,
                (None, true, None) => mamori_server::REPORTS_SCOPE.to_owned(),
                (None, false, Some(system)) if !system.trim().is_empty() && !system.contains(char::is_whitespace) => format!("{}{system}", mamori_server::GATE_SCOPE),
                _ => bail!(tr!("--source NAME（そのソースを送る API キー）、--reports（報告書を読む API キー）、--gate SYSTEM（利用目的の確認（ゲート）に問い合わせる API キー）のいずれか一つを指定してください", "give one of --source NAME (a key that sends that source), --reports (a key that reads reports) or --gate SYSTEM (a key that asks the purpose-of-use gate)")),
            };
            anyhow::ensure!(!label.trim().is_empty() || scope != mamori_server::REPORTS_SCOPE, tr!("報告書を読む API キーには --label が必要です（ログで読み手を示す名前になります）", "a report key needs --label: it names the reader in the log"));
            // A mistyped source would make a key that sends nowhere, listed as if it did.
            if !scope.starts_with('@') && scope != "ndjson" {
                let sources = sources_config(config.as_deref(), &cli.data)?;
                if sources.is_empty() {
                    eprintln!("mamori: {}", tr!("注意: ソースの設定ファイルが見つかりません。`serve --config` のファイルにソース `{scope}` があることを確認してください", "note: no sources file found: check that the file serve --config reads defines `{scope}`"));
                } else if !sources.contains_key(&scope) {
                    let known: Vec<&str> = sources.keys().map(String::as_str).collect();
                    bail!(tr!("ソース `{scope}` は設定されていません（設定済み: {}）。--config でソースの設定ファイルを指定します", "source `{scope}` is not configured (configured: {}); --config names the sources file", known.join(", ")));
                }
            }
            let mut j = open(&cli.data)?;
            let (key, hash) = mamori_server::new_api_key();
            mamori_app::admin::create_api_key(&mut j, &audit::operator(), &scope, &label, &hash)?;
            writeln!(out, "{key}")?;
        }
        Command::User(UserCommand::Add { name, replace, role, department }) => {
            anyhow::ensure!(!name.trim().is_empty() && name.chars().all(|c| !c.is_control() && c != ':'), tr!("--name: 制御文字や `:` を含まない利用者名を指定してください", "--name: a user name without control characters or `:`"));
            anyhow::ensure!(name.trim().len() <= 128, tr!("--name: 128 バイト以内で指定してください", "--name: at most 128 bytes"));
            let parsed = mamori_app::console::Role::parse(&role)
                .with_context(|| tr!("--role `{role}` という役割はありません。役割は {} のいずれかです", "--role `{role}` is not a role; the roles are {}", mamori_app::console::ROLES.join(", ")))?;
            let department = match (parsed, department) {
                (mamori_app::console::Role::Manager, Some(d)) if !d.trim().is_empty() => d.trim().to_owned(),
                (mamori_app::console::Role::Manager, _) => bail!(tr!("--department: 所属長（manager）は一つの所属の職員を見ます。その所属を指定してください（例: --department D100）", "--department: a manager sees one department's staff; name it (e.g. --department D100)")),
                (_, Some(_)) => bail!(tr!("--department は所属長（manager）にだけ指定します。役割 {role} は所属によりません", "--department is for managers only: the {role} role does not depend on a department")),
                (_, None) => String::new(),
            };
            let mut j = open(&cli.data)?;
            // Re-adding a name would reset someone's password and role unnoticed (and let a
            // shell user take over a manager's sign-off): only on purpose.
            if !replace && j.user(name.trim())?.is_some() {
                bail!(tr!("利用者 {} はすでに存在します。パスワード・役割を置き換えるには --replace を付けてください", "user {} exists: --replace sets a new password and role", name.trim()));
            }
            if !department.is_empty() {
                let (_, master) = mamori_app::console::staff_directory(&j)?;
                anyhow::ensure!(
                    master.departments.is_empty() || master.departments.iter().any(|d| d.code == department),
                    tr!("--department `{department}` はマスタデータの所属にありません", "--department `{department}` is not in the master data's departments")
                );
            }
            let mut password = String::new();
            std::io::stdin().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            anyhow::ensure!(password.chars().count() >= 12, tr!("パスワードは 12 文字以上にしてください", "the password must have at least 12 characters"));
            let phc = mamori_server::console::hash_password(password).map_err(anyhow::Error::msg)?;
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
            let phc_sha256 = mamori_journal::sha256_hex(phc.as_bytes());
            audit::record_fields(
                &mut j,
                audit::Action::UserAdd,
                &format!("console user {} ({role}{})", name.trim(), if department.is_empty() { String::new() } else { format!(", {department}") }),
                &[("user", name.trim()), ("role", &role), ("department", &department), ("phc_sha256", &phc_sha256)],
            )?;
            j.put_user(name.trim(), &phc, &role, &department, now)?;
            // A new password signs the user out everywhere (a running server reads the file).
            let ended = mamori_server::console::Sessions::end_all(&cli.data, name.trim()).map_err(anyhow::Error::msg)?;
            match (en, ended > 0) {
                (true, true) => writeln!(out, "{ended} console sessions of {} ended", name.trim())?,
                (false, true) => writeln!(out, "{} のコンソールのセッション {ended} 件を終了しました", name.trim())?,
                _ => {}
            }
            if en {
                writeln!(out, "user {} ({role}) saved", name.trim())?;
            } else {
                writeln!(out, "利用者 {}（{role}）を保存しました", name.trim())?;
            }
        }
        Command::User(UserCommand::Remove { name }) => {
            let mut j = open(&cli.data)?;
            let ended = mamori_app::admin::remove_user(&mut j, &audit::operator(), &name, || mamori_server::console::Sessions::end_all(&cli.data, &name).map_err(anyhow::Error::msg))?;
            if en {
                writeln!(out, "user {name} removed; {ended} sessions ended")?;
            } else {
                writeln!(out, "利用者 {name} を削除しました。セッション {ended} 件を終了しました")?;
            }
        }
        Command::User(UserCommand::List) => {
            for u in open(&cli.data)?.users()? {
                writeln!(out, "{}\t{}\t{}\t{}", u.name, u.role, if u.department.is_empty() { "-" } else { &u.department }, report::jst_text(u.created))?;
            }
        }
        Command::Apikey(ApikeyCommand::List) => {
            for k in open(&cli.data)?.api_keys()? {
                writeln!(out, "{}\t{}\t{}\t{}", k.id, k.scope, k.label, report::jst_text(k.created))?;
            }
        }
        Command::Apikey(ApikeyCommand::Revoke { id }) => {
            let key = mamori_app::admin::revoke_api_key(&mut open(&cli.data)?, &audit::operator(), &id)?;
            if en {
                writeln!(out, "API key {} ({} {}) revoked", key.id, key.scope, key.label)?;
            } else {
                writeln!(out, "API キー {}（{} {}）を失効させました", key.id, key.scope, key.label)?;
            }
        }
        Command::Bench(BenchArgs { quick: true, dir, .. }) => bench::quick(&dir, out)?,
        Command::Bench(BenchArgs { command: None, .. }) => bail!(tr!("ベンチマークを指定してください（mamori bench --help）。表を出すには --quick を付けてください", "name a benchmark (mamori bench --help), or --quick for the table")),
        Command::Bench(BenchArgs { command: Some(BenchCommand::Ingest { dir, events, segment_shift, batch, runs, chunk, no_ceiling }), .. }) => {
            bench::ingest(&dir, events, segment_shift, batch, runs, bench::IngestShape { chunk, ceiling: !no_ceiling }, out)?;
        }
        Command::Bench(BenchArgs { command: Some(BenchCommand::Detect { inputs: DetectionInputs { rules, sigma }, rsigma, runs }), .. }) => {
            bench::detect(&cli.data, rules.as_deref(), sigma.as_deref(), rsigma.as_deref(), runs, out)?;
        }
        Command::Bench(BenchArgs { command: Some(BenchCommand::Adapters { town, synthetic, runs }), .. }) => {
            bench::adapters(&town, synthetic, runs, out)?;
        }
        Command::Bench(BenchArgs { command: Some(BenchCommand::SigmaRules { out: dir, count }), .. }) => {
            let files = bench::sigma_rule_set(&dir, count)?;
            writeln!(out, "{count} rules in {files} files under {}", dir.display())?;
        }
        Command::Bench(BenchArgs { command: Some(BenchCommand::Query { lookups }), .. }) => bench::query(&cli.data, lookups, out)?,
        Command::Bench(BenchArgs { command: Some(BenchCommand::Disclosure { lookups }), .. }) => {
            bench::disclosure(&cli.data, lookups, out)?;
        }
        Command::Bench(BenchArgs { command: Some(BenchCommand::ClusterLatency { dir, rate, seconds, batch_ms, workers }), .. }) => bench::cluster_latency(&dir, rate, seconds, batch_ms, workers, out)?,
        Command::Bench(BenchArgs { command: Some(BenchCommand::Archive { dir, events, lookups, spark }), .. }) => bench::archive(&dir, events, lookups, spark, out)?,
        Command::Bench(BenchArgs { command: Some(BenchCommand::Cluster { dir, tenants, batches, batch, workers }), .. }) => {
            bench::cluster(&dir, tenants, batches, batch, workers, out)?;
        }
        Command::Bench(BenchArgs { command: Some(BenchCommand::Stream { dir, rate, seconds, batch_ms }), .. }) => {
            bench::stream(&dir, rate, seconds, batch_ms, out)?;
        }
        Command::Bench(BenchArgs { command: Some(BenchCommand::Gate { dir, rate, seconds, clients }), .. }) => bench::gate(&dir, rate, seconds, clients, out)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `import --follow`: reads the files as they grow, round after round, until stopped;
/// each file's position is kept between rounds so a round reads only what was appended.
fn follow_files(
    j: &mut SqliteJournal,
    files: &[PathBuf],
    options: &ImportOptions,
    adapter: impl Fn() -> Result<Box<dyn mamori_sources::LineAdapter>>,
    poll_ms: u64,
    out: &mut impl Write,
) -> Result<ExitCode> {
    let mut positions: std::collections::HashMap<PathBuf, mamori_ingest::StreamPosition> = Default::default();
    loop {
        for file in files {
            if !file.is_file() {
                continue; // not written yet
            }
            let position = positions.remove(file);
            let (s, end) = mamori_ingest::import_file_at(j, file, options, adapter()?, &mut |_, _| {}, position)?;
            if s.accepted + s.rejected > 0 {
                writeln!(out, "{}: accepted {}, rejected {}", file.display(), s.accepted, s.rejected)?;
                out.flush()?;
            }
            if let Some(end) = end {
                positions.insert(file.clone(), end);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(poll_ms));
    }
}

/// A Maildir folder given to a maildir source stands for its messages (`cur/`, `new/`).
fn expand_maildirs(files: &[PathBuf], source: Option<&mamori_sources::SourceConfig>) -> Result<Vec<PathBuf>> {
    let is_maildir = source.is_some_and(|c| c.format == mamori_sources::Format::Maildir);
    let mut out = Vec::new();
    for f in files {
        if is_maildir && f.is_dir() {
            let mut messages = Vec::new();
            for sub in ["cur", "new"] {
                if let Ok(entries) = std::fs::read_dir(f.join(sub)) {
                    messages.extend(entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()));
                }
            }
            messages.sort();
            out.extend(messages);
        } else {
            out.push(f.clone());
        }
    }
    Ok(out)
}

/// What adapters need from the store: the residents, for mail attachment matching.
/// Service log lines on standard error (`serve`, `worker`), written by a thread of its
/// own: a log reader that stalls (a full pipe) costs log lines, never the service (what
/// staff looked at is in the journal anyway). Keep the guard until the service ends.
fn service_logs(format: &str) -> tracing_appender::non_blocking::WorkerGuard {
    let (writer, guard) = tracing_appender::non_blocking(std::io::stderr());
    let logs = tracing_subscriber::fmt().with_writer(writer).with_target(false).with_ansi(false);
    if format == "json" {
        logs.json().flatten_event(true).init();
    } else {
        logs.init();
    }
    guard
}

fn archive_command(command: ArchiveCommand, data: &Path, en: bool, out: &mut impl Write) -> Result<()> {
    match command {
        ArchiveCommand::Export { to, tenant } => {
            let mut j = open(data)?;
            let r = mamori_app::archive::export(&mut j, &to, &tenant)?;
            if en {
                writeln!(out, "archived {} segments ({} events, {} files, {} bytes) and {} tiles; the archive holds events up to {} under checkpoint {}", r.segments, r.events, r.files, r.bytes, r.tiles, r.archived_through, r.checkpoint_size)?;
            } else {
                writeln!(out, "封印済み区間 {} 個（{} 件、ファイル {} 個、{} バイト）とタイル {} 枚をアーカイブしました。アーカイブは {} 件目まで、チェックポイント {}", r.segments, r.events, r.files, r.bytes, r.tiles, r.archived_through, r.checkpoint_size)?;
            }
        }
        ArchiveCommand::Release(ArchiveTenant { archive, tenant }) => {
            let mut j = open(data)?;
            let r = mamori_app::archive::release(&mut j, &archive, &tenant, false)?;
            if en {
                writeln!(out, "released {} segments ({} events) to the archive; the store keeps {} segments whole, {} were released before", r.segments.len(), r.events, r.kept, r.released_before)?;
            } else {
                writeln!(out, "区間 {} 個（{} 件）のイベント本体を保存庫から外しました（索引は残し、本体はアーカイブから読みます）。本体ごと残る区間 {} 個、以前に外した区間 {} 個", r.segments.len(), r.events, r.kept, r.released_before)?;
            }
        }
        ArchiveCommand::Status(ArchiveTenant { archive, tenant }) => {
            let a = mamori_archive::Archive::open(&archive, &tenant)?;
            let Some(m) = a.manifest()? else { bail!(tr!("{archive} にテナント `{tenant}` のアーカイブはありません", "tenant `{tenant}` has nothing archived at {archive}")) };
            let (events, files, bytes) = (m.events(), m.files().count(), m.bytes());
            let per_event = if events > 0 { bytes as f64 / events as f64 } else { 0.0 };
            if en {
                writeln!(out, "tenant {tenant}: {} segments, {events} events (up to {}), {files} files, {bytes} bytes ({per_event:.1} bytes/event); checkpoint {}", m.segments.len(), m.archived_through(), m.checkpoint_size)?;
            } else {
                writeln!(out, "テナント {tenant}: 区間 {} 個、{events} 件（{} 件目まで）、ファイル {files} 個、{bytes} バイト（1 件 {per_event:.1} バイト）、チェックポイント {}", m.segments.len(), m.archived_through(), m.checkpoint_size)?;
            }
        }
        ArchiveCommand::Verify(ArchiveTenant { archive, tenant }) => {
            let j = open(data)?;
            let r = mamori_app::archive::verify(&j, &archive, &tenant)?;
            if en {
                writeln!(out, "tenant {tenant}: the archive's {} segments ({} events, {} files, {} bytes) are the log's, under checkpoint {}", r.segments, r.events, r.files, r.bytes, r.checkpoint_size)?;
            } else {
                writeln!(out, "テナント {tenant}: アーカイブの区間 {} 個（{} 件、ファイル {} 個、{} バイト）はすべてチェックポイント {} の署名済みログと一致", r.segments, r.events, r.files, r.bytes, r.checkpoint_size)?;
            }
        }
        ArchiveCommand::Counts { archive, engine } => {
            let counts = if engine == "spark" { mamori_archive::spark::counts_with_spark(&archive)? } else { mamori_archive::counts(&archive)? };
            writeln!(out, "tenant\tdate\tevents")?;
            for (tenant, date, n) in counts {
                writeln!(out, "{tenant}\t{date}\t{n}")?;
            }
        }
    }
    Ok(())
}

fn cluster_command(command: ClusterCommand, root: &Path, out: &mut impl Write) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        match command {
            ClusterCommand::TenantAdd { nats, tenant, replicas, lease_seconds, keep_days } => {
                mamori_cluster::check_tenant(&tenant)?;
                let dir = mamori_cluster::worker::tenant_dir(root, &tenant);
                anyhow::ensure!(dir.join("journal.db").is_file(), tr!("{} にストアがありません。先に `mamori --data {} init {}` で作成してください", "no store at {}: make it first with `mamori --data {} init {}`", dir.display(), dir.display(), dir.display()));
                let sources: Vec<String> = sources_config(Some(&dir.join("mamori.toml")), &dir)?.into_keys().collect();
                let cluster = mamori_cluster::Cluster::connect(&nats, "mamori-cli").await?;
                cluster.add_tenant(&tenant, &sources, replicas, std::time::Duration::from_secs(lease_seconds.max(1)), std::time::Duration::from_secs(keep_days * 86_400)).await?;
                let mut j = open(&dir)?;
                let kept = if keep_days == 0 { "kept for ever".to_owned() } else { format!("kept {keep_days} days") };
                audit::record(&mut j, audit::Action::ClusterTenant, &format!("cluster tenant {tenant}: streams for sources {}, {replicas} replicas, batches {kept}", sources.join(", ")))?;
                let kept = if keep_days == 0 { "無期限".to_owned() } else { format!("{keep_days} 日") };
                writeln!(out, "テナント {tenant}: ソース {} ({replicas} 複製、バッチ保持 {kept})", sources.join(", "))?;
            }
            ClusterCommand::Apikey { nats, tenant, source, label } => {
                let cluster = mamori_cluster::Cluster::connect(&nats, "mamori-cli").await?;
                let (key, hash) = mamori_server::new_api_key();
                cluster.add_key(&hash, &mamori_cluster::KeyEntry { tenant: tenant.clone(), scope: source.clone(), label: label.clone() }).await?;
                let mut j = open(&mamori_cluster::worker::tenant_dir(root, &tenant))?;
                audit::record(&mut j, audit::Action::ApiKeyCreate, &format!("cluster API key for source {source} ({label}), SHA-256 {}", mamori_journal::hex_bytes(&hash)))?;
                writeln!(out, "{key}")?;
            }
            ClusterCommand::Status { nats, json } => {
                let cluster = mamori_cluster::Cluster::connect(&nats, "mamori-cli").await?;
                for t in cluster.status().await? {
                    if json {
                        writeln!(out, "{}", serde_json::to_string(&t)?)?;
                    } else {
                        writeln!(
                            out,
                            "{}: バッチ {} (最終 {}), 未配送 {}, 未確認 {}, 確認済み {}, 公開した検知 {}, リース {}, バッチ保持 {}",
                            t.tenant,
                            t.batches,
                            t.last_sequence,
                            t.pending,
                            t.unacknowledged,
                            t.acknowledged,
                            t.findings_published,
                            t.lease.as_deref().unwrap_or("なし"),
                            t.keep_days.map_or_else(|| "無期限".to_owned(), |d| format!("{d} 日"))
                        )?;
                    }
                }
            }
        }
        Ok(())
    })
}

/// The configured sources: from `--config`, else `./mamori.toml`, else the data
/// directory's `mamori.toml`; none configured is fine for NDJSON imports.
fn sources_config(
    config: Option<&Path>,
    data: &Path,
) -> Result<std::collections::BTreeMap<String, mamori_sources::SourceConfig>> {
    let path = match config {
        Some(p) => p.to_path_buf(),
        None => match [PathBuf::from("mamori.toml"), data.join("mamori.toml")].into_iter().find(|p| p.is_file()) {
            Some(p) => p,
            None => return Ok(Default::default()),
        },
    };
    mamori_sources::load_sources(&path).map_err(anyhow::Error::msg)
}

/// `import --dry-run`: the files imported into a scratch store beside nothing, the first
/// events and refusals shown, and the check run on them against the real store's master
/// data; the scratch store is removed and the real one not touched.
fn dry_run_import(data: &Path, source: &str, config: Option<&mamori_sources::SourceConfig>, files: &[PathBuf], show: usize, out: &mut impl Write) -> Result<ExitCode> {
    let real = if data.join(mamori_journal::DB_FILE).exists() { Some(open(data)?) } else { None };
    let master = match &real {
        Some(r) => detect::master_from_store(r)?,
        None => Default::default(),
    };
    let scratch = std::env::temp_dir().join(format!("mamori-dry-run-{}", std::process::id()));
    let result = (|| -> Result<()> {
        let mut j = SqliteJournal::init(&scratch, "mamori.dry-run/scratch", mamori_journal::DEFAULT_SEGMENT_SHIFT, &scratch.join("checkpoint.key"))?;
        // Mail's attachments are inspected for the real store's residents, not the
        // scratch store's (which has none).
        let context = mamori_app::sources::adapter_context(real.as_ref().unwrap_or(&j), config)?;
        let options = ImportOptions { source: source.to_owned(), ..Default::default() };
        for file in expand_maildirs(files, config)? {
            let adapter = match config {
                Some(c) => mamori_sources::adapter(source, c, &context).map_err(anyhow::Error::msg)?,
                None => mamori_sources::ndjson_adapter(),
            };
            let s = import_file(&mut j, &file, &options, adapter, &mut |_, _| {})?;
            writeln!(out, "{}: {} 件を読み取り, 取り込めない行 {} 件, 対象外 {} 件（保存していません）", file.display(), s.accepted, s.rejected, s.ignored)?;
        }
        writeln!(out, "-- 変換後のイベント（先頭 {show} 件）")?;
        for stored in j.by_time(mamori_journal::TimeRange { from: i64::MIN, to: i64::MAX }, show)? {
            writeln!(out, "{}", String::from_utf8_lossy(&stored.body))?;
        }
        let dead = j.dead_letters(show)?;
        if !dead.is_empty() {
            writeln!(out, "-- 取り込めない行（先頭 {show} 件）")?;
            for d in dead {
                writeln!(out, "{}:{}: {}", d.file, d.line, d.reason)?;
            }
        }
        writeln!(out, "-- mamori check（このストアのマスタデータに対して）")?;
        let dir = mamori_enrich::Directory::new(&master);
        let products = config.and_then(|c| c.product.clone()).map(|p| (source.to_owned(), p)).into_iter().collect();
        check::print(&check::check(&j, &dir, chrono_tz::Asia::Tokyo, None, &products, check::Thresholds::default())?, out)?;
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    result.map(|()| ExitCode::SUCCESS)
}

/// The README's tour of the main job: a simulated town, imported, detected, evaluated.
fn demo(dir: Option<PathBuf>, seed: u64, out: &mut impl Write) -> Result<ExitCode> {
    let keep = dir.is_some();
    let dir = dir.unwrap_or_else(|| std::env::temp_dir().join(format!("mamori-demo-{}", std::process::id())));
    let town = dir.join("town");
    let data = dir.join("store");
    let params = mamori_sim::Params { residents: 5_000, employees: 120, days: 90, seed, ..Default::default() };
    writeln!(out, "== 1. 模擬自治体を生成 (simulate): 住民 {} 人, 職員 {} 人, {} 日, seed {seed}", params.residents, params.employees, params.days)?;
    mamori_sim::simulate(&params, &town)?;
    writeln!(out, "== 2. 改ざん検知ストアを作成し、マスタと業務ログを取り込み (init, master load, import)")?;
    // A throwaway store: its key may live with it.
    let mut j = SqliteJournal::init(&data, "mamori.demo/town", mamori_journal::DEFAULT_SEGMENT_SHIFT, &data.join("checkpoint.key"))?;
    audit::record(&mut j, audit::Action::Init, "demo store")?;
    drop(j);
    let mut loaded = Vec::new();
    let code = master_load(&data, &town.join("master"), false, false, &mut loaded)?;
    anyhow::ensure!(code == ExitCode::SUCCESS, tr!("模擬マスタデータに誤りがあります: {}", "the simulated master data has errors: {}", String::from_utf8_lossy(&loaded)));
    let mut j = open(&data)?;
    let sources = mamori_sources::load_sources(&town.join("mamori.toml")).map_err(anyhow::Error::msg)?;
    for (source, file) in mamori_sim::LOGS {
        let context = mamori_app::sources::adapter_context(&j, Some(&sources[source]))?;
        let adapter = mamori_sources::adapter(source, &sources[source], &context).map_err(anyhow::Error::msg)?;
        let options = ImportOptions { source: source.into(), ..Default::default() };
        let s = import_file(&mut j, &town.join("logs").join(file), &options, adapter, &mut |_, _| {})?;
        writeln!(out, "   {file:<22} {:>8} 件取り込み, 不正行 {}", s.accepted, s.rejected)?;
    }
    writeln!(out, "== 3. 全照会の業務根拠を確認し、不正の兆候を検知 (detect)")?;
    let summary = detect::run(&mut j, detect::load_config(Some(&town.join("detect.toml")))?, None, true)?;
    writeln!(
        out,
        "   照会 {} 件のうち {} 件 ({:.2}%) に来庁・案件・バッチの根拠あり, 所見 {} 件",
        summary.accesses,
        summary.explained,
        100.0 * summary.explained as f64 / summary.accesses.max(1) as f64,
        summary.findings.len()
    )?;
    detect::print_findings(&summary.findings, 5, false, out)?;
    writeln!(out, "== 4. 注入した事案の正解データとの照合 (eval)")?;
    let truth = std::fs::read_to_string(town.join("truth.jsonl"))?;
    let labels = std::fs::read_to_string(town.join("labels.csv"))?;
    detect::print_evaluation(&detect::evaluate(&j, &truth, Some(&labels))?, false, out)?;
    match j.verify(&mut |_, _| {})? {
        Ok(r) => writeln!(out, "== 5. 改ざん検証 (verify): {} 件すべて署名済みチェックポイントと一致", r.events)?,
        Err(f) => writeln!(out, "== 5. 改ざん検証 (verify) 失敗: {f}")?,
    }
    drop(j);
    if keep {
        writeln!(out, "store: {}  (mamori --data {} findings)", data.display(), data.display())?;
    } else {
        // Nothing of a demo's is worth a hundred megabytes in the temporary directory.
        std::fs::remove_dir_all(&dir).with_context(|| tr!("{} を削除できません", "removing {}", dir.display()))?;
        writeln!(out, "（一時ディレクトリは削除しました。結果を調べるには --dir DIR を付けて実行してください）")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn progress_bar(file: &Path) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_message(file.display().to_string());
    bar
}

fn master_load(data: &Path, dir: &Path, cert_ldap: bool, en: bool, out: &mut impl Write) -> Result<ExitCode> {
    use mamori_master::Kind;
    let loaded = if cert_ldap { mamori_master::load_cert_ldap(dir) } else { mamori_master::load_dir(dir) }
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if !loaded.unreadable.is_empty() {
        for e in loaded.errors.iter().filter(|e| e.is_whole_file()) {
            eprintln!("{e}");
        }
        let names: Vec<String> = loaded.unreadable.iter().map(|p| p.display().to_string()).collect();
        anyhow::bail!(tr!("何も読み込んでいません: {} を最後まで読めませんでした。ストアのマスタデータは変わっていません", "nothing was loaded: {} could not be read whole; the store's master data is unchanged", names.join(", ")));
    }
    // A kind is replaced only when this load carries it.
    let carried = |kind: Kind| {
        if cert_ldap {
            matches!(kind, Kind::Departments | Kind::Employees | Kind::Assignments | Kind::Accounts)
        } else {
            loaded.files.iter().any(|f| f.file_stem().is_some_and(|s| s == kind.stem()))
        }
    };
    let d = &loaded.data;
    fn rows<T: serde::Serialize>(v: &[T]) -> Vec<String> {
        v.iter().map(|r| serde_json::to_string(r).expect("master rows serialise")).collect()
    }
    fn keyed<T: serde::Serialize>(v: &[T], keys: impl Fn(&T) -> Vec<String>) -> Vec<(String, Vec<String>)> {
        v.iter().map(|r| (serde_json::to_string(r).expect("master rows serialise"), keys(r))).collect()
    }
    let mut kinds = Vec::new();
    let mut counted = Vec::new();
    for (kind, n) in mamori_master::counts(d) {
        if !carried(kind) {
            continue;
        }
        use mamori_master::Kind::*;
        // Resident-side rows are kept with the keys one resident's disclosure needs.
        let body = match kind {
            Residents => keyed(&d.residents, |r| vec![r.uid.clone()]),
            Employees => keyed(&d.employees, |e| vec![e.id.clone()]),
            Assignments => keyed(&d.assignments, |a| vec![a.employee_id.clone()]),
            Accounts => keyed(&d.accounts, |a| vec![a.account.clone()]),
            Households => keyed(&d.households, |h| vec![h.resident_uid.clone(), h.household.clone()]),
            FamilyLinks => keyed(&d.family_links, |l| vec![l.resident_a.clone(), l.resident_b.clone()]),
            Cases => keyed(&d.cases, |c| c.residents.clone()),
            CounterVisits => keyed(&d.counter_visits, |v| vec![v.resident_uid.clone()]),
            _ => {
                let body = match kind {
                    Departments => rows(&d.departments),
                    Terminals => rows(&d.terminals),
                    Devices => rows(&d.devices),
                    Shares => rows(&d.shares),
                    Vip => rows(&d.vip),
                    CaseKinds => rows(&d.case_kinds),
                    OpenDays => rows(&d.open_days),
                    Traits => rows(&d.traits),
                    _ => rows(&d.holidays),
                };
                body.into_iter().map(|b| (b, Vec::new())).collect()
            }
        };
        kinds.push(mamori_journal::MasterKind { kind: kind.stem().to_owned(), rows: body });
        counted.push((kind.stem(), n));
    }
    for e in &loaded.errors {
        eprintln!("{e}");
    }
    for e in &loaded.unresolved {
        eprintln!("{}", tr!("{e}（保持）", "{e} (kept)"));
    }
    let mut files = Vec::new();
    for path in &loaded.files {
        let bytes = std::fs::read(path).with_context(|| tr!("{} を読めません", "{}", path.display()))?;
        let lines = bytes.iter().filter(|&&b| b == b'\n').count();
        files.push((path.file_name().unwrap_or_default().to_string_lossy().into_owned(), mamori_journal::sha256_hex(&bytes), lines));
    }
    let summary = format!(
        "master data loaded from {}: {} files, {} rows rejected, {} rows kept that name no employee or department",
        dir.display(),
        loaded.files.len(),
        loaded.errors.len(),
        loaded.unresolved.len()
    );
    // Every kind and the load's own record in one transaction: all or nothing.
    let mut j = open(data)?;
    audit::record_master_load(&mut j, &kinds, &files, &summary)?;
    for (kind, n) in counted {
        writeln!(out, "{kind:<15} {n:>8} {}", if en { "rows" } else { "行" })?;
    }
    if en {
        writeln!(out, "{summary}")?;
    } else {
        writeln!(
            out,
            "{} からマスタデータを読み込みました: ファイル {} 個、不正な行 {} 行、職員・所属の分からない行 {} 行（保持）",
            dir.display(),
            loaded.files.len(),
            loaded.errors.len(),
            loaded.unresolved.len()
        )?;
    }
    Ok(if loaded.errors.is_empty() && loaded.unresolved.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// `events sigma-flat`: every event as the Sigma rules see it, one JSON object a line.
fn sigma_flat_events(j: &mut SqliteJournal, inputs: DetectionInputs, file: Option<PathBuf>, out: &mut impl Write) -> Result<()> {
    let config = mamori_app::detect::load_config(inputs.rules.as_deref())?;
    let mut sink: Box<dyn Write> = match &file {
        Some(p) => Box::new(std::io::BufWriter::new(std::fs::File::create(p).with_context(|| tr!("{} を作成できません", "creating {}", p.display()))?)),
        None => Box::new(&mut *out),
    };
    // Recorded before a line is written: an export that cannot be recorded does not happen.
    let to = file.as_ref().map_or_else(|| "standard output".to_owned(), |p| p.display().to_string());
    record_query(j, &format!("events sigma-flat: every event exported to {to}"))?;
    mamori_app::detect::sigma_flat(j, config, inputs.sigma.as_deref(), |v| Ok(writeln!(sink, "{v}")?))?;
    sink.flush()?;
    Ok(())
}

/// What `events` read is personal data shown to whoever ran it: each query is recorded
/// (what was asked, how many events it showed, by whom and under which OS account) in the
/// same log before anything is printed, as a console view is. A store open without its
/// signing key (a copy, a reader kept from the key) can take no record; the query says so
/// on stderr instead. Refusing it would protect nothing: whoever reads the database file
/// can read its rows without mamori.
fn events(cmd: EventsCommand, data: &Path, out: &mut impl Write) -> Result<()> {
    let mut j = open(data)?;
    let period = |range: &Range| format!("{}..{}", range.from.as_deref().unwrap_or(""), range.to.as_deref().unwrap_or(""));
    let (found, ocsf, asked) = match cmd {
        EventsCommand::Get { id } => (j.get(id)?.into_iter().collect::<Vec<_>>(), false, format!("events get {id}")),
        EventsCommand::Resident { uid, range } => (j.by_resident(&uid, inclusive_range(range.from.as_deref(), range.to.as_deref())?)?, range.ocsf, format!("events resident {uid} ({})", period(&range))),
        EventsCommand::Actor { uid, range } => (j.by_actor(&uid, inclusive_range(range.from.as_deref(), range.to.as_deref())?)?, range.ocsf, format!("events actor {uid} ({})", period(&range))),
        EventsCommand::Time { range, limit } => {
            (j.by_time(inclusive_range(range.from.as_deref(), range.to.as_deref())?, limit)?, range.ocsf, format!("events time ({}, limit {limit})", period(&range)))
        }
        EventsCommand::SigmaFlat { inputs, out: file } => return sigma_flat_events(&mut j, inputs, file, out),
    };
    record_query(&mut j, &format!("{asked}: {} events shown", found.len()))?;
    print_events(&found, ocsf, out)
}

fn record_query(j: &mut SqliteJournal, detail: &str) -> Result<()> {
    if j.can_sign() {
        audit::record(j, audit::Action::Query, detail).with_context(|| tr!("照会をログに記録できません", "recording the query in the log"))
    } else {
        eprintln!("mamori: {}", tr!("署名鍵なしで開いたストアのため、この照会は記録されません", "the store is open without its signing key: this query is not recorded"));
        Ok(())
    }
}

/// `findings` and `risk` on a store no detection has judged: say so, rather than print
/// nothing a reader would take for no misuse. A listing for people fails; one for
/// programs (`--json`, `--ocsf`) stays empty, with the warning on stderr.
fn no_detection_yet(j: &SqliteJournal, findings: &[mamori_model::Finding], en: bool, for_programs: bool) -> Result<()> {
    if j.detect_state()?.is_some() || !findings.is_empty() {
        return Ok(());
    }
    let said = if en { "no detection has run yet: run `mamori detect` first" } else { "検知がまだ実行されていません: 先に `mamori detect` を実行してください" };
    if for_programs {
        eprintln!("mamori: {said}");
        return Ok(());
    }
    bail!(said)
}

fn print_events(found: &[StoredEvent], ocsf: bool, out: &mut impl Write) -> Result<()> {
    for e in found {
        if ocsf {
            let mut v = e.event()?.to_ocsf();
            v["metadata"]["uid"] = e.seq.to_string().into();
            writeln!(out, "{v}")?;
        } else {
            writeln!(out, "{{\"id\":{},\"event\":{}}}", e.seq, String::from_utf8_lossy(&e.body))?;
        }
    }
    Ok(())
}
