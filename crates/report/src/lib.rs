//! Reports people read: the access-history disclosure (開示請求), the answer to a
//! resident who asks who looked at their records — the request that brought two of the
//! seed incidents to light, answered by hand after months; and breach sizing with the
//! draft report to the PPC and the notice list ([`breach`]).
//!
//! This crate turns rows already gathered (from the index, with explanations and proofs)
//! into documents: printable Japanese HTML (A4, page numbers), CSV (UTF-8 with BOM, or
//! Shift_JIS for Excel users) and JSON. It does no I/O and no querying.

use serde::Serialize;

pub mod breach;
pub mod review;
pub use breach::{Breach, BreachFacts, Exposure, Person};
pub use review::{ReviewRow, ReviewSheet};

/// How operators are named in a disclosure: staff identities may be non-disclosable, so
/// this is the privacy officer's setting, not the report's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OperatorPolicy {
    /// The employee's name.
    Name,
    /// The operator number the system logged.
    Number,
    /// Not disclosed (職員).
    Withheld,
}

/// One access to the resident's records.
#[derive(Debug, Clone, Serialize)]
pub struct DisclosureEntry {
    /// Event id in the log (its leaf index).
    pub event_id: u64,
    /// JST, `YYYY-MM-DD HH:MM:SS`.
    pub at: String,
    pub system: String,
    pub record_type: String,
    pub operation: String,
    pub department: String,
    /// As the policy allows.
    pub operator: String,
    /// The business behind the access, or 業務記録なし.
    pub explanation: String,
    pub explained: bool,
    /// SHA-256(0x00‖event), hex.
    pub leaf_hash: String,
    /// RFC 6962 audit path to the checkpoint, hex.
    pub proof: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Disclosure {
    pub request_no: String,
    pub resident: String,
    /// The resident's name as registered, shown on the cover.
    pub resident_name: String,
    pub from: String,
    pub to: String,
    pub issued: String,
    pub operator_policy: OperatorPolicy,
    /// The signed checkpoint every entry's proof leads to.
    pub checkpoint: String,
    pub entries: Vec<DisclosureEntry>,
}

const CSV_HEADER: [&str; 9] = ["日時", "システム", "記録の種類", "操作", "所属", "操作者", "業務上の根拠", "根拠の有無", "記録番号"];

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A table of accesses as CSV text (CRLF, quoted where needed).
fn csv_text(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = header.join(",") + "\r\n";
    for cells in rows {
        out.push_str(&cells.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

/// CSV in UTF-8 with a byte-order mark (Excel recognises it).
fn utf8_with_bom(text: &str) -> Vec<u8> {
    let mut out = "\u{FEFF}".as_bytes().to_vec();
    out.extend(text.as_bytes());
    out
}

/// CSV in Shift_JIS (CP932), for older Excel. Characters outside it would become `?`, a
/// silent change, so they are refused: the caller falls back to UTF-8.
fn shift_jis(text: &str) -> Result<Vec<u8>, String> {
    let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(text);
    if unmappable {
        return Err("the report has characters Shift_JIS cannot hold; use the UTF-8 CSV".into());
    }
    Ok(bytes.into_owned())
}

/// A report that is a table: its CSV forms come from its header and rows.
pub trait Table {
    const HEADER: &'static [&'static str];

    /// The rows, cells as they are printed.
    fn rows(&self) -> Vec<Vec<String>>;

    /// CSV in UTF-8 with a byte-order mark (Excel recognises it).
    fn csv_utf8(&self) -> Vec<u8> {
        utf8_with_bom(&csv_text(Self::HEADER, &self.rows()))
    }

    /// CSV in Shift_JIS (CP932), for older Excel; refused rather than garbled.
    fn csv_shift_jis(&self) -> Result<Vec<u8>, String> {
        shift_jis(&csv_text(Self::HEADER, &self.rows()))
    }
}

/// A printable A4 page of accesses: `tag` on every page's top, page numbers, the table
/// header repeated on every page, unexplained rows shaded, no clipped columns.
struct Page<'a> {
    title: String,
    tag: String,
    intro: String,
    /// (header, width in percent).
    columns: &'a [(&'a str, u8)],
    /// (explained, cells).
    rows: Vec<(bool, Vec<String>)>,
    checkpoint: &'a str,
}

