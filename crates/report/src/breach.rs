//! Breach sizing and the draft report to the Personal Information Protection Commission
//! (個人情報保護委員会, PPC): from what left (mail attachments, files copied to USB,
//! recovered files, records read), who is affected and with what, whether reporting is
//! mandatory and by when, and the list for notifying each person (本人通知).
//!
//! The rules are those for public bodies (行政機関等, which municipalities are): the Act on
//! the Protection of Personal Information art. 68 and its Enforcement Rules art. 43–45 —
//! reporting is mandatory when sensitive personal information (要配慮個人情報) is involved,
//! when misuse could cause financial harm, when the leak may have been for an improper
//! purpose, or when more than 100 people are affected; a preliminary report (速報) goes
//! promptly (about 3–5 days in the PPC's guidance) and the final report (確報) within 30
//! days of becoming aware, 60 when an improper purpose is suspected. My Number
//! (特定個人情報) falls under the My Number Act art. 29-4, with the same 100-person line.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::Serialize;

/// One way data left, with what inspection found in it.
#[derive(Debug, Clone, Serialize)]
pub struct Exposure {
    /// The stored event it came from, if any (a recovered file has none).
    pub event_id: Option<u64>,
    /// JST `YYYY-MM-DD HH:MM:SS`, or empty.
    pub at: String,
    /// メール, USB, 回収ファイル, 記録閲覧 …
    pub channel: String,
    /// Recipient, device, or host.
    pub to: String,
    /// Attachment or file name.
    pub file: String,
    /// Item codes as the inspector names them (`name`, `address`, `my_number` …).
    pub items: BTreeSet<String>,
    /// 宛名番号 of the residents the content names.
    pub residents: BTreeSet<String>,
    pub rows: u64,
    pub my_numbers: u64,
    /// Why the content could not be read, if it could not: people in it are not counted.
    pub uninspectable: Option<String>,
}

/// A resident as the notice needs them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Person {
    pub uid: String,
    pub name: String,
    pub address: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AffectedPerson {
    pub uid: String,
    pub name: String,
    pub address: String,
    /// Japanese labels of the items of theirs involved.
    pub items: Vec<String>,
    pub channels: Vec<String>,
}

