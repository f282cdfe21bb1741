//! Content inspection of attachments: how many rows look like personal data, which items
//! they carry, how many valid My Numbers, and which known residents they name. This is
//! what breach sizing later counts, so a resident is matched only on evidence: their
//! 宛名番号, or their folded name together with their birth date.
//!
//! Reads CSV, TSV and text (UTF-8 or CP932), XLSX (shared strings and sheets, read with
//! `zip` and `quick-xml` under byte limits) and zip archives (entries inspected in turn;
//! an encrypted entry is reported as uninspectable). Every decompression is bounded: a
//! part larger than its limit, or expanding more than `MAX_RATIO` times, is a suspected
//! zip bomb and is reported as such, never read to the end.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{Cursor, Read};

use chrono::NaiveDate;
use serde::Serialize;

/// Largest decompressed part read (one sheet, one zip entry).
const MAX_PART: u64 = 32 * 1024 * 1024;
/// Largest total decompressed per attachment.
const MAX_TOTAL: u64 = 128 * 1024 * 1024;
/// Largest expansion of a compressed part before it counts as a zip bomb.
const MAX_RATIO: u64 = 200;
/// How deep zips inside zips are opened.
const MAX_DEPTH: u32 = 3;

/// What the inspector knows of the town's residents, for matching.
#[derive(Debug, Default)]
pub struct ResidentIndex {
    uids: HashSet<String, foldhash::fast::RandomState>,
    by_name: HashMap<String, Vec<(NaiveDate, String)>, foldhash::fast::RandomState>,
}

impl ResidentIndex {
    /// Builds the index from (宛名番号, name, kana, birth date) of every resident.
    pub fn new<'a>(residents: impl IntoIterator<Item = (&'a str, &'a str, &'a str, NaiveDate)>) -> ResidentIndex {
        let mut index = ResidentIndex::default();
        for (uid, name, kana, birth) in residents {
            index.uids.insert(uid.to_owned());
            for n in [name, kana] {
                let folded = mamori_text::fold_name(n);
                if !folded.is_empty() {
                    index.by_name.entry(folded).or_default().push((birth, uid.to_owned()));
                }
            }
        }
        index
    }

    pub fn len(&self) -> usize {
        self.uids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.uids.is_empty()
    }
}

/// The kinds of personal data a row can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Item {
    ResidentId,
    Name,
    Kana,
    BirthDate,
    Address,
    Phone,
    MyNumber,
    /// Health, disability or care information: 要配慮個人情報 under the Act.
    Health,
    /// Tax: assessments, income, arrears.
    Tax,
    /// Welfare: public assistance, benefits.
    Welfare,
    /// The family register: 本籍, 筆頭者.
    FamilyRegister,
}

/// What inspection found in one attachment (or one entry of an archive).
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct Inspection {
    /// `csv`, `tsv`, `text`, `xlsx`, `zip`, or `binary` when the type is not read.
    pub kind: String,
    pub inspected: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub encrypted: bool,
    /// Why the content could not be (fully) read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uninspectable: Option<String>,
    pub rows: u64,
    pub personal_rows: u64,
    pub items: BTreeSet<Item>,
    pub my_numbers: u64,
    /// 宛名番号 of the known residents the content names.
    pub residents: BTreeSet<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<(String, Inspection)>,
}

impl Inspection {
    fn absorb(&mut self, other: &Inspection) {
        self.rows += other.rows;
        self.personal_rows += other.personal_rows;
        self.items.extend(other.items.iter().copied());
        self.my_numbers += other.my_numbers;
        self.residents.extend(other.residents.iter().cloned());
        self.encrypted |= other.encrypted;
    }
}

/// Inspects an attachment by its name and bytes.
pub fn inspect(name: &str, bytes: &[u8], residents: &ResidentIndex) -> Inspection {
    let mut budget = MAX_TOTAL;
    inspect_at(name, bytes, residents, 0, &mut budget)
}

