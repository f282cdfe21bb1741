//! Source configuration: `[sources.<name>]` tables in `mamori.toml` or in any
//! `sources/*.toml`. Unknown keys are errors, so that a misspelt column mapping does not
//! silently leave a field empty.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::decode::Encoding;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// mamori's normalised events, one JSON object a line.
    Ndjson,
    /// Comma-separated values with a declarative column mapping.
    Csv,
    /// Tab-separated values with a declarative column mapping.
    Tsv,
    /// JSON Lines with the product's own keys, mapped like CSV columns by key path.
    Json,
    /// Windows Security events as evtx_dump writes them with `-o jsonl`.
    WindowsJson,
    /// Samba `vfs_full_audit` lines as syslog writes them.
    SambaFullAudit,
    /// A mail journal as an mbox file.
    Mbox,
    /// A mail journal as Maildir message files (import the folder's files).
    Maildir,
    /// The CERT insider-threat data set's logon, device, file, email and http tables.
    Cert,
    /// A Squid web proxy's native access log.
    Squid,
    /// A Squid web proxy's access log in `logformat combined`.
    SquidCombined,
}

/// What a mapped CSV row is, in OCSF terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RowClass {
    /// A business-system record access: Datastore Activity (6005).
    Record,
    /// A file operation: File System Activity (1001).
    File,
    /// A removable-device event (USB copy, mount): Peripheral Activity (1010).
    Usb,
    /// A print job: File System Activity (1001) with operation `print`.
    Print,
    /// A logon or logoff: Authentication (3002).
    Logon,
    /// A badge (入退室) entry or exit: Authentication (3002), room in `unmapped.room`.
    Badge,
}

/// Rows sent to a class by the value of one field (after its code table).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// A field mapped in `[columns]` (`operation`, or one of the source's own).
    pub field: String,
    /// Value → class.
    pub classes: BTreeMap<String, RowClass>,
}

/// A column by header name, or by 1-based position for files without a header; or several
/// of them, whose cells are joined with a space (an era in a column of its own beside the
/// date, a family name and a given name).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Column {
    Name(String),
    Index(usize),
    Joined(Vec<Column>),
}

