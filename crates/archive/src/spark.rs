//! The same query as `Archive::find`, run as a PySpark job: the engine for an archive of
//! years and many tenants. The job's answer is not trusted; the caller proves every row.

use std::process::Command;

use anyhow::{Context, Result, bail};
use mamori_journal::TimeRange;

use crate::query::{KeyColumn, files_for};
use crate::{Archive, ArchivedEvent, Manifest};

/// The job's source, carried in the binary so that an installed mamori runs the job it
/// was built with.
pub const JOB: &str = include_str!("../spark/archive_query.py");

/// The Python that has `pyspark` (`MAMORI_PYTHON`, else `python3`), and Spark's master
/// (`MAMORI_SPARK_MASTER`, else `local[2]`).
fn python() -> String {
    std::env::var("MAMORI_PYTHON").unwrap_or_else(|_| "python3".into())
}

#[derive(serde::Deserialize)]
struct Row {
    seq: u64,
    time_ms: i64,
    leaf_hash: String,
    event: String,
}

impl Archive {
    /// Runs the archive query as a Spark job over the manifest's files for `range`.
    pub fn find_with_spark(&self, manifest: &Manifest, column: KeyColumn, value: &str, range: TimeRange) -> Result<Vec<ArchivedEvent>> {
        let mut paths = Vec::new();
        for f in files_for(manifest, range) {
            paths.push(self.local_file(&f.path).context("the Spark engine reads an archive on the local file system")?);
        }
        let work = tempfile::tempdir().context("making a folder for the Spark job")?;
        let value_file = work.path().join("value.txt");
        std::fs::write(&value_file, value)?;
        let mut args: Vec<std::ffi::OsString> = vec!["--column".into(), column.name().into(), "--value-file".into(), value_file.into()];
        args.extend(["--from-ms".into(), range.from.to_string().into(), "--to-ms".into(), range.to.to_string().into()]);
        let text = run_job(&paths, &args)?;
        let mut found = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let r: Row = serde_json::from_str(line).with_context(|| format!("the Spark job's answer, line {}", n + 1))?;
            let leaf = mamori_journal::unhex(&r.leaf_hash).with_context(|| format!("the Spark job's answer, line {}: leaf_hash", n + 1))?;
            found.push(ArchivedEvent { seq: r.seq, time: r.time_ms, leaf, body: r.event.into_bytes() });
        }
        Ok(found)
    }
}

/// Runs the job over `paths` with `args`; what it wrote to its `--out`.
fn run_job(paths: &[std::path::PathBuf], args: &[std::ffi::OsString]) -> Result<String> {
    let work = tempfile::tempdir().context("making a folder for the Spark job")?;
    let job = work.path().join("archive_query.py");
    std::fs::write(&job, JOB)?;
    let mut list = String::new();
    for path in paths {
        list.push_str(path.to_str().context("archive path is not UTF-8")?);
        list.push('\n');
    }
    let files = work.path().join("files.txt");
    std::fs::write(&files, list)?;
    let out = work.path().join("answer");
    let master = std::env::var("MAMORI_SPARK_MASTER").unwrap_or_else(|_| "local[2]".into());
    let run = Command::new(python())
        .arg(&job)
        .arg("--files").arg(&files)
        .args(args)
        .arg("--out").arg(&out)
        .args(["--master", &master])
        // Spark binds its driver to this address; without it, it asks for the host's name.
        .env("SPARK_LOCAL_IP", "127.0.0.1")
        .env("PYSPARK_PYTHON", python())
        .output()
        .with_context(|| format!("running the Spark job with `{}` (is pyspark installed? `pip install pyspark`)", python()))?;
    if !run.status.success() {
        let stderr = String::from_utf8_lossy(&run.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
        bail!("the Spark job failed ({}):\n{}", run.status, tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
    }
    std::fs::read_to_string(&out).context("reading the Spark job's answer")
}

/// Events per tenant and JST day over every tenant's archived files, counted by a Spark
/// job from the rows themselves (each row's own time, not its file's partition): the
/// prefecture's statistics at archive scale. Only the files each tenant's manifest lists
/// are read; the answer is counts, never a row.
pub fn counts_with_spark(location: &str) -> Result<Vec<(String, String, u64)>> {
    let mut paths = Vec::new();
    for tenant in crate::tenants(location)? {
        let archive = Archive::open(location, &tenant)?;
        let Some(m) = archive.manifest()? else { continue };
        for f in m.files() {
            paths.push(archive.local_file(&f.path).context("the Spark engine reads an archive on the local file system")?);
        }
    }
    let text = run_job(&paths, &["--counts".into()])?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let bad = || format!("the Spark job's counts, line {}: `{line}`", n + 1);
        let mut fields = line.split('\t');
        let (Some(tenant), Some(date), Some(count), None) = (fields.next(), fields.next(), fields.next(), fields.next()) else { bail!(bad()) };
        out.push((tenant.to_owned(), date.to_owned(), count.parse().with_context(bad)?));
    }
    Ok(out)
}