fn extension(name: &str) -> String {
    name.rsplit('.').next().filter(|e| e.len() < name.len()).unwrap_or("").to_ascii_lowercase()
}

fn inspect_at(name: &str, bytes: &[u8], residents: &ResidentIndex, depth: u32, budget: &mut u64) -> Inspection {
    let is_zip = bytes.starts_with(b"PK\x03\x04");
    let ext = extension(name);
    match ext.as_str() {
        "xlsx" | "xlsm" | "xlsb" | "ods" if is_zip => spreadsheet(bytes, &ext, residents, budget),
        "xls" => spreadsheet(bytes, "xls", residents, budget),
        "docx" if is_zip => docx(bytes, residents, budget),
        "zip" if is_zip => archive(bytes, residents, depth, budget),
        e if UNREAD_ARCHIVES.contains(&e) || bytes.starts_with(b"7z\xBC\xAF\x27\x1C") || bytes.starts_with(b"Rar!") || bytes.starts_with(&[0x1f, 0x8b]) => {
            Inspection { kind: e.into(), uninspectable: Some(format!("an archive of a kind not opened ({e})")), ..Default::default() }
        }
        "csv" => table(bytes, Some(b','), "csv", residents),
        "tsv" => table(bytes, Some(b'\t'), "tsv", residents),
        "txt" | "text" | "dat" => table(bytes, None, "text", residents),
        _ if is_zip => archive(bytes, residents, depth, budget),
        _ => Inspection { kind: "binary".into(), ..Default::default() },
    }
}

/// Reads one zip entry under the limits; `Err` names why it was not read.
fn read_entry(file: &mut zip::read::ZipFile<'_, Cursor<&[u8]>>, budget: &mut u64) -> Result<Vec<u8>, String> {
    let declared = file.size();
    let compressed = file.compressed_size().max(1);
    if declared > MAX_PART || declared > *budget || declared / compressed > MAX_RATIO {
        return Err(format!("zip bomb suspected: {declared} bytes from {compressed}"));
    }
    // The declared size may lie: never read past the limit whatever it says.
    let limit = MAX_PART.min(*budget);
    let mut out = Vec::new();
    file.take(limit + 1).read_to_end(&mut out).map_err(|e| format!("cannot decompress: {e}"))?;
    if out.len() as u64 > limit || out.len() as u64 / compressed > MAX_RATIO {
        return Err(format!("zip bomb suspected: more than {} bytes from {compressed}", out.len()));
    }
    *budget -= out.len() as u64;
    Ok(out)
}

fn archive(bytes: &[u8], residents: &ResidentIndex, depth: u32, budget: &mut u64) -> Inspection {
    let mut result = Inspection { kind: "zip".into(), inspected: true, ..Default::default() };
    if depth >= MAX_DEPTH {
        result.inspected = false;
        result.uninspectable = Some(format!("archives nested more than {MAX_DEPTH} deep"));
        return result;
    }
    let mut zip = match zip::ZipArchive::new(Cursor::new(bytes)) {
        Ok(z) => z,
        Err(e) => {
            result.inspected = false;
            result.uninspectable = Some(format!("not a readable zip: {e}"));
            return result;
        }
    };
    for i in 0..zip.len() {
        let (name, encrypted, is_dir) = match zip.by_index_raw(i) {
            Ok(f) => (f.name().map(|n| n.into_owned()).unwrap_or_else(|_| format!("entry {i}")), f.encrypted(), f.is_dir()),
            Err(e) => {
                result.uninspectable = Some(format!("entry {i}: {e}"));
                continue;
            }
        };
        if is_dir {
            continue;
        }
        let entry = if encrypted {
            Inspection {
                kind: extension(&name),
                encrypted: true,
                uninspectable: Some("encrypted (password-protected) entry".into()),
                ..Default::default()
            }
        } else {
            match zip.by_index(i).map_err(|e| e.to_string()).and_then(|mut f| read_entry(&mut f, budget)) {
                Ok(data) => inspect_at(&name, &data, residents, depth + 1, budget),
                Err(reason) => Inspection { kind: extension(&name), uninspectable: Some(reason), ..Default::default() },
            }
        };
        if entry.uninspectable.is_some() {
            result.uninspectable.get_or_insert_with(|| format!("{name}: {}", entry.uninspectable.as_deref().unwrap_or("")));
        }
        result.absorb(&entry);
        result.entries.push((name, entry));
    }
    result
}