/// What the privacy officer states; the rest is computed.
#[derive(Debug, Clone)]
pub struct BreachFacts {
    pub title: String,
    /// When the body became aware (知った日): the deadlines count from it.
    pub aware: NaiveDate,
    /// Whether the leak may have been for an improper purpose (不正の目的のおそれ).
    pub improper_purpose: bool,
    /// Staff involved, as the finding names them.
    pub employees: Vec<String>,
    /// The finding or case this sizing is for.
    pub source: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Breach {
    pub title: String,
    pub source: String,
    pub aware: String,
    pub improper_purpose: bool,
    pub employees: Vec<String>,
    pub from: String,
    pub to: String,
    /// The number of people affected: unique residents the data that left names.
    pub people: usize,
    pub items: Vec<String>,
    pub my_number: bool,
    pub sensitive: bool,
    /// Why reporting to the PPC is mandatory (empty: it is not, on what is known).
    pub mandatory_because: Vec<String>,
    pub preliminary_due: String,
    pub final_due: String,
    /// Content that could not be inspected: people in it are not counted.
    pub uninspectable: Vec<String>,
    pub exposures: Vec<Exposure>,
    pub affected: Vec<AffectedPerson>,
}

/// The Japanese label of an inspector item code.
pub fn item_label(code: &str) -> &str {
    match code {
        "resident_id" => "宛名番号",
        "name" => "氏名",
        "kana" => "氏名（カナ）",
        "birth_date" => "生年月日",
        "address" => "住所",
        "phone" => "電話番号",
        "my_number" => "個人番号（マイナンバー）",
        "health" => "健康・障害等に関する情報（要配慮個人情報）",
        "record" => "住民記録の内容（閲覧）",
        other => other,
    }
}

const ORDER: [&str; 9] = ["resident_id", "name", "kana", "birth_date", "address", "phone", "my_number", "health", "record"];

fn ordered(items: &BTreeSet<String>) -> Vec<String> {
    let mut v: Vec<&String> = items.iter().collect();
    v.sort_by_key(|i| ORDER.iter().position(|o| o == i).unwrap_or(ORDER.len()));
    v.into_iter().map(|i| item_label(i).to_owned()).collect()
}

impl Breach {
    /// Sizes a breach from its exposures; `people` gives each resident's name and present
    /// address for the notice (a resident not found keeps only their 宛名番号).
    pub fn size(facts: &BreachFacts, exposures: Vec<Exposure>, people: &BTreeMap<String, Person>) -> Breach {
        let mut per: BTreeMap<&str, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
        let mut items = BTreeSet::new();
        let mut uninspectable = Vec::new();
        for e in &exposures {
            items.extend(e.items.iter().cloned());
            if let Some(why) = &e.uninspectable {
                uninspectable.push(format!("{} {}（{}）: {why}", e.channel, e.file, e.at));
            }
            for r in &e.residents {
                let entry = per.entry(r.as_str()).or_default();
                entry.0.extend(e.items.iter().cloned());
                entry.1.insert(e.channel.clone());
            }
        }
        let affected: Vec<AffectedPerson> = per
            .iter()
            .map(|(uid, (items, channels))| {
                let p = people.get(*uid).cloned().unwrap_or_default();
                AffectedPerson { uid: (*uid).to_owned(), name: p.name, address: p.address, items: ordered(items), channels: channels.iter().cloned().collect() }
            })
            .collect();
        let my_number = items.contains("my_number");
        let sensitive = items.contains("health");
        let n = affected.len();
        let mut mandatory_because = Vec::new();
        if sensitive {
            mandatory_because.push("要配慮個人情報が含まれる（施行規則第43条第1号）".to_owned());
        }
        if facts.improper_purpose {
            mandatory_because.push("不正の目的をもって行われたおそれがある（施行規則第43条第3号）".to_owned());
        }
        if n > 100 {
            mandatory_because.push(format!("本人の数が100人を超える（{n}人、施行規則第43条第4号）"));
        }
        if my_number && (n > 100 || facts.improper_purpose) {
            mandatory_because.push("特定個人情報（個人番号）の漏えい等で、番号法第29条の4による報告対象".to_owned());
        }
        let day = |d: i64| (facts.aware + chrono::Days::new(d as u64)).format("%Y-%m-%d").to_string();
        let times: Vec<&String> = exposures.iter().map(|e| &e.at).filter(|t| !t.is_empty()).collect();
        Breach {
            title: facts.title.clone(),
            source: facts.source.clone(),
            aware: facts.aware.format("%Y-%m-%d").to_string(),
            improper_purpose: facts.improper_purpose,
            employees: facts.employees.clone(),
            from: times.iter().min().map(|s| s.to_string()).unwrap_or_default(),
            to: times.iter().max().map(|s| s.to_string()).unwrap_or_default(),
            people: n,
            items: ordered(&items),
            my_number,
            sensitive,
            mandatory_because,
            preliminary_due: format!("{}〜{}", day(3), day(5)),
            final_due: day(if facts.improper_purpose { 60 } else { 30 }),
            uninspectable,
            exposures,
            affected,
        }
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a breach serialises")
    }

    /// The notice list (本人通知) in UTF-8 with a BOM: one row per person.
    pub fn notice_csv(&self) -> Vec<u8> {
        let cell = crate::csv_cell;
        let mut out = String::from("\u{FEFF}宛名番号,氏名,住所,漏えい等した項目,経路\r\n");
        for p in &self.affected {
            let cells = [p.uid.as_str(), &p.name, &p.address, &p.items.join("・"), &p.channels.join("・")];
            out.push_str(&cells.iter().map(|c| cell(c)).collect::<Vec<_>>().join(","));
            out.push_str("\r\n");
        }
        out.into_bytes()
    }

