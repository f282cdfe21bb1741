//! The mail journal: what staff mail each other and other offices, and the two mail
//! incidents of the brief (S8 Kamaishi, S10 the seconded employee), written as an mbox
//! of real MIME messages whose attachments carry resident rows the way real extracts do
//! (Shift_JIS CSV from Excel, XLSX, zip, and password-protected zips sent "PPAP" style).

use std::fmt::Write as _;
use std::io::{Cursor, Write};

use base64::Engine;
use chrono::{Datelike, NaiveDate, NaiveDateTime};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::town::{DEPARTMENTS, Town};
use crate::{Incident, World, at};

pub const DOMAIN: &str = "city.example.lg.jp";
/// Offices the town mails in the course of business: the prefecture, the pension office,
/// and the printing contractor for tax notices (under contract, so personal data may go
/// there, in password-protected zips).
pub const PARTNERS: [&str; 3] = ["pref.example.lg.jp", "nenkin.go.jp", "print-center.example.co.jp"];
/// The company the S10 employee is seconded from has an affiliate outside any contract.
const AFFILIATE: &str = "nexus-partners.example.co.jp";

/// What an attachment holds.
pub enum Content {
    /// Resident rows: 宛名番号, 氏名, カナ, 生年月日, 住所 (and 個人番号, if set).
    Residents { rows: Vec<usize>, my_number: bool },
    /// Tax arrears: 宛名番号, 氏名, 住所, 滞納額.
    Arrears(Vec<usize>),
    /// A document with no personal data (meeting papers), this many bytes.
    Document(usize),
    /// Counts per district, under headers that name personal items (住所, 氏名 …):
    /// statistics, no person in it.
    Statistics,
}

pub enum Form {
    /// CSV as Excel saves it on a Japanese Windows: Shift_JIS.
    CsvShiftJis,
    /// CSV in UTF-8 with a BOM.
    CsvUtf8,
    Xlsx,
    /// The file inside a zip (deflated).
    Zip,
    /// The file inside a ZipCrypto password-protected zip.
    EncryptedZip,
    Pdf,
}

pub struct Attachment {
    pub name: String,
    pub content: Content,
    pub form: Form,
}

pub struct Mail {
    pub at: NaiveDateTime,
    pub from: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    /// Blind copies (the journal keeps them: it records every envelope recipient).
    pub bcc: Vec<String>,
    pub subject: String,
    pub body: String,
    pub attachments: Vec<Attachment>,
    pub incident: Option<usize>,
    /// Message-ID, without the angle brackets.
    pub id: String,
}

