//! Supervisor review sheets (アクセスログ点検): per department and month, every access of
//! its staff that has no business on file, and a reproducible risk-weighted sample of the
//! rest, for the manager to mark 業務 / 業務外 / 確認 and sign off.

use serde::Serialize;

use crate::{Table, esc};

/// The marks a reviewer may give a row.
pub const MARKS: [&str; 3] = ["業務", "業務外", "確認"];

#[derive(Debug, Clone, Serialize)]
pub struct ReviewRow {
    pub event_id: u64,
    /// JST `YYYY-MM-DD HH:MM:SS`.
    pub at: String,
    pub employee: String,
    pub employee_name: String,
    pub system: String,
    pub operation: String,
    pub resident: String,
    pub explanation: String,
    pub explained: bool,
    /// Why the row is on the sheet: no business on file, or drawn (with its weight).
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReviewSheet {
    pub department: String,
    pub department_name: String,
    /// `YYYY-MM`.
    pub month: String,
    /// The seed of the sample: the same seed draws the same rows.
    pub seed: u64,
    /// Record accesses by the department's staff that month.
    pub population: usize,
    pub unexplained: usize,
    pub sampled: usize,
    pub issued: String,
    pub rows: Vec<ReviewRow>,
}

pub const REVIEW_HEADER: [&str; 11] = ["記録番号", "日時", "職員", "氏名", "システム", "操作", "宛名番号", "業務上の根拠", "抽出理由", "判定", "備考"];

impl Table for ReviewSheet {
    const HEADER: &'static [&'static str] = &REVIEW_HEADER;

    /// The rows with 判定 and 備考 empty, for the manager to fill in.
    fn rows(&self) -> Vec<Vec<String>> {
        self.rows
            .iter()
            .map(|r| {
                let cells = [r.event_id.to_string(), r.at.clone(), r.employee.clone(), r.employee_name.clone(), r.system.clone(), r.operation.clone()];
                cells.into_iter().chain([r.resident.clone(), r.explanation.clone(), r.reason.clone(), String::new(), String::new()]).collect()
            })
            .collect()
    }
}

impl ReviewSheet {
    /// `D300/2024-03`: how sign-offs name the sheet.
    pub fn id(&self) -> String {
        format!("{}/{}", self.department, self.month)
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a sheet serialises")
    }

    /// A printable A4 sheet with a box per row to tick and a sign-off block.
    pub fn html(&self) -> String {
        let mut rows = String::new();
        for r in &self.rows {
            rows.push_str(&format!(
                "<tr class=\"{}\"><td class=\"id\">{}</td><td>{}</td><td>{}<br>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"mark\">□業務 □業務外 □確認</td></tr>\n",
                if r.explained { "ok" } else { "none" },
                r.event_id,
                esc(&r.at),
                esc(&r.employee_name),
                esc(&r.employee),
                esc(&r.system),
                esc(&r.operation),
                esc(&r.resident),
                esc(&r.explanation),
                esc(&r.reason),
            ));
        }
        format!(
            r#"<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="utf-8">
<title>アクセスログ点検票 {dept} {month}</title>
<style>
@page {{ size: A4 landscape; margin: 14mm 10mm 14mm 10mm;
  @top-right {{ content: "アクセスログ点検票 {dept_tag} {month}"; font-size: 8pt; }}
  @bottom-center {{ content: counter(page) " / " counter(pages); font-size: 8pt; }} }}
body {{ font-family: "Noto Sans CJK JP", "IPAexGothic", sans-serif; font-size: 8.5pt; }}
h1 {{ font-size: 13pt; }}
table {{ width: 100%; border-collapse: collapse; table-layout: fixed; }}
thead {{ display: table-header-group; }}
tr {{ break-inside: avoid; }}
th, td {{ border: 1px solid #888; padding: 2px 3px; vertical-align: top; overflow-wrap: anywhere; }}
th {{ background: #eee; }}
tr.none td {{ background: #fff3f3; }}
td.id {{ text-align: right; }}
.sign {{ margin-top: 8mm; border: 1px solid #333; padding: 4mm; width: 60%; break-inside: avoid; }}
</style>
</head>
<body>
<h1>アクセスログ点検票</h1>
<p>所属: <strong class="department">{dept_name}（{dept}）</strong>　対象月: <strong>{month}</strong>　作成日: {issued}<br>
当月の照会 {population} 件のうち、業務記録の見当たらないもの {unexplained} 件（全件）と、業務記録のあるものから無作為抽出した {sampled} 件（時間外・休日・要注意者の照会ほど選ばれやすい重み付き抽出、抽出の種 <span class="seed">{seed}</span>）です。各行について「業務」「業務外」「確認（本人に確認する）」のいずれかを記入してください。</p>
<table>
<colgroup><col style="width:7%"><col style="width:11%"><col style="width:11%"><col style="width:9%"><col style="width:8%"><col style="width:9%"><col style="width:16%"><col style="width:13%"><col style="width:16%"></colgroup>
<thead><tr><th>記録番号</th><th>日時</th><th>職員</th><th>システム</th><th>操作</th><th>宛名番号</th><th>業務上の根拠</th><th>抽出理由</th><th>判定</th></tr></thead>
<tbody>
{rows}</tbody>
</table>
<div class="sign">点検者（所属長）: ＿＿＿＿＿＿＿＿＿＿　点検日: ＿＿＿＿年＿＿月＿＿日　印<br><br>
記入した点検票は <code>mamori review signoff --department {dept} --month {month} --reviewer 氏名 --marks 点検票.csv</code> で登録します（登録は改ざん検知ログに記録されます）。</div>
</body>
</html>
"#,
            dept = esc(&self.department),
            dept_tag = esc(&self.department).replace('"', ""),
            dept_name = esc(&self.department_name),
            month = esc(&self.month),
            issued = esc(&self.issued),
            population = self.population,
            unexplained = self.unexplained,
            sampled = self.sampled,
            seed = self.seed,
            rows = rows,
        )
    }
}
