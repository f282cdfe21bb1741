//! Import: turns files of events into committed batches in the journal.
//!
//! It owns reading (bounded lines, never a whole file in memory), turning each line into
//! a [`PreparedEvent`] (parse, validate, canonical encoding, leaf hash) on a worker
//! thread, and handing batches to the single journal writer through a bounded channel,
//! so that memory stays flat however large the import and the second core does the
//! CPU work while the first writes.
//!
//! Exactly-once: each batch commits with the stream's cursor (offset, line, SHA-256 of
//! the bytes so far). A re-run resumes at the cursor after checking that the file still
//! starts with the committed bytes; a file whose complete content was already imported
//! under another name is skipped. Bad lines go to the dead-letter table with their line
//! and reason, in the same transaction as the batch they were met in.
//!
//! It must not interpret events beyond validation (no enrichment or detection) and must
//! not write to storage except through [`Journal`].

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;

use mamori_journal::{Batch, DeadLetter, Journal, JournalError, PreparedEvent, StreamCursor};
use mamori_sources::{Framing, LineAdapter, LineContext};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Name of the stream's source; with the file's path it names the stream.
    pub source: String,
    /// Most events per committed batch: the first holds `FIRST_BATCH` (or fewer), and
    /// each after it twice the one before, up to this.
    pub batch_size: usize,
    /// Longest line accepted; longer ones are dead-lettered without being buffered.
    pub max_line: usize,
    /// Largest message accepted in an mbox.
    pub max_record: usize,
    /// The stream's name when it is not the file's path (an HTTP batch's identity).
    pub stream: Option<String>,
    /// The name events record as their log (`metadata.log_name`) instead of the file's.
    pub log_name: Option<String>,
    /// The file is still being written (`import --follow`): read complete lines only,
    /// never mark the stream finished.
    pub follow: bool,
}

/// Where a stream stands after a round of import, with its running hash, so that the
/// next round of a follower continues without re-reading what it has read.
#[derive(Clone)]
pub struct StreamPosition {
    hasher: Sha256,
    offset: u64,
    line: u64,
}

impl StreamPosition {
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            source: "ndjson".into(),
            batch_size: 50_000,
            max_line: 16 * 1024 * 1024,
            max_record: 64 * 1024 * 1024,
            stream: None,
            log_name: None,
            follow: false,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub file: PathBuf,
    /// Events committed by this run.
    pub accepted: u64,
    /// Lines sent to the dead-letter table by this run.
    pub rejected: u64,
    /// Lines that are not events mamori uses (headers, unmapped event ids, blank lines).
    pub ignored: u64,
    /// Lines skipped because an earlier run had committed them.
    pub already_committed_lines: u64,
    /// Set when the same content was imported before under this stream name.
    pub duplicate_of: Option<String>,
    /// Imports of the same content through other sources (their stream names). Two
    /// sources may rightly read one export (each its own rows, by `route`); a file read
    /// twice by mistake stores its records twice, so the caller says so.
    pub same_content_elsewhere: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{file}: {source}")]
    Io { file: PathBuf, source: std::io::Error },
    #[error(
        "{file}: the first {offset} bytes differ from what was imported from this path before; \
         the file was replaced, not appended to. To add lines corrected after they went to dead \
         letters, import a new file holding only those lines through the same --source \
         (the whole file again, under any name or source, would store its other lines twice)"
    )]
    FileChanged { file: PathBuf, offset: u64 },
    #[error("{file}: {reason}")]
    Header { file: PathBuf, reason: String },
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// Progress: bytes read so far and the file's size.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// One unit of work for the writer: a batch and where the stream stands after it.
struct Chunk {
    events: Vec<PreparedEvent>,
    dead: Vec<DeadLetter>,
    ignored: u64,
    cursor: StreamCursor,
    /// On the last chunk: where the stream stands, to continue from.
    end: Option<StreamPosition>,
}

/// Imports one NDJSON file of normalised events.
pub fn import_ndjson(
    journal: &mut dyn Journal,
    path: &Path,
    options: &ImportOptions,
    progress: Progress<'_>,
) -> Result<ImportSummary, IngestError> {
    import_file(journal, path, options, mamori_sources::ndjson_adapter(), progress)
}