    /// The draft report in Japanese, following the items of the PPC's form.
    pub fn html(&self) -> String {
        let esc = crate::esc;
        let mandatory = if self.mandatory_because.is_empty() {
            "<p>現時点で把握している事実では、報告義務の要件（要配慮個人情報、財産的被害のおそれ、不正の目的のおそれ、本人の数が100人超）に該当しません。財産的被害のおそれ（口座番号・カード番号等）の有無は別途確認してください。</p>".to_owned()
        } else {
            format!(
                "<p><strong>個人情報保護委員会への報告と本人への通知が必要です。</strong>該当する要件:</p><ul>{}</ul>",
                self.mandatory_because.iter().map(|m| format!("<li>{}</li>", esc(m))).collect::<String>()
            )
        };
        let mut rows = String::new();
        for e in &self.exposures {
            rows.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"id\">{}</td></tr>\n",
                esc(&e.at),
                esc(&e.channel),
                esc(&e.to),
                esc(&e.file),
                e.residents.len(),
                e.my_numbers,
                esc(&e.uninspectable.clone().unwrap_or_default()),
                e.event_id.map(|i| i.to_string()).unwrap_or_default()
            ));
        }
        let blank = "<span class=\"fill\">（記入）</span>";
        format!(
            r#"<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="utf-8">
<title>漏えい等報告（案） {title}</title>
<style>
@page {{ size: A4; margin: 18mm 12mm 16mm 12mm;
  @top-right {{ content: "漏えい等報告（案）"; font-size: 8pt; }}
  @bottom-center {{ content: counter(page) " / " counter(pages); font-size: 8pt; }} }}
body {{ font-family: "Noto Sans CJK JP", "IPAexGothic", sans-serif; font-size: 9.5pt; }}
h1 {{ font-size: 14pt; }} h2 {{ font-size: 11pt; border-bottom: 1px solid #888; }}
table {{ width: 100%; border-collapse: collapse; table-layout: fixed; }}
thead {{ display: table-header-group; }}
tr {{ break-inside: avoid; }}
th, td {{ border: 1px solid #888; padding: 2px 3px; vertical-align: top; overflow-wrap: anywhere; }}
th {{ background: #eee; }}
td.n, td.id {{ text-align: right; }}
.fill {{ color: #a00; }}
.due {{ border: 2px solid #a00; padding: 4px 8px; }}
</style>
</head>
<body>
<h1>個人情報の漏えい等に関する報告（案）</h1>
<p>件名: <strong class="title">{title}</strong><br>根拠: {source}<br>発覚日（知った日）: {aware}</p>
<div class="due">
{mandatory}
<p>速報: 速やかに（目安 {preliminary}）<br>確報: {final_due} まで（発覚日から{final_days}日以内、土日祝日を含む）</p>
</div>
<h2>1. 概要</h2>
<p>{from} から {to} までの間に、下表の経路で個人データが流出し、又は流出したおそれがあります。関係職員: {employees}。{blank}</p>
<h2>2. 漏えい等が発生し、又は発生したおそれがある保有個人情報の項目</h2>
<p class="items">{items}</p>
<p>要配慮個人情報: {sensitive}　個人番号（特定個人情報）: {my_number}</p>
<h2>3. 本人の数</h2>
<p><strong class="people">{people}</strong> 人（流出したデータに含まれる宛名番号等から重複を除いて特定した人数）{uninspectable}</p>
<h2>4. 原因</h2>
<p>{cause}{blank}</p>
<h2>5. 二次被害又はそのおそれの有無及びその内容</h2>
<p>{blank}</p>
<h2>6. 本人への対応の実施状況</h2>
<p>本人通知の対象者一覧（{people} 人）を別紙 CSV で作成済み。{blank}</p>
<h2>7. 公表の実施状況</h2>
<p>{blank}</p>
<h2>8. 再発防止のための措置</h2>
<p>{blank}</p>
<h2>9. その他参考となる事項</h2>
<p>この案は mamori が改ざん検知ログの記録から作成しました。各経路の記録番号は、署名付きチェックポイントに対する包含証明で検証できます。</p>
<h2>別表: 流出経路</h2>
<table>
<thead><tr><th style="width:15%">日時</th><th style="width:9%">経路</th><th style="width:20%">送信先・媒体</th><th style="width:20%">ファイル</th><th style="width:8%">人数</th><th style="width:8%">個人番号</th><th style="width:12%">検査不能</th><th style="width:8%">記録番号</th></tr></thead>
<tbody>
{rows}</tbody>
</table>
</body>
</html>
"#,
            title = esc(&self.title),
            source = esc(&self.source),
            aware = esc(&self.aware),
            mandatory = mandatory,
            preliminary = esc(&self.preliminary_due),
            final_due = esc(&self.final_due),
            final_days = if self.improper_purpose { 60 } else { 30 },
            from = esc(&self.from),
            to = esc(&self.to),
            employees = esc(&self.employees.join("、")),
            items = esc(&self.items.join("、")),
            sensitive = if self.sensitive { "含む" } else { "含まない（検査した範囲）" },
            my_number = if self.my_number { "含む" } else { "含まない（検査した範囲）" },
            people = self.people,
            uninspectable = if self.uninspectable.is_empty() {
                String::new()
            } else {
                format!("<br>ほかに中身を検査できなかったファイルが {} 件あり、その分の人数は含みません。", self.uninspectable.len())
            },
            cause = if self.improper_purpose { "職員による持ち出し（不正の目的のおそれ）。" } else { "" },
            blank = blank,
            rows = rows,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exposure(residents: &[&str], items: &[&str], my_numbers: u64) -> Exposure {
        Exposure {
            event_id: Some(1),
            at: "2024-05-08 19:00:00".into(),
            channel: "メール".into(),
            to: "x@gmail.com".into(),
            file: "一覧.csv".into(),
            items: items.iter().map(|s| s.to_string()).collect(),
            residents: residents.iter().map(|s| s.to_string()).collect(),
            rows: residents.len() as u64,
            my_numbers,
            uninspectable: None,
        }
    }

    fn facts(improper: bool) -> BreachFacts {
        BreachFacts { title: "t".into(), aware: NaiveDate::from_ymd_opt(2024, 6, 3).unwrap(), improper_purpose: improper, employees: vec!["E1".into()], source: "f".into() }
    }

    #[test]
    fn people_are_counted_once_across_exposures_with_the_union_of_their_items() {
        let b = Breach::size(&facts(false), vec![exposure(&["A", "B"], &["name"], 0), exposure(&["B", "C"], &["address"], 0)], &BTreeMap::new());
        assert_eq!(b.people, 3);
        let bee = b.affected.iter().find(|p| p.uid == "B").unwrap();
        assert_eq!(bee.items, ["氏名", "住所"]);
        assert!(b.mandatory_because.is_empty(), "3 people, no sensitive data, no improper purpose");
        assert_eq!((b.preliminary_due.as_str(), b.final_due.as_str()), ("2024-06-06〜2024-06-08", "2024-07-03"));
    }

    #[test]
    fn more_than_100_people_or_an_improper_purpose_makes_reporting_mandatory_and_improper_purpose_gives_60_days() {
        let many: Vec<String> = (0..101).map(|i| format!("R{i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let b = Breach::size(&facts(false), vec![exposure(&refs, &["name", "my_number"], 101)], &BTreeMap::new());
        assert_eq!(b.mandatory_because.len(), 2, "{:?}", b.mandatory_because);
        assert!(b.mandatory_because[1].contains("番号法"));
        let b = Breach::size(&facts(true), vec![exposure(&["A"], &["health"], 0)], &BTreeMap::new());
        assert!(b.sensitive && b.mandatory_because.len() == 2);
        assert_eq!(b.final_due, "2024-08-02");
    }

    #[test]
    fn the_notice_list_is_one_row_per_person_with_name_address_and_items() {
        let people = BTreeMap::from([("A".to_owned(), Person { uid: "A".into(), name: "佐藤 一".into(), address: "北町1-1, 2F".into() })]);
        let b = Breach::size(&facts(false), vec![exposure(&["A"], &["name", "birth_date"], 0)], &people);
        let csv = String::from_utf8(b.notice_csv()).unwrap();
        assert_eq!(csv, "\u{FEFF}宛名番号,氏名,住所,漏えい等した項目,経路\r\nA,佐藤 一,\"北町1-1, 2F\",氏名・生年月日,メール\r\n");
        let html = b.html();
        assert!(html.contains("<strong class=\"people\">1</strong>") && html.contains("氏名、生年月日"));
    }
}