pub fn address(number: u32) -> String {
    format!("e{number:04}@{DOMAIN}")
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn new_mail(w: &mut World, at: NaiveDateTime, from: String, to: Vec<String>, subject: &str, body: &str, attachments: Vec<Attachment>, incident: Option<usize>) -> String {
    // Numbered over the whole run, the mails already written included.
    let id = format!("{}.{:06}@{DOMAIN}", at.format("%Y%m%d%H%M%S"), w.written.mails + w.mails.len());
    w.mails.push(Mail { at, from, to, cc: Vec::new(), bcc: Vec::new(), subject: subject.into(), body: body.into(), attachments, incident, id: id.clone() });
    id
}

/// A deterministic, valid My Number for resident `p` (never a real person's: the first
/// digit is 9, which no issued number is known to use, and the town is fictional).
pub fn my_number(p: usize) -> String {
    let base = 90_000_000_000u64 + (p as u64 * 7_919_993) % 9_999_999_999;
    let digits: Vec<u32> = base.to_string().chars().filter_map(|c| c.to_digit(10)).collect();
    format!("{base}{}", mamori_text::mynumber::check_digit(&digits))
}

/// The research contractor that receives the town's district statistics.
const RESEARCH: &str = "research-lab.example.co.jp";

/// Ordinary mail of one working day: notices, papers, requests to other offices, lists of
/// a few residents between sections that both hold the records, and password-protected
/// extracts to the prefecture or the printing contractor.
pub fn day(rng: &mut ChaCha8Rng, w: &mut World, day: NaiveDate) {
    // Weekly district statistics to the research contractor (no person in them).
    if w.practices.statistics_mail && day.weekday() == chrono::Weekday::Wed
        && let Some(si) = (0..w.town.staff.len()).find(|&i| DEPARTMENTS[w.town.staff[i].dept].0 == "D500" && w.town.dept_on(&w.town.staff[i], day).is_some())
    {
        let file = Attachment { name: format!("地区別人口集計_{}.csv", day.format("%m%d")), content: Content::Statistics, form: Form::CsvShiftJis };
        let from = address(w.town.staff[si].number);
        new_mail(w, at(day, 16 * 60), from, vec![format!("chousa@{RESEARCH}")], "地区別集計の送付", "今週の地区別集計です。", vec![file], None);
        w.negative("statistics-mail", "個人項目名の見出しを持つ集計表（個人の記載なし）を外部の調査委託先へ送付", si, w.last_mail());
    }
    let present: Vec<usize> = (0..w.town.staff.len()).filter(|&i| w.town.dept_on(&w.town.staff[i], day).is_some()).collect();
    let record_depts = ["D100", "D110", "D200", "D300", "D310"];
    let in_records = |w: &World, i: usize| w.town.dept_on(&w.town.staff[i], day).is_some_and(|d| record_depts.contains(&DEPARTMENTS[d].0));
    let holders: Vec<usize> = present.iter().copied().filter(|&i| in_records(w, i)).collect();
    for &si in &present {
        if !rng.gen_bool(0.25) {
            continue;
        }
        let from = address(w.town.staff[si].number);
        let t = at(day, rng.gen_range(8 * 60 + 40..17 * 60 + 10));
        let colleague = |rng: &mut ChaCha8Rng, pool: &[usize]| address(w.town.staff[*pool.choose(rng).expect("staff")].number);
        let roll = rng.gen_range(0..100);
        match roll {
            0..50 => {
                let to: Vec<String> = (0..rng.gen_range(1..4)).map(|_| colleague(rng, &present)).collect();
                new_mail(w, t, from, to, "打合せの件", "お疲れさまです。明日の打合せは10時からです。", vec![], None);
            }
            50..70 => {
                let to = vec![colleague(rng, &present)];
                let doc = Attachment { name: format!("会議資料_{}.pdf", day.format("%m%d")), content: Content::Document(rng.gen_range(800..3000)), form: Form::Pdf };
                new_mail(w, t, from, to, "会議資料の送付", "資料を添付します。", vec![doc], None);
            }
            70..80 => {
                let to = vec![format!("soumu@{}", PARTNERS[0])];
                new_mail(w, t, from, to, "照会への回答", "標記の件について回答いたします。", vec![], None);
            }
            80..88 if in_records(w, si) && holders.len() > 1 => {
                let to = vec![colleague(rng, &holders)];
                let rows: Vec<usize> = (0..rng.gen_range(3..10)).map(|_| rng.gen_range(0..w.town.people.len())).collect();
                let file = Attachment { name: "照会対象者.csv".into(), content: Content::Residents { rows, my_number: false }, form: Form::CsvShiftJis };
                new_mail(w, t, from, to, "照会依頼（対象者一覧）", "対象者の確認をお願いします。", vec![file], None);
            }
            88..94 if in_records(w, si) => {
                let partner = PARTNERS[rng.gen_range(0..PARTNERS.len())];
                let rows: Vec<usize> = (0..rng.gen_range(5..40)).map(|_| rng.gen_range(0..w.town.people.len())).collect();
                let file = Attachment { name: "送付データ.csv".into(), content: Content::Residents { rows, my_number: partner != PARTNERS[2] }, form: Form::EncryptedZip };
                new_mail(w, t, from, vec![format!("tantou@{partner}")], "データ送付", "パスワードは別途お知らせします。", vec![file], None);
            }
            _ => {
                let to = vec![from];
                new_mail(w, t, format!("info@{}", PARTNERS[rng.gen_range(0..2)]), to, "ご案内", "研修のご案内です。", vec![], None);
            }
        }
    }
}

/// S8 (Kamaishi): employee A moved from the residents' section to one with no registry
/// access; employee B, still there, mails A registry extracts; both mail resident data
/// to home addresses, once a whole-population snapshot; A also gathers tax arrears from
/// a tax clerk by mail; and A, now administering PCs, turns off file auditing on B's
/// terminal. 21 mails in all, as in the seed.
pub fn inject_s8(rng: &mut ChaCha8Rng, w: &mut World, days: &[NaiveDate], a: usize, b: usize, c: usize) {
    let id = w.incidents.len();
    let (addr_a, addr_b, addr_c) = (address(w.town.staff[a].number), address(w.town.staff[b].number), address(w.town.staff[c].number));
    let home_a = format!("{}{}@yahoo.co.jp", ["kazu", "taka", "hiro", "masa"][rng.gen_range(0..4)], rng.gen_range(1960..1999));
    let home_b = format!("{}.{}@gmail.com", ["sakura", "midori", "yuki", "kaori"][rng.gen_range(0..4)], rng.gen_range(10..99));
    let n = w.town.people.len();
    let mut chosen: Vec<NaiveDate> = days.choose_multiple(rng, 21).copied().collect();
    chosen.sort();
    let mut residents = std::collections::BTreeSet::new();
    let mut mails = Vec::new();
    let full = rng.gen_range(7..14);
    for (k, day) in chosen.iter().enumerate() {
        let t = at(*day, rng.gen_range(18 * 60 + 20..20 * 60 + 40));
        let mmdd = day.format("%m%d");
        let pick = |rng: &mut ChaCha8Rng, lo, hi| -> Vec<usize> {
            let mut v: Vec<usize> = (0..rng.gen_range(lo..hi)).map(|_| rng.gen_range(0..n)).collect();
            v.sort();
            v.dedup();
            v
        };
        let (from, to, subject, att) = match k % 3 {
            _ if k == full => {
                let rows: Vec<usize> = (0..n).collect();
                let att = Attachment { name: "住基全件.csv".into(), content: Content::Residents { rows, my_number: true }, form: Form::Zip };
                (addr_b.clone(), home_b.clone(), "自宅作業用", att)
            }
            0 => {
                let att = Attachment { name: format!("住民異動一覧_{mmdd}.csv"), content: Content::Residents { rows: pick(rng, 30, 300), my_number: false }, form: Form::CsvShiftJis };
                (addr_b.clone(), addr_a.clone(), "異動一覧", att)
            }
            1 => {
                let att = Attachment { name: format!("住基抽出_{mmdd}.xlsx"), content: Content::Residents { rows: pick(rng, 100, 800), my_number: k % 2 == 0 }, form: Form::Xlsx };
                (addr_b.clone(), home_b.clone(), "Fw: 抽出", att)
            }
            _ if k == 2 || k == 11 => {
                let att = Attachment { name: "滞納者一覧.xlsx".into(), content: Content::Arrears(pick(rng, 20, 60)), form: Form::Xlsx };
                (addr_c.clone(), addr_a.clone(), "滞納状況", att)
            }
            _ => {
                let att = Attachment { name: format!("一覧_{mmdd}.csv"), content: Content::Residents { rows: pick(rng, 50, 400), my_number: false }, form: Form::CsvUtf8 };
                (addr_a.clone(), home_a.clone(), "Fw: 異動一覧", att)
            }
        };
        match &att.content {
            Content::Residents { rows, .. } | Content::Arrears(rows) => residents.extend(rows.iter().copied()),
            Content::Document(_) | Content::Statistics => {}
        }
        mails.push(new_mail(w, t, from, vec![to], subject, "", vec![att], Some(id)));
    }
    // Midway, A turns off file-system auditing on B's PC.
    let day = chosen[chosen.len() / 2];
    let pc_b = w.town.staff[b].pc.clone();
    w.policy.push(crate::PolicyChange { at: at(day, 18 * 60 + 5), user: format!("e{:04}", w.town.staff[a].number), host: pc_b, reduced: true, incident: Some(id) });
    w.incidents.push(Incident {
        scenario: "S8",
        summary: "住基担当を離れた職員Aへ職員Bが住基抽出をメール送信、両名が自宅アドレスへ住民データを送信（全件1回を含む21通）、Aが税務職員から滞納情報を収集し、Bの端末の監査設定を無効化".into(),
        employees: [a, b, c].iter().map(|&i| w.town.staff[i].id.clone()).collect(),
        residents: residents.iter().map(|&p| w.town.people[p].uid.clone()).collect(),
        mails,
        variant: String::new(),
    });
}

/// S10: an employee seconded from a systems company sends resident extracts, a few
/// thousand rows at a time, to an affiliate of that company.
pub fn inject_s10(rng: &mut ChaCha8Rng, w: &mut World, days: &[NaiveDate], e: usize) {
    let id = w.incidents.len();
    let n = w.town.people.len();
    let from = address(w.town.staff[e].number);
    let to = format!("sales{}@{AFFILIATE}", rng.gen_range(1..9));
    let start = rng.gen_range(0..days.len().saturating_sub(20).max(1));
    let mut residents = std::collections::BTreeSet::new();
    let mut mails = Vec::new();
    for k in 0..3 {
        let day = days[(start + k * 6).min(days.len() - 1)];
        let first = rng.gen_range(0..n);
        let rows: Vec<usize> = (0..rng.gen_range(n / 20..n / 8)).map(|i| (first + i * 3) % n).collect();
        residents.extend(rows.iter().copied());
        let att = Attachment { name: format!("リスト{}.xlsx", k + 1), content: Content::Residents { rows, my_number: false }, form: Form::Xlsx };
        let t = at(day, rng.gen_range(12 * 60 + 5..12 * 60 + 50));
        mails.push(new_mail(w, t, from.clone(), vec![to.clone()], "資料", "", vec![att], Some(id)));
    }
    w.incidents.push(Incident {
        scenario: "S10",
        summary: format!("出向者（{}）が出向元の関連会社へ住民情報 {} 人分を3回に分けてメール送信", DEPARTMENTS[w.town.staff[e].dept].1, residents.len()),
        employees: vec![w.town.staff[e].id.clone()],
        residents: residents.iter().map(|&p| w.town.people[p].uid.clone()).collect(),
        mails,
        variant: String::new(),
    });
}

// ---- writing ----

pub(crate) fn table(town: &Town, content: &Content) -> Vec<Vec<String>> {
    let person = |p: usize| &town.people[p];
    let address = |p: usize| format!("架空県みどり市{}", town.households[person(p).household].address);
    match content {
        Content::Residents { rows, my_number: with_number } => {
            let mut header: Vec<String> = ["宛名番号", "氏名", "カナ氏名", "生年月日", "住所"].map(String::from).to_vec();
            if *with_number {
                header.push("個人番号".into());
            }
            let mut out = vec![header];
            for &p in rows {
                let r = person(p);
                let mut row = vec![r.uid.clone(), r.name.clone(), r.kana.clone(), r.birth.format("%Y/%m/%d").to_string(), address(p)];
                if *with_number {
                    row.push(my_number(p));
                }
                out.push(row);
            }
            out
        }
        Content::Arrears(rows) => {
            let mut out = vec![["宛名番号", "氏名", "住所", "滞納額"].map(String::from).to_vec()];
            for &p in rows {
                out.push(vec![person(p).uid.clone(), person(p).name.clone(), address(p), format!("{}", (p * 3_700) % 400_000 + 12_000)]);
            }
            out
        }
        Content::Document(_) => Vec::new(),
        Content::Statistics => {
            let mut out = vec![["住所（地区）", "世帯数", "人口", "氏名の記載件数", "電話番号の登録件数"].map(String::from).to_vec()];
            let mut totals = [0usize; 4];
            for (d, _) in crate::names::DISTRICTS {
                let people: Vec<&crate::town::Person> = town.people.iter().filter(|p| town.households[p.household].address.starts_with(d)).collect();
                let households = people.iter().map(|p| p.household).collect::<std::collections::BTreeSet<_>>().len();
                let row = [households, people.len(), people.len(), people.len() * 2 / 5];
                totals.iter_mut().zip(row).for_each(|(t, v)| *t += v);
                out.push(std::iter::once(format!("{d}地区")).chain(row.iter().map(|v| v.to_string())).collect());
            }
            out.push(std::iter::once("合計".to_owned()).chain(totals.iter().map(|v| v.to_string())).collect());
            out
        }
    }
}

pub(crate) fn csv(rows: &[Vec<String>]) -> String {
    rows.iter().map(|r| r.join(",") + "\r\n").collect()
}

fn zip_options(t: NaiveDateTime) -> zip::write::SimpleFileOptions {
    let stamp = zip::DateTime::from_date_and_time(t.year() as u16, t.month() as u8, t.day() as u8, 9, 0, 0).unwrap_or_default();
    zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated).last_modified_time(stamp)
}