/// Rows of text: CSV/TSV by delimiter, or lines split on commas, tabs and runs of spaces.
fn table(bytes: &[u8], delimiter: Option<u8>, kind: &str, residents: &ResidentIndex) -> Inspection {
    let text = match std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)) {
        Ok(t) => t.to_owned(),
        Err(_) => encoding_rs::SHIFT_JIS.decode_without_bom_handling(bytes).0.into_owned(),
    };
    let rows: Vec<Vec<String>> = match delimiter {
        Some(d) => csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(d)
            .from_reader(text.as_bytes())
            .records()
            .filter_map(Result::ok)
            .map(|r| r.iter().map(str::to_owned).collect())
            .collect(),
        None => text
            .lines()
            .map(|l| l.split([',', '\t', '\u{3000}']).map(|s| s.trim().to_owned()).collect())
            .collect(),
    };
    let mut result = analyse(&rows, residents);
    result.kind = kind.into();
    result
}

fn xml_text(reader: &mut quick_xml::Reader<&[u8]>, until: &str) -> Result<String, String> {
    use quick_xml::events::Event;
    let mut out = String::new();
    let mut skip = 0u32; // inside <rPh> (furigana runs), whose text is not the cell's
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) if e.local_name().as_ref() == "rPh" => skip += 1,
            Event::End(e) if e.local_name().as_ref() == "rPh" => skip = skip.saturating_sub(1),
            Event::End(e) if e.local_name().as_ref() == until => return Ok(out),
            Event::Text(t) if skip == 0 => out.push_str(&t.xml_content(quick_xml::XmlVersion::Implicit1_0)),
            Event::CData(t) if skip == 0 => out.push_str(&t),
            Event::GeneralRef(r) if skip == 0 => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    out.push(c);
                } else {
                    out.push_str(match r.as_ref() {
                        "amp" => "&",
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => "",
                    });
                }
            }
            Event::Eof => return Ok(out),
            _ => {}
        }
    }
}


/// The zip entries of an Office file, each read under the limits (so that a bomb inside a
/// spreadsheet trips the same guard as one in an archive); `Err` names why not.
fn guard_zip(bytes: &[u8], budget: &mut u64) -> Result<(), String> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| format!("not a readable file: {e}"))?;
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).map_err(|e| e.to_string())?;
        if f.encrypted() {
            return Err("encrypted".into());
        }
        read_entry(&mut f, budget)?;
    }
    Ok(())
}

