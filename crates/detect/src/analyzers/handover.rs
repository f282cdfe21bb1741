//! S9 (Kamaishi): a folder opened to everyone for a few days at fiscal year-end for the
//! handover, read by someone outside its need. Its sub-folders are sections, named as the
//! town names them (a code, a name, or both: `D220_税務課`); those handing over and taking
//! over are the sections one leaves and joins (the postings before and after the window,
//! and the sections above them), and anyone else reading a section's folder is outside
//! their need. The share's owner prepares every section's folder; a folder that names no
//! section (`共通`) is for everyone.

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
        let Some(section) = cx.dir.department_named(folder) else { return };
        let now = cx.dir.posting(employee, o.day).map(|p| p.0);
        if now.is_some() && now == cx.dir.share_owner(share, o.day) {
            return;
        }
        // One's sections before and after the window, and the sections above them.
        let mut mine = Vec::new();
        for day in [window.from, window.to.unwrap_or(o.day), o.day] {
            let mut d = cx.dir.posting(employee, day).map(|p| p.0);
            while let Some(code) = d {
                mine.push(code);
                d = cx.dir.department_parent(code);
            }
        }
        let within = |code: &str| {
            let mut d = Some(code);
            while let Some(c) = d {
                if mine.contains(&c) {
                    return true;
                }
                d = cx.dir.department_parent(c);
            }
            false
        };
        if !within(section) {
            let r = out.note(Note::of(o, RULES[0].id, Severity::High, employee).detail(format!("{share}/{folder}")));
            if let Some(file) = &o.event.file {
                r.add_file(&file.path);
            }
        }
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

    #[test]
    fn handover_folders_are_named_as_the_town_names_them_and_the_owner_and_common_folders_are_not_outside_need() {
        // Folders by name (福祉課), by code and name (D110_戸籍係), and one naming no section
        // (共通); the share's owner (D500, 総務課) prepares them all.
        let m = office_with(|v| {
            v["employees"].as_array_mut().unwrap().push(serde_json::json!({"id":"E5","name":"総務 五","hired":"2010-04-01"}));
            v["assignments"].as_array_mut().unwrap().push(serde_json::json!({"employee_id":"E5","department":"D500","role":"staff","from":"2010-04-01"}));
            v["accounts"].as_array_mut().unwrap().push(serde_json::json!({"system":"windows","account":"e5","employee_id":"E5","kind":"personal","from":"2010-04-01"}));
        });
        let events = [
            handover_open("e3", "D110_戸籍係/引継書_001.docx", "2024-03-28T10:00:00"),
            handover_open("e3", "福祉課/引継書_002.docx", "2024-03-28T10:05:00"),
            handover_open("e1", "福祉課/引継書_002.docx", "2024-03-28T11:00:00"),
            handover_open("e1", "共通/年間予定.xlsx", "2024-03-28T11:02:00"),
            handover_open("e1", "04_人事課/引継書_009.docx", "2024-03-28T11:05:00"),
            handover_open("e5", "04_人事課/引継書_009.docx", "2024-03-28T12:00:00"),
        ];
        let f = crate::testing::run_in(&m, crate::Config::default(), &events);
        assert_eq!(rules(&f), [("broad_access_outside_need", "E1", 1)], "{f:?}");
        assert!(f[0].explanation_ja.contains("人事課"), "{}", f[0].explanation_ja);
    }
}