impl Page<'_> {
    fn html(&self) -> String {
        let cols: String = self.columns.iter().map(|(_, w)| format!("<col style=\"width: {w}%\">")).collect();
        let heads: String = self.columns.iter().map(|(h, _)| format!("<th>{h}</th>")).collect();
        let mut rows = String::new();
        for (explained, cells) in &self.rows {
            rows.push_str(&format!("<tr class=\"{}\">", if *explained { "ok" } else { "none" }));
            let last = cells.len().saturating_sub(1);
            for (i, c) in cells.iter().enumerate() {
                rows.push_str(&if i == last { format!("<td class=\"id\">{}</td>", esc(c)) } else { format!("<td>{}</td>", esc(c)) });
            }
            rows.push_str("</tr>\n");
        }
        format!(
            r#"<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
@page {{ size: A4; margin: 18mm 12mm 16mm 12mm;
  @top-right {{ content: "{tag}"; font-size: 8pt; }}
  @bottom-center {{ content: counter(page) " / " counter(pages); font-size: 8pt; }} }}
body {{ font-family: "Noto Sans CJK JP", "IPAexGothic", sans-serif; font-size: 9pt; }}
h1 {{ font-size: 14pt; }}
table {{ width: 100%; border-collapse: collapse; table-layout: fixed; }}
thead {{ display: table-header-group; }}
tr {{ break-inside: avoid; }}
th, td {{ border: 1px solid #888; padding: 2px 3px; vertical-align: top; overflow-wrap: anywhere; }}
th {{ background: #eee; }}
td.id {{ text-align: right; }}
tr.none td {{ background: #fff3f3; }}
.note {{ font-size: 8pt; color: #333; }}
pre {{ white-space: pre-wrap; overflow-wrap: anywhere; font-size: 7pt; }}
</style>
</head>
<body>
<h1>{title}</h1>
{intro}
<table>
<colgroup>{cols}</colgroup>
<thead><tr>{heads}</tr></thead>
<tbody>
{rows}</tbody>
</table>
<h2>記録の真正性について</h2>
<p class="note">各行の「記録番号」は改ざん検知ログ上の番号です。この文書に含まれる各記録は、下記の署名付きチェックポイントに含まれることを証明できます（各記録の包含証明は JSON 版に添付）。チェックポイントは自治体が公開する公開鍵で検証できます。</p>
<pre>{checkpoint}</pre>
</body>
</html>
"#,
            title = esc(&self.title),
            tag = esc(&self.tag).replace('"', ""),
            intro = self.intro,
            checkpoint = esc(self.checkpoint),
        )
    }
}

impl Table for Disclosure {
    const HEADER: &'static [&'static str] = &CSV_HEADER;

    fn rows(&self) -> Vec<Vec<String>> {
        self.entries
            .iter()
            .map(|e| {
                let (who, where_) = (e.department.clone(), e.operator.clone());
                access_row(&e.at, &e.system, &e.record_type, &e.operation, who, where_, &e.explanation, e.explained, e.event_id)
            })
            .collect()
    }
}

/// One access as a table row: when, which system and record, what, two columns that
/// differ by report, the business behind it, whether there was one, and its id.
#[allow(clippy::too_many_arguments)]
fn access_row(at: &str, system: &str, record: &str, op: &str, a: String, b: String, why: &str, explained: bool, id: u64) -> Vec<String> {
    vec![at.into(), system.into(), record.into(), op.into(), a, b, why.into(), if explained { "あり" } else { "なし" }.into(), id.to_string()]
}

impl Disclosure {
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a disclosure serialises")
    }

    /// Printable HTML in Japanese: A4, a header with the request number and period on
    /// every page, page numbers, the table repeated over pages, no clipped columns.
    pub fn html(&self) -> String {
        let unexplained = self.entries.iter().filter(|e| !e.explained).count();
        let policy = match self.operator_policy {
            OperatorPolicy::Name => "氏名を表示",
            OperatorPolicy::Number => "操作者番号を表示",
            OperatorPolicy::Withheld => "非開示（職員）",
        };
        let intro = format!(
            "<p>開示請求番号: <strong class=\"request\">{request}</strong><br>\n対象者: {name}（宛名番号 {resident}）<br>\n対象期間: {from} 〜 {to}<br>\n作成日: {issued}<br>\n操作者の表示: {policy}</p>\n<p>対象期間中の記録は {n} 件です。うち {unexplained} 件は、対応する申請・来庁・案件の記録が見つかりませんでした（「業務記録なし」）。</p>",
            request = esc(&self.request_no),
            name = esc(&self.resident_name),
            resident = esc(&self.resident),
            from = esc(&self.from),
            to = esc(&self.to),
            issued = esc(&self.issued),
            n = self.entries.len(),
        );
        let rows = self.rows().into_iter().zip(&self.entries).map(|(mut r, e)| {
            r.remove(7);
            (e.explained, r)
        });
        Page {
            title: format!("個人情報の利用記録（アクセス履歴）の開示 {}", self.request_no),
            tag: format!("開示請求番号 {}", self.request_no),
            intro,
            columns: &[("日時", 15), ("システム", 10), ("記録の種類", 10), ("操作", 10), ("所属", 10), ("操作者", 11), ("業務上の根拠", 26), ("記録番号", 8)],
            rows: rows.collect(),
            checkpoint: &self.checkpoint,
        }
        .html()
    }
}

/// One access by the employee under review.
#[derive(Debug, Clone, Serialize)]
pub struct BackSearchEntry {
    pub event_id: u64,
    /// JST, `YYYY-MM-DD HH:MM:SS`.
    pub at: String,
    pub system: String,
    pub record_type: String,
    pub operation: String,
    /// 宛名番号 of the resident whose record was accessed.
    pub resident: String,
    /// The terminal it was made from.
    pub host: String,
    pub explanation: String,
    pub explained: bool,
    pub leaf_hash: String,
    pub proof: Vec<String>,
}

/// Every record access of one employee in a period, with the business behind each or
/// none: the back-search the Osaka releases describe doing by hand once one misuse is
/// found.
#[derive(Debug, Clone, Serialize)]
pub struct BackSearch {
    pub employee: String,
    pub employee_name: String,
    /// The accounts searched (one per system).
    pub accounts: Vec<String>,
    pub from: String,
    pub to: String,
    pub issued: String,
    pub checkpoint: String,
    pub entries: Vec<BackSearchEntry>,
}

const BACK_SEARCH_HEADER: [&str; 9] = ["日時", "システム", "記録の種類", "操作", "宛名番号", "端末", "業務上の根拠", "根拠の有無", "記録番号"];

impl Table for BackSearch {
    const HEADER: &'static [&'static str] = &BACK_SEARCH_HEADER;

    fn rows(&self) -> Vec<Vec<String>> {
        self.entries
            .iter()
            .map(|e| access_row(&e.at, &e.system, &e.record_type, &e.operation, e.resident.clone(), e.host.clone(), &e.explanation, e.explained, e.event_id))
            .collect()
    }
}

impl BackSearch {
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a back-search serialises")
    }

    pub fn html(&self) -> String {
        let unexplained = self.entries.iter().filter(|e| !e.explained).count();
        let residents: std::collections::BTreeSet<&str> = self.entries.iter().filter(|e| !e.explained).map(|e| e.resident.as_str()).collect();
        let intro = format!(
            "<p>職員: <strong class=\"employee\">{name}（{id}）</strong><br>\n対象アカウント: {accounts}<br>\n対象期間: {from} 〜 {to}<br>\n作成日: {issued}</p>\n<p>対象期間中の照会は {n} 件です。うち {unexplained} 件（住民 {people} 人）は、対応する申請・来庁・案件の記録が見つかりませんでした（「業務記録なし」）。</p>",
            name = esc(&self.employee_name),
            id = esc(&self.employee),
            accounts = esc(&self.accounts.join("、")),
            from = esc(&self.from),
            to = esc(&self.to),
            issued = esc(&self.issued),
            n = self.entries.len(),
            people = residents.len(),
        );
        let rows = self.rows().into_iter().zip(&self.entries).map(|(mut r, e)| {
            r.remove(7);
            (e.explained, r)
        });
        Page {
            title: format!("職員のアクセス記録の遡及調査 {}", self.employee),
            tag: format!("遡及調査 {}", self.employee),
            intro,
            columns: &[("日時", 15), ("システム", 10), ("記録の種類", 10), ("操作", 9), ("宛名番号", 11), ("端末", 12), ("業務上の根拠", 25), ("記録番号", 8)],
            rows: rows.collect(),
            checkpoint: &self.checkpoint,
        }
        .html()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Disclosure {
        let entry = |id, at: &str, explained: bool| DisclosureEntry {
            event_id: id,
            at: at.into(),
            system: "住民基本台帳".into(),
            record_type: "住民票".into(),
            operation: "照会".into(),
            department: "福祉課".into(),
            operator: "職員".into(),
            explanation: if explained { "来庁記録 V-0000001".into() } else { "業務記録なし".into() },
            explained,
            leaf_hash: "00".repeat(32),
            proof: vec![],
        };
        Disclosure {
            request_no: "R6-開示-0012".into(),
            resident: "000000305".into(),
            resident_name: "佐藤 一".into(),
            from: "2024-01-01".into(),
            to: "2024-12-31".into(),
            issued: "2024-06-01".into(),
            operator_policy: OperatorPolicy::Withheld,
            checkpoint: "mamori.example/town\n3\nAAAA=\n".into(),
            entries: vec![entry(7, "2024-05-08 10:03:12", true), entry(9, "2024-05-09 12:00:00", false)],
        }
    }

    #[test]
    fn csv_is_exactly_the_documented_columns_in_utf8_with_bom_and_in_shift_jis() {
        let d = sample();
        let expected = "\u{FEFF}日時,システム,記録の種類,操作,所属,操作者,業務上の根拠,根拠の有無,記録番号\r\n\
            2024-05-08 10:03:12,住民基本台帳,住民票,照会,福祉課,職員,来庁記録 V-0000001,あり,7\r\n\
            2024-05-09 12:00:00,住民基本台帳,住民票,照会,福祉課,職員,業務記録なし,なし,9\r\n";
        assert_eq!(String::from_utf8(d.csv_utf8()).unwrap(), expected);
        let sjis = d.csv_shift_jis().unwrap();
        let (back, _, errors) = encoding_rs::SHIFT_JIS.decode(&sjis);
        assert!(!errors);
        assert_eq!(back, &expected['\u{FEFF}'.len_utf8()..]);
    }

    #[test]
    fn html_names_the_request_marks_unexplained_rows_and_escapes() {
        let mut d = sample();
        d.entries[0].department = "<script>".into();
        let html = d.html();
        assert!(html.contains("<strong class=\"request\">R6-開示-0012</strong>"));
        assert!(html.contains("counter(page)"), "page numbers");
        assert!(html.contains("display: table-header-group"), "the header repeats on every page");
        assert_eq!(html.matches("<tr class=\"none\">").count(), 1);
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"));
        assert!(html.contains("うち 1 件は、対応する申請・来庁・案件の記録が見つかりませんでした"));
    }
}