/// A spreadsheet (xlsx, xlsm, xlsb, xls, ods) through calamine: every sheet's rows.
fn spreadsheet(bytes: &[u8], kind: &str, residents: &ResidentIndex, budget: &mut u64) -> Inspection {
    use calamine::Reader;
    let fail = |why: String| Inspection { kind: kind.into(), uninspectable: Some(why), ..Default::default() };
    if bytes.starts_with(b"PK\x03\x04")
        && let Err(why) = guard_zip(bytes, budget)
    {
        return fail(why);
    }
    // Opened as what its name says (content sniffing refuses lean but valid files).
    let cursor = Cursor::new(bytes);
    let opened: Result<calamine::Sheets<Cursor<&[u8]>>, String> = match kind {
        "xls" => calamine::Xls::new(cursor).map(calamine::Sheets::Xls).map_err(|e| e.to_string()),
        "xlsb" => calamine::Xlsb::new(cursor).map(calamine::Sheets::Xlsb).map_err(|e| e.to_string()),
        "ods" => calamine::Ods::new(cursor).map(calamine::Sheets::Ods).map_err(|e| e.to_string()),
        _ => calamine::Xlsx::new(cursor).map(calamine::Sheets::Xlsx).map_err(|e| e.to_string()),
    };
    let mut book = match opened {
        Ok(b) => b,
        Err(_) if matches!(kind, "xlsx" | "xlsm") => return xlsx_parts(bytes, residents, budget),
        Err(e) => return fail(format!("not a readable spreadsheet: {e}")),
    };
    let mut rows: Vec<Vec<String>> = Vec::new();
    for name in book.sheet_names() {
        let range = match book.worksheet_range(&name) {
            Ok(r) => r,
            Err(e) => return fail(format!("{name}: {e}")),
        };
        for row in range.rows() {
            rows.push(row.iter().map(cell_text).collect());
        }
    }
    Inspection { kind: kind.into(), ..analyse(&rows, residents) }
}

/// A cell as the text a reader would see (a date as a date, not Excel's serial number).
fn cell_text(cell: &calamine::Data) -> String {
    match cell {
        calamine::Data::DateTime(d) => d.as_datetime().map(|t| if t.time() == chrono::NaiveTime::MIN { t.date().to_string() } else { t.to_string() }).unwrap_or_else(|| d.to_string()),
        calamine::Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        other => other.to_string(),
    }
}

/// A Word document (docx): its paragraphs as lines, a table's row as one line of cells.
fn docx(bytes: &[u8], residents: &ResidentIndex, budget: &mut u64) -> Inspection {
    use quick_xml::events::Event;
    let fail = |why: String| Inspection { kind: "docx".into(), uninspectable: Some(why), ..Default::default() };
    if let Err(why) = guard_zip(bytes, budget) {
        return fail(why);
    }
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(bytes)) else { return fail("not a readable docx".into()) };
    let xml = match zip.by_name("word/document.xml") {
        Ok(mut f) => {
            let mut v = Vec::new();
            if let Err(e) = f.read_to_end(&mut v) {
                return fail(e.to_string());
            }
            v
        }
        Err(_) => return fail("no word/document.xml".into()),
    };
    let mut reader = quick_xml::Reader::from_reader(xml.as_slice());
    let (mut text, mut para, mut cells, mut in_row) = (String::new(), String::new(), Vec::<String>::new(), false);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) if e.local_name().as_ref() == "t" => match xml_text(&mut reader, "t") {
                Ok(t) => para.push_str(&t),
                Err(e) => return fail(format!("word/document.xml: {e}")),
            },
            Ok(Event::Start(e)) if e.local_name().as_ref() == "tr" => in_row = true,
            Ok(Event::End(e)) => match e.local_name().as_ref() {
                "p" if !in_row => {
                    text.push_str(&std::mem::take(&mut para));
                    text.push('\n');
                }
                "p" => para.push(' '),
                "tc" => cells.push(std::mem::take(&mut para).trim().to_owned()),
                "tr" => {
                    in_row = false;
                    text.push_str(&cells.join("\t"));
                    text.push('\n');
                    cells.clear();
                }
                _ => {}
            },
            Ok(Event::Eof) => break,
            Err(e) => return fail(format!("word/document.xml: {e}")),
            _ => {}
        }
    }
    Inspection { kind: "docx".into(), ..table(text.as_bytes(), None, "docx", residents) }
}

/// Archives mamori does not open: what is inside cannot be told.
const UNREAD_ARCHIVES: [&str; 10] = ["7z", "rar", "lzh", "lha", "cab", "tar", "gz", "tgz", "bz2", "xz"];

/// Column index of a cell reference (`C12` → 2).
fn column_of(reference: &str) -> usize {
    reference.bytes().take_while(u8::is_ascii_uppercase).fold(0usize, |acc, b| acc * 26 + (b - b'A' + 1) as usize).saturating_sub(1)
}