/// Imports one file through a source adapter.
pub fn import_file(
    journal: &mut dyn Journal,
    path: &Path,
    options: &ImportOptions,
    adapter: Box<dyn LineAdapter>,
    progress: Progress<'_>,
) -> Result<ImportSummary, IngestError> {
    import_file_at(journal, path, options, adapter, progress, None).map(|(summary, _)| summary)
}

/// The offset just past the last complete line at or after `from`: a follower leaves a
/// line still being written for its next round.
fn last_line_end(file: &mut File, from: u64, len: u64) -> std::io::Result<u64> {
    let mut end = len;
    let mut buf = vec![0u8; 64 * 1024];
    while end > from {
        let start = end.saturating_sub(buf.len() as u64).max(from);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(from)
}

/// Imports one file through a source adapter, continuing from `position` (a follower's
/// previous round) when given, else from the stream's committed cursor. Returns where the
/// stream stands afterwards.
pub fn import_file_at(
    journal: &mut dyn Journal,
    path: &Path,
    options: &ImportOptions,
    mut adapter: Box<dyn LineAdapter>,
    progress: Progress<'_>,
    position: Option<StreamPosition>,
) -> Result<(ImportSummary, Option<StreamPosition>), IngestError> {
    let io = |source| IngestError::Io { file: path.to_path_buf(), source };
    let canonical = path.canonicalize().map_err(io)?;
    let stream = options.stream.clone().unwrap_or_else(|| format!("{}:{}", options.source, canonical.display()));
    let file_name = options.log_name.clone().unwrap_or_else(|| {
        path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
    });
    let mut file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut summary = ImportSummary { file: path.to_path_buf(), ..Default::default() };

    let mut hasher = Sha256::new();
    let resumed = match &position {
        Some(_) => None,
        None => journal.cursor(&stream)?,
    };
    let from = position.as_ref().map_or(resumed.as_ref().map_or(0, |c| c.offset), |p| p.offset);
    if from > len {
        return Err(IngestError::FileChanged { file: path.to_path_buf(), offset: from });
    }
    let total = if options.follow { last_line_end(&mut file, from, len).map_err(io)? } else { len };
    let (start_offset, start_line) = match (&position, &resumed) {
        (Some(p), _) => {
            hasher = p.hasher.clone();
            summary.already_committed_lines = p.line;
            if p.offset == total {
                return Ok((summary, position));
            }
            (p.offset, p.line)
        }
        (None, Some(cursor)) => {
            let prefix = hash_prefix(&mut file, cursor.offset).map_err(io)?;
            if prefix.as_ref().map(|(h, _)| h.finalize_reset_clone()) != Some(cursor.prefix_sha256) {
                return Err(IngestError::FileChanged { file: path.to_path_buf(), offset: cursor.offset });
            }
            hasher = prefix.expect("checked above").0;
            summary.already_committed_lines = cursor.line;
            if cursor.complete_sha256.is_some() && cursor.offset == total {
                summary.duplicate_of = Some(stream);
                return Ok((summary, None));
            }
            if options.follow && cursor.offset == total {
                let end = StreamPosition { hasher, offset: cursor.offset, line: cursor.line };
                return Ok((summary, Some(end)));
            }
            (cursor.offset, cursor.line)
        }
        (None, None) => (0, 0),
    };
    let mut reader_file = File::open(path).map_err(io)?;
    if adapter.has_header() && start_offset > 0 {
        // Resuming below the header: the adapter still needs the columns.
        let mut first = LineReader {
            inner: BufReader::new(&mut reader_file),
            max: options.max_line,
            buf: Vec::new(),
            hasher: Sha256::new(),
            offset: 0,
            line: 0,
        };
        let header = first.next_line().map_err(io)?.map(|l| l.content.to_vec()).unwrap_or_default();
        adapter.header(&header, &file_name).map_err(|reason| IngestError::Header { file: path.to_path_buf(), reason })?;
    }
    reader_file.seek(SeekFrom::Start(start_offset)).map_err(io)?;
    let reader_file = reader_file.take(total - start_offset);

    let (tx, rx) = mpsc::sync_channel::<Result<Chunk, ReadError>>(2);
    let opts = options.clone();
    let reader = thread::spawn(move || {
        let mut lines = LineReader {
            inner: BufReader::with_capacity(1 << 20, reader_file),
            max: opts.max_line,
            buf: Vec::new(),
            hasher,
            offset: start_offset,
            line: start_line,
        };
        read_chunks(&mut lines, adapter.as_mut(), &opts, &stream, &file_name, total, &tx);
    });

    // A new stream may be a file already imported under another name. Hash it here while
    // the reader parses ahead; nothing is committed before the answer is known. (A
    // followed file is still growing: it has no whole content yet.)
    // Only a file as long as one imported whole can be one: hashing every new file whole
    // on the writer's thread cost a tenth of a large import's time.
    if resumed.is_none() && position.is_none() && !options.follow && journal.any_complete_stream_of_length(total)? {
        let whole = hash_prefix(&mut file, total).map_err(io)?.map(|(h, _)| h.finalize_reset_clone());
        // Only an import through this source counts: a file read through the wrong one
        // (every line dead-lettered) must not keep it from being read through the right one.
        let read_here = |other: &String| stream_source(other) == options.source;
        let earlier = whole.map(|h| journal.streams_with_content(&h)).transpose()?.unwrap_or_default();
        if let Some(other) = earlier.iter().find(|s| read_here(s)) {
            drop(rx);
            reader.join().expect("the import reader thread does not panic");
            summary.duplicate_of = Some(other.clone());
            return Ok((summary, None));
        }
        summary.same_content_elsewhere = earlier;
    }

    let mut result = Ok(());
    let mut end = None;
    // Where the stored cursor stands before each batch: another writer that moved it
    // meanwhile makes the append fail rather than store the same lines twice.
    let mut cursor_from = start_offset;
    // A dead letter names the file it came from whole: events keep the base name as their
    // log, but `juki.csv` of April and of May in two folders must not read alike.
    let letters_file = options.log_name.clone().unwrap_or_else(|| canonical.display().to_string());
    for chunk in rx {
        let mut chunk = match chunk {
            Ok(c) => c,
            Err(ReadError::Io(e)) => {
                result = Err(io(e));
                break;
            }
            Err(ReadError::Header(reason)) => {
                result = Err(IngestError::Header { file: path.to_path_buf(), reason });
                break;
            }
        };
        for letter in &mut chunk.dead {
            letter.file.clone_from(&letters_file);
        }
        let batch = Batch { events: &chunk.events, dead_letters: &chunk.dead, cursor: Some(&chunk.cursor), cursor_from: Some(cursor_from), ..Default::default() };
        if let Err(e) = journal.append(batch) {
            result = Err(e.into());
            break;
        }
        cursor_from = chunk.cursor.offset;
        summary.accepted += chunk.events.len() as u64;
        summary.rejected += chunk.dead.len() as u64;
        summary.ignored += chunk.ignored;
        progress(chunk.cursor.offset, total);
        end = chunk.end;
    }
    // Dropping the receiver (on error) makes the reader's next send fail, so it stops.
    reader.join().expect("the import reader thread does not panic");
    result.map(|()| (summary, end))
}

trait FinalizeClone {
    fn finalize_reset_clone(&self) -> [u8; 32];
}

impl FinalizeClone for Sha256 {
    fn finalize_reset_clone(&self) -> [u8; 32] {
        self.clone().finalize().into()
    }
}

/// Hashes the first `len` bytes of the file; `None` if the file is shorter.
fn hash_prefix(file: &mut File, len: u64) -> std::io::Result<Option<(Sha256, u64)>> {
    file.seek(SeekFrom::Start(0))?;
    let mut hasher = Sha256::new();
    let mut left = len;
    let mut buf = vec![0u8; 1 << 20];
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = file.read(&mut buf[..want])?;
        if n == 0 {
            return Ok(None);
        }
        hasher.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(Some((hasher, len)))
}

/// Why the reader stopped before the end of the file.
enum ReadError {
    Io(std::io::Error),
    Header(String),
}

/// A message being gathered (mbox): where it started, the stream hash as it stood there,
/// and its bytes so far.
struct Pending {
    line: u64,
    offset: u64,
    hasher: Sha256,
    bytes: Vec<u8>,
    overlong: bool,
    last_blank: bool,
}

/// The source a stream's name starts with: `SOURCE:path` for a file, `http:SOURCE:key`
/// for a batch sent to the server.
fn stream_source(stream: &str) -> &str {
    let named = stream.strip_prefix("http:").unwrap_or(stream);
    named.split(':').next().unwrap_or(named)
}

/// The batch being built: its events, dead letters and ignored records (`out`).
struct Batching<'a> {
    adapter: &'a mut dyn LineAdapter,
    opts: &'a ImportOptions,
    file_name: &'a str,
    out: Parsed,
    /// A second adapter, when the source's records are parsed independently and are worth
    /// a second thread (mail): messages are gathered in `group` and parsed two at a time.
    helper: Option<Box<dyn LineAdapter>>,
    /// Whether the adapter was asked for its fork: at the first message, after any
    /// header, so that the copy has read what the adapter has.
    forked: bool,
    group: Vec<Record>,
    group_bytes: usize,
    /// Events this batch may hold: `FIRST_BATCH` at first, doubled with each batch sent, up
    /// to `opts.batch_size`.
    limit: usize,
}