fn zip_of(files: &[(&str, Vec<u8>)], t: NaiveDateTime) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in files {
        z.start_file(*name, zip_options(t)).expect("a zip entry");
        z.write_all(bytes).expect("writing to memory");
    }
    z.finish().expect("a zip in memory").into_inner()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A minimal workbook as Excel reads it: one sheet of inline strings.
fn xlsx(rows: &[Vec<String>], t: NaiveDateTime) -> Vec<u8> {
    let mut sheet = String::from(r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#);
    for (i, row) in rows.iter().enumerate() {
        let _ = write!(sheet, r#"<row r="{}">"#, i + 1);
        for (j, cell) in row.iter().enumerate() {
            let col = (b'A' + j as u8) as char;
            let _ = write!(sheet, r#"<c r="{col}{}" t="inlineStr"><is><t>{}</t></is></c>"#, i + 1, xml_escape(cell));
        }
        sheet.push_str("</row>");
    }
    sheet.push_str("</sheetData></worksheet>");
    let types = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#;
    let rels = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;
    let workbook = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
    let book_rels = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#;
    zip_of(
        &[
            ("[Content_Types].xml", types.into()),
            ("_rels/.rels", rels.into()),
            ("xl/workbook.xml", workbook.into()),
            ("xl/_rels/workbook.xml.rels", book_rels.into()),
            ("xl/worksheets/sheet1.xml", sheet.into_bytes()),
        ],
        t,
    )
}

/// CRC-32 (IEEE) one byte at a time, as ZipCrypto's key schedule uses it.
fn crc_step(crc: u32, byte: u8) -> u32 {
    let mut c = (crc ^ byte as u32) & 0xff;
    for _ in 0..8 {
        c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
    }
    (crc >> 8) ^ c
}

struct ZipCrypto([u32; 3]);

impl ZipCrypto {
    fn new(password: &[u8]) -> ZipCrypto {
        let mut k = ZipCrypto([0x1234_5678, 0x2345_6789, 0x3456_7890]);
        for &b in password {
            k.update(b);
        }
        k
    }
    fn update(&mut self, plain: u8) {
        self.0[0] = crc_step(self.0[0], plain);
        self.0[1] = self.0[1].wrapping_add(self.0[0] & 0xff).wrapping_mul(134_775_813).wrapping_add(1);
        self.0[2] = crc_step(self.0[2], (self.0[1] >> 24) as u8);
    }
    fn encrypt(&mut self, plain: u8) -> u8 {
        let t = (self.0[2] | 2) & 0xffff;
        let out = plain ^ ((t.wrapping_mul(t ^ 1) >> 8) & 0xff) as u8;
        self.update(plain);
        out
    }
}

/// A one-file zip, stored, encrypted with the traditional PKWARE cipher (ZipCrypto) that
/// Japanese offices' "password zip" tools write. Written by hand because the zip crate
/// draws the 12-byte header from the OS's randomness, and a simulation must be
/// byte-for-byte repeatable; here the header comes from the seed.
fn encrypted_zip(name: &str, data: &[u8], password: &[u8], header_seed: u64) -> Vec<u8> {
    let crc = !data.iter().fold(!0u32, |c, &b| crc_step(c, b));
    let mut header = [0u8; 12];
    ChaCha8Rng::seed_from_u64(header_seed).fill(&mut header[..11]);
    header[11] = (crc >> 24) as u8;
    let mut keys = ZipCrypto::new(password);
    let body: Vec<u8> = header.iter().chain(data).map(|&b| keys.encrypt(b)).collect();
    let flags: u16 = 0x0001 | 0x0800; // encrypted; UTF-8 name
    let (time, date): (u16, u16) = (9 << 11, ((2024 - 1980) << 9) | (1 << 5) | 1);
    let mut out = Vec::new();
    let local = |out: &mut Vec<u8>| {
        out.extend(0x0403_4b50u32.to_le_bytes());
        out.extend(20u16.to_le_bytes());
    };
    local(&mut out);
    for v in [flags, 0, time, date] {
        out.extend(v.to_le_bytes());
    }
    out.extend(crc.to_le_bytes());
    out.extend((body.len() as u32).to_le_bytes());
    out.extend((data.len() as u32).to_le_bytes());
    out.extend((name.len() as u16).to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out.extend(name.as_bytes());
    out.extend(&body);
    let central = out.len() as u32;
    out.extend(0x0201_4b50u32.to_le_bytes());
    for v in [20u16, 20, flags, 0, time, date] {
        out.extend(v.to_le_bytes());
    }
    out.extend(crc.to_le_bytes());
    out.extend((body.len() as u32).to_le_bytes());
    out.extend((data.len() as u32).to_le_bytes());
    for v in [name.len() as u16, 0, 0, 0, 0] {
        out.extend(v.to_le_bytes());
    }
    out.extend(0u32.to_le_bytes()); // external attributes
    out.extend(0u32.to_le_bytes()); // offset of the local header
    out.extend(name.as_bytes());
    let size = out.len() as u32 - central;
    out.extend(0x0605_4b50u32.to_le_bytes());
    for v in [0u16, 0, 1, 1] {
        out.extend(v.to_le_bytes());
    }
    out.extend(size.to_le_bytes());
    out.extend(central.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

/// The attachment's file name and bytes as sent.
fn render(town: &Town, mail: &Mail, a: &Attachment, seq: usize) -> (String, &'static str, Vec<u8>) {
    let rows = table(town, &a.content);
    match a.form {
        Form::CsvShiftJis => (a.name.clone(), "application/vnd.ms-excel", encoding_rs::SHIFT_JIS.encode(&csv(&rows)).0.into_owned()),
        Form::CsvUtf8 => (a.name.clone(), "text/csv", format!("\u{FEFF}{}", csv(&rows)).into_bytes()),
        Form::Xlsx => (a.name.clone(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", xlsx(&rows, mail.at)),
        Form::Zip => {
            let inner = encoding_rs::SHIFT_JIS.encode(&csv(&rows)).0.into_owned();
            (a.name.replace(".csv", ".zip"), "application/zip", zip_of(&[(a.name.as_str(), inner)], mail.at))
        }
        Form::EncryptedZip => {
            let inner = encoding_rs::SHIFT_JIS.encode(&csv(&rows)).0.into_owned();
            (a.name.replace(".csv", ".zip"), "application/zip", encrypted_zip(&a.name, &inner, b"Midori2024", seq as u64))
        }
        Form::Pdf => {
            let n = if let Content::Document(n) = a.content { n } else { 1000 };
            let mut bytes = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
            bytes.extend((0..n).map(|i| ((i * 31 + seq) % 251) as u8));
            bytes.extend(b"\n%%EOF\n");
            (a.name.clone(), "application/pdf", bytes)
        }
    }
}

fn b64_lines(bytes: &[u8]) -> String {
    let text = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(text.len() + text.len() / 76 + 1);
    for chunk in text.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out
}

/// RFC 2047 encoded words, a few characters each so none passes 75 columns.
fn encoded_words(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    chars
        .chunks(12)
        .map(|c| format!("=?UTF-8?B?{}?=", base64::engine::general_purpose::STANDARD.encode(c.iter().collect::<String>())))
        .collect::<Vec<_>>()
        .join("\n ")
}

/// RFC 2231 `filename*=UTF-8''…`.
fn percent(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() || b"._-".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// One message in mbox form (its `From ` line first); `seq` makes boundaries unique.
pub fn mbox_message(town: &Town, mail: &Mail, seq: usize) -> String {
    let utc = mail.at - chrono::Duration::hours(9);
    let mut m = String::new();
    let _ = writeln!(m, "From {} {}", mail.from, utc.format("%a %b %e %H:%M:%S %Y"));
    let _ = writeln!(m, "Return-Path: <{}>", mail.from);
    let _ = writeln!(m, "Message-ID: <{}>", mail.id);
    let _ = writeln!(m, "Date: {} +0900", mail.at.format("%a, %d %b %Y %H:%M:%S"));
    let _ = writeln!(m, "From: <{}>", mail.from);
    let _ = writeln!(m, "To: {}", mail.to.iter().map(|t| format!("<{t}>")).collect::<Vec<_>>().join(", "));
    for (header, list) in [("Cc", &mail.cc), ("Bcc", &mail.bcc)] {
        if !list.is_empty() {
            let _ = writeln!(m, "{header}: {}", list.iter().map(|t| format!("<{t}>")).collect::<Vec<_>>().join(", "));
        }
    }
    let _ = writeln!(m, "Subject: {}", encoded_words(&mail.subject));
    let _ = writeln!(m, "MIME-Version: 1.0");
    let boundary = format!("=_mamori_{seq:07}");
    let _ = writeln!(m, "Content-Type: multipart/mixed; boundary=\"{boundary}\"\n");
    let _ = writeln!(m, "--{boundary}\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: base64\n");
    m.push_str(&b64_lines(mail.body.as_bytes()));
    for a in &mail.attachments {
        let (name, kind, bytes) = render(town, mail, a, seq);
        let _ = writeln!(m, "--{boundary}");
        let _ = writeln!(m, "Content-Type: {kind}; name*=UTF-8''{}", percent(&name));
        let _ = writeln!(m, "Content-Disposition: attachment; filename*=UTF-8''{}", percent(&name));
        let _ = writeln!(m, "Content-Transfer-Encoding: base64\n");
        m.push_str(&b64_lines(&bytes));
    }
    let _ = writeln!(m, "--{boundary}--\n");
    m
}