/// The workbook read part by part, for a lean file calamine refuses (no package
/// relationships: valid enough for Excel's readers, and for a leaker's).
fn xlsx_parts(bytes: &[u8], residents: &ResidentIndex, budget: &mut u64) -> Inspection {
    use quick_xml::events::Event;
    let mut result = Inspection { kind: "xlsx".into(), ..Default::default() };
    let fail = |mut r: Inspection, why: String| {
        r.uninspectable = Some(why);
        r
    };
    let mut zip = match zip::ZipArchive::new(Cursor::new(bytes)) {
        Ok(z) => z,
        Err(e) => return fail(result, format!("not a readable xlsx: {e}")),
    };
    let names: Vec<String> = zip.file_names().filter_map(|n| n.ok().map(|n| n.into_owned())).collect();
    let mut part = |name: &str| -> Result<Option<Vec<u8>>, String> {
        match zip.by_name(name) {
            Ok(f) if f.encrypted() => Err("encrypted".into()),
            Ok(mut f) => read_entry(&mut f, budget).map(Some),
            Err(_) => Ok(None),
        }
    };
    let mut shared = Vec::new();
    match part("xl/sharedStrings.xml") {
        Ok(Some(xml)) => {
            let mut reader = quick_xml::Reader::from_reader(xml.as_slice());
            loop {
                match reader.read_event() {
                    Ok(Event::Start(e)) if e.local_name().as_ref() == "si" => match xml_text(&mut reader, "si") {
                        Ok(t) => shared.push(t),
                        Err(e) => return fail(result, format!("sharedStrings.xml: {e}")),
                    },
                    Ok(Event::Eof) => break,
                    Err(e) => return fail(result, format!("sharedStrings.xml: {e}")),
                    _ => {}
                }
            }
        }
        Ok(None) => {}
        Err(e) => return fail(result, e),
    }
    let mut sheets: Vec<&String> = names.iter().filter(|n| n.starts_with("xl/worksheets/sheet") && n.ends_with(".xml")).collect();
    sheets.sort();
    let mut rows: Vec<Vec<String>> = Vec::new();
    for sheet in sheets {
        let xml = match part(sheet) {
            Ok(Some(x)) => x,
            Ok(None) => continue,
            Err(e) => return fail(result, format!("{sheet}: {e}")),
        };
        let mut reader = quick_xml::Reader::from_reader(xml.as_slice());
        let mut row: Vec<String> = Vec::new();
        loop {
            match reader.read_event() {
                Ok(Event::Start(e)) if e.local_name().as_ref() == "c" => {
                    let mut col = row.len();
                    let mut shared_ref = false;
                    for a in e.attributes().flatten() {
                        match a.key.local_name().as_ref() {
                            "r" => col = column_of(a.value.as_ref()),
                            "t" => shared_ref = a.value.as_ref() == "s",
                            _ => {}
                        }
                    }
                    let raw = match xml_text(&mut reader, "c") {
                        Ok(t) => t,
                        Err(e) => return fail(result, format!("{sheet}: {e}")),
                    };
                    let value = if shared_ref { raw.trim().parse::<usize>().ok().and_then(|i| shared.get(i).cloned()).unwrap_or_default() } else { raw };
                    if row.len() <= col {
                        row.resize(col + 1, String::new());
                    }
                    row[col] = value;
                }
                Ok(Event::End(e)) if e.local_name().as_ref() == "row" => rows.push(std::mem::take(&mut row)),
                Ok(Event::Eof) => break,
                Err(e) => return fail(result, format!("{sheet}: {e}")),
                _ => {}
            }
        }
    }
    result = Inspection { kind: "xlsx".into(), ..analyse(&rows, residents) };
    result
}