/// Events in a file's first batch. The writer waits for a whole batch before it appends
/// any, so a first batch of `batch_size` left it idle until that many records were
/// parsed, and a file smaller than one batch was parsed whole and only then written, one
/// step after the other (a mail journal of 37,784 messages: 0.5 s parsing, then 0.6 s
/// writing, on two cores). Batches grow from this size, so parsing and writing overlap
/// from the start, and a big file's batches soon reach their full size and few commits.
const FIRST_BATCH: usize = 2_048;

/// A whole record waiting in a group to be parsed.
struct Record {
    number: u64,
    content: Vec<u8>,
    overlong: bool,
}

/// Records parsed together on two threads, at most: enough that a thread's start is
/// nothing beside their parsing, few enough that a batch's memory stays small.
const GROUP_RECORDS: usize = 256;
const GROUP_BYTES: usize = 16 << 20;

/// What parsing some records gave (a batch so far, or one record), in their order.
#[derive(Default)]
struct Parsed {
    events: Vec<PreparedEvent>,
    dead: Vec<DeadLetter>,
    ignored: u64,
}

/// Parses one record into `out`: an event, a dead letter with the reason, or an ignored record.
#[allow(clippy::too_many_arguments)]
fn parse_record(adapter: &mut dyn LineAdapter, opts: &ImportOptions, file_name: &str, number: u64, content: &[u8], overlong: bool, limit: usize, what: &str, out: &mut Parsed) {
    let dead_letter = |reason: String| DeadLetter { source: opts.source.clone(), file: file_name.to_owned(), line: number, reason, raw: content.to_vec() };
    if overlong {
        out.dead.push(dead_letter(format!("{what} longer than {limit} bytes (kept its start only)")));
    } else if content.iter().all(u8::is_ascii_whitespace) {
        out.ignored += 1;
    } else {
        let cx = LineContext { source: &opts.source, file_name, line: number };
        match adapter.parse(content, &cx) {
            // Adapters validate; checking again keeps an adapter's bug from ever
            // putting an event in the log that would not read back.
            Ok(Some(event)) => match event.validate() {
                Ok(()) => out.events.push(PreparedEvent::new(&event)),
                Err(e) => out.dead.push(dead_letter(e.to_string())),
            },
            Ok(None) => out.ignored += 1,
            Err(reason) => out.dead.push(dead_letter(reason)),
        }
    }
}

