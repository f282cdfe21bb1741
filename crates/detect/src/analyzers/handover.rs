//! S9 (Kamaishi): a folder opened to everyone for a few days at fiscal year-end for the
//! handover, read by someone outside its need. Its sub-folders are sections; those handing
//! over and taking over are the sections one leaves and joins (the postings before and
//! after the window), and anyone else reading a section's folder is outside their need.

use mamori_model::{ClassUid, Severity};
use serde::Deserialize;

use super::{Analyzer, Registration, settings};
use crate::findings::{Findings, Note, Rule, Rollup};
use crate::observe::{Context, Observation};

pub const REGISTRATION: Registration = Registration { section: "handover", build, rules: RULES };

const RULES: &[Rule] = &[Rule {
    id: "broad_access_outside_need",
    ja: "一時開放フォルダの必要外の閲覧",
    en: "A folder temporarily open to all read outside one's need",
    incident: "S9",
    describe,
}];

fn describe(r: &Rollup) -> (String, String) {
    (
        format!("職員 {} が、全職員に一時開放された引継ぎフォルダで、自分の異動元・異動先ではない課のファイルを開きました（{}）。", r.employee, r.details()),
        format!("Employee {} opened files of sections they neither leave nor join in a handover folder temporarily open to all.", r.employee),
    )
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {}

struct Handover;

fn build(v: toml::Value) -> Result<Box<dyn Analyzer>, String> {
    let _: Settings = settings(v)?;
    Ok(Box::new(Handover))
}

impl Analyzer for Handover {
    fn classes(&self) -> &'static [ClassUid] {
        &[ClassUid::FileSystemActivity]
    }

    fn observe(&mut self, o: &Observation, cx: &Context, out: &mut Findings) {
        let Some(share) = o.event.unmapped.share.as_deref() else { return };
        // An ACL change is an administrator's act, not a read.
        if o.event.activity_id == 7 {
            return;
        }
        let Some(window) = cx.dir.open_to_all(share, o.day) else { return };
        let Some(employee) = o.actor.employee.as_deref() else { return };
        let folder = o.event.file.as_ref().and_then(|f| f.path.split(['/', '\\']).find(|p| !p.is_empty())).unwrap_or("");
        let before = cx.dir.posting(employee, window.from).map(|p| p.0);
        let after = cx.dir.posting(employee, window.to.unwrap_or(o.day)).map(|p| p.0);
        if !folder.is_empty() && Some(folder) != before && Some(folder) != after {
            let r = out.note(Note::of(o, RULES[0].id, Severity::High, employee).detail(format!("{share}/{folder}")));
            if let Some(file) = &o.event.file {
                r.add_file(&file.path);
            }
        }
    }

    fn save(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    fn restore(&mut self, _: serde_json::Value) -> Result<(), String> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::*;

    #[test]
    fn s9_handover_files_of_other_sections_are_flagged_and_ones_own_succession_is_not() {
        // E3 moves from 戸籍係 (D110) to 福祉課 (D300) on 1 April: both folders are theirs to
        // read. E1 stays in 福祉課: D300 is theirs, 人事 (D400) is not.
        let f = run(&[
            handover_open("e3", "D110/引継書_001.docx", "2024-03-28T10:00:00"),
            handover_open("e3", "D300/引継書_002.docx", "2024-03-28T10:05:00"),
            handover_open("e1", "D300/引継書_002.docx", "2024-03-28T11:00:00"),
            handover_open("e1", "D400/引継書_009.docx", "2024-03-28T11:05:00"),
        ]);
        assert_eq!(rules(&f), [("broad_access_outside_need", "E1", 1)]);
    }
}