/// Which column holds what, from header words.
fn header_kind(cell: &str) -> Option<Item> {
    let c = mamori_text::fold_name(cell);
    let has = |words: &[&str]| words.iter().any(|w| c.contains(&mamori_text::fold_name(w)));
    if has(&["宛名番号", "住民コード", "宛名コード"]) {
        Some(Item::ResidentId)
    } else if has(&["個人番号", "マイナンバー", "mynumber"]) {
        Some(Item::MyNumber)
    } else if has(&["病名", "傷病", "障害", "健診", "検診", "診断", "既往", "要介護", "服薬"]) {
        Some(Item::Health)
    } else if has(&["カナ", "フリガナ", "ふりがな", "よみ"]) {
        Some(Item::Kana)
    } else if has(&["氏名", "名前", "世帯主", "name"]) {
        Some(Item::Name)
    } else if has(&["生年月日", "誕生日", "birth"]) {
        Some(Item::BirthDate)
    } else if has(&["住所", "所在地", "address"]) {
        Some(Item::Address)
    } else if has(&["電話", "TEL", "携帯", "phone"]) {
        Some(Item::Phone)
    } else if has(&["税額", "課税", "所得", "滞納", "収入", "納付額", "税目", "未納"]) {
        Some(Item::Tax)
    } else if has(&["保護", "扶助", "受給", "手当", "給付"]) {
        Some(Item::Welfare)
    } else if has(&["本籍", "筆頭者"]) {
        Some(Item::FamilyRegister)
    } else {
        None
    }
}

/// The cell without the separators a number is written with (borrowed when it has none:
/// most cells are names and words, and this runs for every cell).
fn digits_only(s: &str) -> Cow<'_, str> {
    let separator = |c: char| matches!(c, ' ' | '-' | '\u{3000}');
    if s.contains(separator) { Cow::Owned(s.chars().filter(|&c| !separator(c)).collect()) } else { Cow::Borrowed(s) }
}

/// `digits` is `digits_only(s)`, made once per cell.
fn looks_like_phone(s: &str, digits: &str) -> bool {
    digits.starts_with('0') && (10..=11).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) && s.contains('-')
}

/// Whether `parse_date` could read the cell: every date it reads has a digit once NFKC has
/// folded it, and only numeric characters (０, ①, ²…) and the CJK compatibility squares
/// (㋀ 1月, ㏠ 1日) fold to digits. Skips the parse, and the error it formats, for the
/// names and words that make up most cells.
fn could_be_date(s: &str) -> bool {
    s.chars().any(|c| c.is_numeric() || ('\u{3200}'..='\u{33FF}').contains(&c))
}

/// A person's name or its reading: two to twenty letters and no digits, not a total or a
/// place (a count is not a name, whatever its column is headed).
fn looks_like_name(s: &str) -> bool {
    let letters = s.chars().filter(|c| c.is_alphabetic()).count();
    let not_a_name = ["計", "合計", "小計", "地区", "町", "村", "市", "区", "課", "係", "件", "人", "世帯"];
    (2..=20).contains(&letters) && !s.chars().any(|c| c.is_numeric()) && !not_a_name.iter().any(|w| s.trim().ends_with(w))
}

fn looks_like_address(s: &str) -> bool {
    let area = ["都", "道", "府", "県", "市", "区", "町", "村"].iter().any(|w| s.contains(w));
    let block = ["丁目", "番地", "番", "号"].iter().any(|w| s.contains(w)) || s.chars().filter(|c| *c == '-').count() >= 1;
    area && block && s.chars().count() >= 6
}

/// An Excel date serial (days since 1899-12-30) or any written date.
fn as_date(s: &str) -> Option<NaiveDate> {
    if let Ok(serial) = s.trim().parse::<f64>()
        && (1.0..80_000.0).contains(&serial)
    {
        return NaiveDate::from_ymd_opt(1899, 12, 30)?.checked_add_days(chrono::Days::new(serial as u64));
    }
    mamori_text::parse_date(s).ok()
}