impl Batching<'_> {
    fn record(&mut self, number: u64, content: &[u8], overlong: bool, limit: usize, what: &str) {
        parse_record(self.adapter, self.opts, self.file_name, number, content, overlong, limit, what, &mut self.out);
    }

    /// A whole message: parsed at once, or kept for its group when there is a helper.
    fn message(&mut self, number: u64, content: Vec<u8>, overlong: bool) {
        if !self.forked {
            self.helper = self.adapter.fork();
            self.forked = true;
        }
        if self.helper.is_none() {
            return self.record(number, &content, overlong, self.opts.max_record, "message");
        }
        self.group_bytes += content.len();
        self.group.push(Record { number, content, overlong });
        if self.group.len() >= GROUP_RECORDS || self.group_bytes >= GROUP_BYTES {
            self.parse_group();
        }
    }

    /// Parses the gathered group on this thread and a helper, each taking the next record
    /// as it finishes one (an XLSX attachment costs a hundred plain messages), and adds the
    /// results in the records' order: the log is the same as one thread's.
    fn parse_group(&mut self) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let group = std::mem::take(&mut self.group);
        self.group_bytes = 0;
        let next = AtomicUsize::new(0);
        let (opts, file_name, limit) = (self.opts, self.file_name, self.opts.max_record);
        let take_turns = |adapter: &mut dyn LineAdapter| {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(r) = group.get(i) else { return done };
                let mut out = Parsed::default();
                parse_record(adapter, opts, file_name, r.number, &r.content, r.overlong, limit, "message", &mut out);
                done.push((i, out));
            }
        };
        let helper = self.helper.as_deref_mut().expect("groups are kept only with a helper");
        let adapter = &mut *self.adapter;
        let mut parsed = std::thread::scope(|scope| {
            let theirs = scope.spawn(|| take_turns(helper));
            let mut ours = take_turns(adapter);
            ours.extend(theirs.join().expect("the helper parse thread does not panic"));
            ours
        });
        parsed.sort_unstable_by_key(|(i, _)| *i);
        for (_, part) in parsed {
            self.out.events.extend(part.events);
            self.out.dead.extend(part.dead);
            self.out.ignored += part.ignored;
        }
    }

    fn full(&self) -> bool {
        self.out.events.len() + self.group.len() >= self.limit || self.out.dead.len() >= self.limit
    }
}