impl Column {
    /// The cells it names, in order (one, or each of a joined list).
    pub fn cells(&self) -> Vec<&Column> {
        match self {
            Column::Joined(cells) => cells.iter().collect(),
            one => vec![one],
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub format: Format,
    #[serde(default)]
    pub encoding: Encoding,
    /// Product name stored in `metadata.product`; defaults to the source name.
    #[serde(default)]
    pub product: Option<String>,
    /// UTC offset of the times the source writes; Japanese systems write JST.
    #[serde(default = "jst")]
    pub utc_offset: String,
    /// What the `subject` column's key is (`permit`, `taxpayer` …) for records of people
    /// who are not registered residents: their subject is stored as `KIND:KEY`.
    #[serde(default)]
    pub subject_kind: Option<String>,
    /// The width of the town's 宛名番号: a number written shorter (an export that writes
    /// it as a number, `305` for `000000305`) gets its leading zeros back. Unset: kept as
    /// written.
    #[serde(default)]
    pub resident_digits: Option<usize>,
    /// The account system this source's actors belong to (`accounts.csv` `system`):
    /// `windows` for a product that logs AD logins, say. Unset, the source's own name, with
    /// the unique-name fallback (docs/adoption.md).
    #[serde(default)]
    pub accounts: Option<String>,
    /// The files this source reads, for `mamori import` with no file named (a town's
    /// nightly job): paths relative to the sources file, `*` and `?` allowed in the file
    /// name (`logs/juki_*.csv`).
    #[serde(default)]
    pub paths: Vec<String>,

    // --- CSV / TSV mapping ---
    /// What a row is; with `route`, what a row the route does not name is (none: such a
    /// row is ignored).
    #[serde(default)]
    pub class: Option<RowClass>,
    /// One export, several kinds of row (an endpoint product's USB copies, prints and
    /// blocked devices in one CSV): the class by a field's value.
    #[serde(default)]
    pub route: Option<Route>,
    /// Whether line 1 is a header row.
    #[serde(default = "yes")]
    pub header: bool,
    /// The character between fields, for exports that use neither a comma nor a tab
    /// (`"|"`, `";"`): one ASCII character. Unset: `,` for csv, a tab for tsv.
    #[serde(default)]
    pub delimiter: Option<String>,
    /// Field → column. Fields: date, time, datetime, actor, actor_name, employee, host,
    /// ip, resident, record_type, operation, status, path, file_name, size, share,
    /// serial, device_name, vendor, room, direction, recipient; any other name is kept
    /// under `unmapped`.
    #[serde(default)]
    pub columns: BTreeMap<String, Column>,
    /// Field → (value as written → value meant): operation codes, record types,
    /// operator numbers to accounts, badge directions …
    #[serde(default)]
    pub codes: BTreeMap<String, BTreeMap<String, String>>,
    /// Operation (after its code table) → OCSF activity_id.
    #[serde(default)]
    pub activity: BTreeMap<String, u8>,
    /// activity_id for rows whose operation is not in `activity`.
    #[serde(default)]
    pub default_activity: Option<u8>,
    /// Status value (after its code table) → `success` or `failure`.
    #[serde(default)]
    pub outcome: BTreeMap<String, String>,

    // --- Samba full_audit ---
    /// The `full_audit:prefix` the server is configured with.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Year of BSD syslog timestamps (`May  8 10:31:02` carries none).
    #[serde(default)]
    pub year: Option<i32>,

    // --- mail ---
    /// The organisation's own mail domains (subdomains included).
    #[serde(default)]
    pub internal_domains: Vec<String>,
    /// Personal (free-mail, carrier) domains besides the built-in list.
    #[serde(default)]
    pub personal_domains: Vec<String>,
}

fn jst() -> String {
    "+09:00".into()
}

fn yes() -> bool {
    true
}

impl SourceConfig {
    pub fn offset(&self) -> Result<chrono::FixedOffset, String> {
        self.utc_offset.parse().map_err(|_| format!("utc_offset `{}` is not like +09:00", self.utc_offset))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcesFile {
    #[serde(default)]
    pub sources: BTreeMap<String, SourceConfig>,
}

/// Reads source definitions from a TOML file, or from a directory's `mamori.toml` and
/// `sources/*.toml`. A source defined twice is an error.
pub fn load_sources(path: &Path) -> Result<BTreeMap<String, SourceConfig>, String> {
    let mut files: Vec<PathBuf> = Vec::new();
    if path.is_dir() {
        let main = path.join("mamori.toml");
        if main.is_file() {
            files.push(main);
        }
        if let Ok(entries) = std::fs::read_dir(path.join("sources")) {
            let mut more: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            more.sort();
            files.extend(more);
        }
    } else {
        files.push(path.to_path_buf());
    }
    let mut out = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let parsed: SourcesFile = toml::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
        for (name, mut config) in parsed.sources {
            config.paths = config.paths.iter().map(|p| base.join(p).to_string_lossy().into_owned()).collect();
            if out.insert(name.clone(), config).is_some() {
                return Err(format!("{}: source `{name}` is defined twice", file.display()));
            }
        }
    }
    Ok(out)
}

/// The files `patterns` name (`*` and `?` in the file name only), sorted; a pattern that
/// names nothing is an error naming it.
pub fn expand_paths(patterns: &[String]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for pattern in patterns {
        let path = Path::new(pattern);
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if !name.contains(['*', '?', '[']) {
            if !path.exists() {
                return Err(format!("paths: `{pattern}` does not exist"));
            }
            out.push(path.to_path_buf());
            continue;
        }
        let matcher = globset::Glob::new(&name).map_err(|e| format!("paths: `{pattern}`: {e}"))?.compile_matcher();
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| format!("paths: `{pattern}`: {}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.file_name().is_some_and(|n| matcher.is_match(n)))
            .collect();
        if found.is_empty() {
            return Err(format!("paths: `{pattern}` names no file"));
        }
        found.sort();
        out.extend(found);
    }
    Ok(out)
}