fn analyse(rows: &[Vec<String>], residents: &ResidentIndex) -> Inspection {
    let mut result = Inspection { inspected: true, ..Default::default() };
    let header: BTreeMap<usize, Item> = rows
        .first()
        .map(|r| r.iter().enumerate().filter_map(|(i, c)| header_kind(c).map(|k| (i, k))).collect())
        .unwrap_or_default();
    let data = if header.is_empty() { rows } else { &rows[1..] };
    for row in data {
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        result.rows += 1;
        let mut items = BTreeSet::new();
        let mut matched: Option<String> = None;
        let mut names: Vec<String> = Vec::new();
        let mut dates: Vec<NaiveDate> = Vec::new();
        for (i, cell) in row.iter().enumerate() {
            let cell = cell.trim();
            if cell.is_empty() {
                continue;
            }
            let column = header.get(&i).copied();
            let digits = digits_only(cell);
            if digits.len() == 12 && mamori_text::is_valid_my_number(&digits) {
                items.insert(Item::MyNumber);
                result.my_numbers += 1;
                continue;
            }
            if residents.uids.contains(cell) {
                items.insert(Item::ResidentId);
                matched.get_or_insert_with(|| cell.to_owned());
                continue;
            }
            // A header says where to look; only a cell that holds the item counts (a table
            // of counts headed 氏名・住所 names no one).
            match column {
                Some(Item::BirthDate) => {
                    if let Some(d) = as_date(cell) {
                        items.insert(Item::BirthDate);
                        dates.push(d);
                    }
                }
                Some(Item::Name) | Some(Item::Kana) if looks_like_name(cell) => {
                    items.insert(column.expect("matched"));
                    names.push(mamori_text::fold_name(cell));
                }
                Some(Item::ResidentId) if cell.chars().any(|c| c.is_ascii_digit()) => {
                    items.insert(Item::ResidentId);
                }
                Some(Item::Address) if looks_like_address(cell) => {
                    items.insert(Item::Address);
                }
                Some(Item::Phone) if looks_like_phone(cell, &digits) => {
                    items.insert(Item::Phone);
                }
                // What kind of record the row is from: any entry under such a header.
                Some(kind @ (Item::Health | Item::Tax | Item::Welfare | Item::FamilyRegister)) => {
                    items.insert(kind);
                }
                Some(_) => {}
                None => {
                    if looks_like_phone(cell, &digits) {
                        items.insert(Item::Phone);
                    } else if looks_like_address(cell) {
                        items.insert(Item::Address);
                    } else if let Some(d) = could_be_date(cell).then(|| mamori_text::parse_date(cell).ok()).flatten() {
                        dates.push(d);
                    } else {
                        let folded = mamori_text::fold_name(cell);
                        if residents.by_name.contains_key(&folded) {
                            items.insert(Item::Name);
                            names.push(folded);
                        }
                    }
                }
            }
        }
        for n in &names {
            let Some(candidates) = residents.by_name.get(n) else { continue };
            let hits: Vec<&String> = candidates.iter().filter(|(b, _)| dates.contains(b)).map(|(_, u)| u).collect();
            if !hits.is_empty() {
                // A known name beside that person's birth date: personal data either way,
                // but two residents of one name and birth date cannot be told apart.
                items.insert(Item::BirthDate);
                if hits.len() == 1 && matched.is_none() {
                    matched = Some(hits[0].clone());
                }
            }
        }
        let personal_kinds = items.iter().filter(|k| matches!(k, Item::Name | Item::Kana | Item::BirthDate | Item::Address | Item::Phone)).count();
        if matched.is_some() || items.contains(&Item::MyNumber) || personal_kinds >= 2 {
            result.personal_rows += 1;
        }
        result.items.extend(items);
        if let Some(uid) = matched {
            result.residents.insert(uid);
        }
    }
    result
}

#[cfg(test)]
mod tests;