fn read_chunks(
    lines: &mut LineReader<impl BufRead>,
    adapter: &mut dyn LineAdapter,
    opts: &ImportOptions,
    stream: &str,
    file_name: &str,
    total: u64,
    tx: &mpsc::SyncSender<Result<Chunk, ReadError>>,
) {
    let framing = adapter.framing();
    let has_header = adapter.has_header();
    let limit = FIRST_BATCH.min(opts.batch_size);
    let mut b = Batching { adapter, opts, file_name, out: Parsed::default(), helper: None, forked: false, group: Vec::new(), group_bytes: 0, limit };
    let mut pending: Option<Pending> = None;
    loop {
        let (offset_before, hasher_before) = match framing {
            Framing::Mbox | Framing::Message => (lines.offset, Some(lines.hasher.clone())),
            Framing::Lines => (lines.offset, None),
        };
        let next = match lines.next_line() {
            Ok(n) => n,
            Err(e) => {
                let _ = tx.send(Err(ReadError::Io(e)));
                return;
            }
        };
        let at_end = next.is_none();
        match (next, framing) {
            (Some(line), _) if line.number == 1 && has_header => {
                if let Err(reason) = b.adapter.header(line.content, file_name) {
                    let _ = tx.send(Err(ReadError::Header(reason)));
                    return;
                }
                b.out.ignored += 1;
            }
            (Some(line), Framing::Lines) => b.record(line.number, line.content, line.overlong, opts.max_line, "line"),
            (Some(line), Framing::Mbox | Framing::Message) => {
                let starts = match framing {
                    Framing::Message => pending.is_none(),
                    _ => line.content.starts_with(b"From ") && pending.as_ref().is_none_or(|p| p.last_blank),
                };
                if starts {
                    if let Some(p) = pending.take() {
                        b.message(p.line, p.bytes, p.overlong);
                    }
                    pending = Some(Pending {
                        line: line.number,
                        offset: offset_before,
                        hasher: hasher_before.expect("kept for mbox"),
                        bytes: Vec::new(),
                        overlong: false,
                        last_blank: false,
                    });
                }
                match pending.as_mut() {
                    Some(p) => {
                        if p.bytes.len() + line.content.len() + 1 > opts.max_record || line.overlong {
                            p.overlong = true;
                        } else {
                            p.bytes.extend_from_slice(line.content);
                            p.bytes.push(b'\n');
                        }
                        p.last_blank = line.content.is_empty();
                    }
                    None if line.content.iter().all(u8::is_ascii_whitespace) => b.out.ignored += 1,
                    None => b.out.dead.push(DeadLetter {
                        source: opts.source.clone(),
                        file: file_name.to_owned(),
                        line: line.number,
                        reason: "text before the first `From ` line of the mbox".into(),
                        raw: line.content.to_vec(),
                    }),
                }
            }
            (None, _) => {
                if let Some(p) = pending.take() {
                    b.message(p.line, p.bytes, p.overlong);
                }
            }
        }
        if at_end || b.full() {
            if !b.group.is_empty() {
                b.parse_group();
            }
            // A message still being gathered is not committed: the cursor stays at its start.
            let (offset, line, prefix) = match &pending {
                Some(p) => (p.offset, p.line - 1, p.hasher.finalize_reset_clone()),
                None => (lines.offset, lines.line, lines.hasher.finalize_reset_clone()),
            };
            let cursor = StreamCursor {
                stream: stream.to_owned(),
                offset,
                line,
                prefix_sha256: prefix,
                complete_sha256: (at_end && offset == total && !opts.follow).then_some(prefix),
            };
            let end = (at_end && pending.is_none())
                .then(|| StreamPosition { hasher: lines.hasher.clone(), offset: lines.offset, line: lines.line });
            let chunk = Chunk {
                events: std::mem::take(&mut b.out.events),
                dead: std::mem::take(&mut b.out.dead),
                ignored: std::mem::take(&mut b.out.ignored),
                cursor,
                end,
            };
            if tx.send(Ok(chunk)).is_err() || at_end {
                return;
            }
            b.limit = b.limit.saturating_mul(2).min(opts.batch_size);
        }
    }
}

/// A line as read: its number and its content without the line ending, cut at the
/// limit when `overlong`.
struct Line<'a> {
    number: u64,
    content: &'a [u8],
    overlong: bool,
}

/// Reads lines without ever holding more than `max` bytes of one, and keeps the stream's
/// position: every byte consumed is hashed and counted, kept or not.
struct LineReader<R> {
    inner: R,
    max: usize,
    buf: Vec<u8>,
    hasher: Sha256,
    offset: u64,
    line: u64,
}

impl<R: BufRead> LineReader<R> {
    fn next_line(&mut self) -> std::io::Result<Option<Line<'_>>> {
        self.buf.clear();
        let mut overlong = false;
        let mut consumed_any = false;
        let mut ended_in_cr = false;
        loop {
            let available = self.inner.fill_buf()?;
            if available.is_empty() {
                break;
            }
            // LF, CRLF, or a lone CR (files saved by old Mac software): each ends a line.
            let (take, done) = match available.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(i) if available[i] == b'\r' => {
                    ended_in_cr = true;
                    (i + 1, true)
                }
                Some(i) => (i + 1, true),
                None => (available.len(), false),
            };
            let chunk = &available[..take];
            self.hasher.update(chunk);
            self.offset += take as u64;
            consumed_any = true;
            let room = (self.max + 2).saturating_sub(self.buf.len());
            if chunk.len() > room {
                overlong = true;
            }
            self.buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
            self.inner.consume(take);
            if done {
                break;
            }
        }
        // A CR followed by LF is one line ending (the LF may start the next buffer).
        if ended_in_cr && self.inner.fill_buf()?.first() == Some(&b'\n') {
            self.hasher.update(b"\n");
            self.offset += 1;
            self.inner.consume(1);
        }
        if !consumed_any {
            return Ok(None);
        }
        self.line += 1;
        let mut content = self.buf.as_slice();
        if !overlong {
            content = content.strip_suffix(b"\n").or_else(|| content.strip_suffix(b"\r")).unwrap_or(content);
            overlong = content.len() > self.max;
        }
        Ok(Some(Line { number: self.line, content, overlong }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mamori_journal::{SqliteJournal, TimeRange};

    fn line(i: u64) -> String {
        format!(
            r#"{{"class_uid":3002,"activity_id":1,"time":{},"actor":{{"user":{{"uid":"u{i}"}}}},"metadata":{{"product":"win"}}}}"#,
            1_715_130_000_000u64 + i
        )
    }

    fn reader(bytes: &[u8], max: usize) -> LineReader<&[u8]> {
        LineReader { inner: bytes, max, buf: Vec::new(), hasher: Sha256::new(), offset: 0, line: 0 }
    }

    fn read_all(bytes: &[u8], max: usize) -> Vec<(u64, String, bool)> {
        let mut r = reader(bytes, max);
        let mut out = Vec::new();
        while let Some(l) = r.next_line().unwrap() {
            out.push((l.number, String::from_utf8_lossy(l.content).into_owned(), l.overlong));
        }
        assert_eq!(r.offset, bytes.len() as u64, "every byte is accounted for");
        let whole: [u8; 32] = Sha256::digest(bytes).into();
        assert_eq!(r.hasher.finalize_reset_clone(), whole, "the running hash covers every byte");
        out
    }

    #[test]
    fn lines_end_in_lf_or_crlf_and_the_last_may_lack_one() {
        let got = read_all(b"a\r\nb\n\nc", 10);
        let want = [(1, "a", false), (2, "b", false), (3, "", false), (4, "c", false)];
        assert_eq!(got, want.map(|(n, s, o)| (n, s.to_owned(), o)));
    }

    #[test]
    fn a_lone_cr_ends_a_line_as_old_mac_files_write_them_and_swallows_nothing() {
        let got = read_all(b"a,1\rb,2\r\nc,3\r", 10);
        let want = [(1, "a,1", false), (2, "b,2", false), (3, "c,3", false)];
        assert_eq!(got, want.map(|(n, s, o)| (n, s.to_owned(), o)));
        // A CRLF split across the reader's buffer is still one line ending.
        let mut r = LineReader { inner: std::io::BufReader::with_capacity(4, &b"abc\r\nd\n"[..]), max: 10, buf: Vec::new(), hasher: Sha256::new(), offset: 0, line: 0 };
        let mut lines = Vec::new();
        while let Some(l) = r.next_line().unwrap() {
            lines.push(String::from_utf8_lossy(l.content).into_owned());
        }
        assert_eq!(lines, ["abc", "d"]);
        assert_eq!(r.offset, 7);
    }

    #[test]
    fn a_line_at_the_limit_is_kept_and_one_byte_more_is_overlong() {
        let got = read_all(b"12345\n123456\r\n1234567\nok\n", 5);
        let flags: Vec<bool> = got.iter().map(|l| l.2).collect();
        assert_eq!(flags, [false, true, true, false]);
        assert_eq!(got[3].0, 4, "numbering continues after an overlong line");
    }

    fn store() -> (tempfile::TempDir, SqliteJournal) {
        let dir = tempfile::tempdir().unwrap();
        let j = SqliteJournal::init(&dir.path().join("d"), "mamori.test/ingest", 8, &dir.path().join("d.key")).unwrap();
        (dir, j)
    }

    fn import(j: &mut SqliteJournal, path: &Path) -> Result<ImportSummary, IngestError> {
        import_ndjson(j, path, &ImportOptions { batch_size: 3, ..Default::default() }, &mut |_, _| {})
    }

    #[test]
    fn a_grown_file_resumes_after_what_was_committed() {
        let (dir, mut j) = store();
        let path = dir.path().join("a.ndjson");
        std::fs::write(&path, (0..5).map(|i| line(i) + "\n").collect::<String>()).unwrap();
        assert_eq!(import(&mut j, &path).unwrap().accepted, 5);
        // The log grows (a followed file): only the new lines are read.
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(&(5..8).map(|i| line(i) + "\n").collect::<String>());
        std::fs::write(&path, text).unwrap();
        let s = import(&mut j, &path).unwrap();
        assert_eq!((s.accepted, s.already_committed_lines), (3, 5));
        assert_eq!(j.by_time(TimeRange::ALL, 100).unwrap().len(), 8);
        let last = j.by_time(TimeRange::ALL, 100).unwrap().pop().unwrap().event().unwrap();
        assert_eq!(last.unmapped.origin.line, Some(8), "line numbers continue across runs");
    }

    #[test]
    fn a_file_replaced_under_the_same_path_is_refused_not_mixed_in() {
        let (dir, mut j) = store();
        let path = dir.path().join("a.ndjson");
        std::fs::write(&path, line(1) + "\n").unwrap();
        import(&mut j, &path).unwrap();
        std::fs::write(&path, line(2) + "\n" + &line(3) + "\n").unwrap();
        let err = import(&mut j, &path).unwrap_err();
        assert!(matches!(err, IngestError::FileChanged { offset, .. } if offset > 0), "{err}");
        assert_eq!(j.size().unwrap(), 1);
    }
}

#[cfg(test)]
mod mbox_tests {
    use super::*;
    use mamori_journal::{SqliteJournal, TimeRange};
    use mamori_sources::{AdapterContext, SourceConfig};

    fn message(i: u32) -> String {
        format!(
            "From a@city.example.lg.jp Wed May  8 0{i}:00:00 2024\nFrom: a@city.example.lg.jp\nTo: b@city.example.lg.jp\nSubject: m{i}\nDate: Wed, 08 May 2024 0{i}:00:00 +0000\n\nbody {i}\nFrom the text, a line that is not a new message\n\n"
        )
    }

    #[test]
    fn a_growing_mbox_resumes_at_the_message_after_the_last_committed() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = SqliteJournal::init(&dir.path().join("d"), "mamori.test/mbox", 8, &dir.path().join("d.key")).unwrap();
        let config: SourceConfig = toml::from_str("format = \"mbox\"\ninternal_domains = [\"city.example.lg.jp\"]").unwrap();
        let adapter = || mamori_sources::adapter("mail", &config, &AdapterContext::default()).unwrap();
        let path = dir.path().join("journal.mbox");
        std::fs::write(&path, (1..=3).map(message).collect::<String>()).unwrap();
        let opts = ImportOptions { source: "mail".into(), batch_size: 1, ..Default::default() };
        let s = import_file(&mut j, &path, &opts, adapter(), &mut |_, _| {}).unwrap();
        assert_eq!((s.accepted, s.rejected), (3, 0), "a body line starting `From` after text is not a new message");

        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(&message(4));
        std::fs::write(&path, text).unwrap();
        let s = import_file(&mut j, &path, &opts, adapter(), &mut |_, _| {}).unwrap();
        assert_eq!(s.accepted, 1);
        let events = j.by_time(TimeRange::ALL, 10).unwrap();
        let lines: Vec<u64> = events.iter().map(|e| e.event().unwrap().unmapped.origin.line.unwrap()).collect();
        assert_eq!(lines, [1, 10, 19, 28], "each message is found at its From line");
    }

    /// The mail adapter without its `fork`: one parse thread.
    struct OneThread(Box<dyn mamori_sources::LineAdapter>);

    impl mamori_sources::LineAdapter for OneThread {
        fn framing(&self) -> mamori_sources::Framing {
            self.0.framing()
        }
        fn parse(&mut self, line: &[u8], cx: &mamori_sources::LineContext<'_>) -> Result<Option<mamori_model::Event>, String> {
            self.0.parse(line, cx)
        }
    }

    #[test]
    fn mail_parsed_on_two_threads_is_logged_exactly_as_on_one() {
        let dir = tempfile::tempdir().unwrap();
        let config: SourceConfig = toml::from_str("format = \"mbox\"\ninternal_domains = [\"city.example.lg.jp\"]").unwrap();
        let adapter = || mamori_sources::adapter("mail", &config, &AdapterContext::default()).unwrap();
        assert!(adapter().fork().is_some(), "mail offers a second parse thread");
        // Several groups and batches, their edges apart; every seventh message too long
        // (a dead letter), every eleventh with a large body (slow beside its neighbours).
        let text: String = (0..700u32)
            .map(|i| {
                let body = match i {
                    _ if i % 7 == 0 => "x".repeat(3000),
                    _ if i % 11 == 0 => "y".repeat(1500),
                    _ => format!("body {i}"),
                };
                let (h, m) = (i / 60 % 24, i % 60);
                format!("From a@city.example.lg.jp Wed May  8 {h:02}:{m:02}:00 2024\nFrom: a@city.example.lg.jp\nTo: b@city.example.lg.jp\nSubject: m{i}\nDate: Wed, 08 May 2024 {h:02}:{m:02}:00 +0000\n\n{body}\n\n")
            })
            .collect();
        let path = dir.path().join("journal.mbox");
        std::fs::write(&path, text).unwrap();
        let opts = ImportOptions { source: "mail".into(), batch_size: 97, max_record: 2500, ..Default::default() };
        let mut logged = Vec::new();
        for (name, a) in [("two", adapter()), ("one", Box::new(OneThread(adapter())) as Box<dyn mamori_sources::LineAdapter>)] {
            let mut j = SqliteJournal::init(&dir.path().join(name), "mamori.test/mbox", 8, &dir.path().join(format!("{name}.key"))).unwrap();
            let s = import_file(&mut j, &path, &opts, a, &mut |_, _| {}).unwrap();
            assert_eq!((s.accepted, s.rejected), (600, 100), "{name} thread(s)");
            // The records of refused lines follow the batches, which threads may cut apart
            // differently; what was logged is the events.
            let bodies: Vec<Vec<u8>> = (0..j.size().unwrap())
                .map(|seq| j.get(seq).unwrap().unwrap())
                .filter(|e| e.event().unwrap().unmapped.operation.as_deref() != Some(mamori_journal::REJECTED_OPERATION))
                .map(|e| e.body)
                .collect();
            let dead: Vec<(u64, String)> = j.dead_letters(1000).unwrap().into_iter().map(|d| (d.line, d.reason)).collect();
            logged.push((bodies, dead));
        }
        assert_eq!(logged[0], logged[1], "the same events in the same order, and the same dead letters");
    }
}
