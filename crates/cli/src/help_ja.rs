//! `--help` in Japanese by default, as every other output of the CLI.
//!
//! The English help stays where clap's derive reads it, in the doc comments beside each
//! command and argument; it is what `--en` shows. The Japanese is a table beside this file
//! (`help_ja.tsv`), keyed by the command's path and the argument's id, and is laid over the
//! command tree before arguments are parsed. A table rather than a second set of
//! attributes: clap's derive takes one help text per item, and a table can be checked
//! whole — the test below fails when a command or argument has no Japanese, or when the
//! table names one that no longer exists.
//!
//! `help_ja.tsv`: one line per item, `path<TAB>argument id<TAB>text`. `path` is the
//! command path from `mamori` (`mamori report disclosure`); the id is empty for the
//! command's own description. In the text, `\n` is a line break; its first paragraph (up
//! to the first blank line) is the short help of `-h` and the list of commands, the whole
//! is `--help`'s long help, as clap's derive splits a doc comment.

use std::collections::HashMap;
use std::error::Error as _;

use clap::Command;

const TABLE: &str = include_str!("help_ja.tsv");

/// Whether the command line asks for English. Read before clap parses, because help is
/// printed the moment clap meets `--help`, which may come before `--en`.
pub fn english_requested<I: IntoIterator<Item = std::ffi::OsString>>(args: I) -> bool {
    args.into_iter().take_while(|a| a != "--").any(|a| a == "--en")
}

struct Text {
    short: String,
    long: Option<String>,
}

fn parse(table: &str) -> HashMap<(String, String), Text> {
    let mut texts = HashMap::new();
    for (n, line) in table.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut cols = line.splitn(3, '\t');
        let (Some(path), Some(id), Some(text)) = (cols.next(), cols.next(), cols.next()) else {
            panic!("help_ja.tsv line {}: want path<TAB>id<TAB>text", n + 1);
        };
        let text = text.replace("\\n", "\n");
        let (short, long) = match text.split_once("\n\n") {
            Some((first, _)) => (first.to_owned(), Some(text.clone())),
            None => (text.clone(), None),
        };
        texts.insert((path.to_owned(), id.to_owned()), Text { short, long });
    }
    texts
}

/// A long help, or none, so that clap shows the short one (the English long help must not
/// stay behind Japanese short help).
fn long_or_reset(long: &Option<String>) -> clap::builder::Resettable<clap::builder::StyledStr> {
    match long {
        Some(l) => clap::builder::Resettable::Value(l.clone().into()),
        None => clap::builder::Resettable::Reset,
    }
}

const TEMPLATE: &str = "{before-help}{about-with-newline}\n使い方: {usage}\n\n{all-args}{after-help}";

/// The command tree with its help in Japanese.
pub fn localise(cmd: Command) -> Command {
    let texts = parse(TABLE);
    let mut cmd = lay_over(cmd, "mamori", &texts);
    cmd.build();
    clap_own_in_japanese(cmd)
}

fn lay_over(mut cmd: Command, path: &str, texts: &HashMap<(String, String), Text>) -> Command {
    if let Some(t) = texts.get(&(path.to_owned(), String::new())) {
        cmd = cmd.about(t.short.clone()).long_about(long_or_reset(&t.long));
    }
    cmd = cmd.help_template(TEMPLATE).subcommand_help_heading("コマンド").subcommand_value_name("コマンド");
    let ids: Vec<String> = cmd.get_arguments().map(|a| a.get_id().to_string()).collect();
    for id in ids {
        let text = texts.get(&(path.to_owned(), id.clone()));
        cmd = cmd.mut_arg(&id, |a| {
            let heading = if a.is_positional() { "引数" } else { "オプション" };
            let a = if a.get_help_heading().is_none() { a.help_heading(heading) } else { a };
            match text {
                Some(t) => a.help(t.short.clone()).long_help(long_or_reset(&t.long)),
                None => a,
            }
        });
    }
    let names: Vec<String> = cmd.get_subcommands().map(|c| c.get_name().to_owned()).collect();
    for name in names {
        let sub_path = format!("{path} {name}");
        cmd = cmd.mut_subcommand(&name, |c| lay_over(c, &sub_path, texts));
    }
    cmd
}

/// `-h`, `-V` and the `help` subcommand exist only once the tree is built.
fn clap_own_in_japanese(mut cmd: Command) -> Command {
    let has = |cmd: &Command, id: &str| cmd.get_arguments().any(|a| a.get_id() == id);
    if has(&cmd, "help") {
        cmd = cmd.mut_arg("help", |a| a.help("ヘルプを表示する（-h は短く、--help は詳しく）").help_heading("オプション"));
    }
    if has(&cmd, "version") {
        cmd = cmd.mut_arg("version", |a| a.help("版を表示する").help_heading("オプション"));
    }
    let names: Vec<String> = cmd.get_subcommands().map(|c| c.get_name().to_owned()).collect();
    for name in names {
        cmd = cmd.mut_subcommand(&name, |c| {
            if c.get_name() == "help" {
                c.about("このヘルプ、または指定したコマンドのヘルプを表示する")
            } else {
                clap_own_in_japanese(c)
            }
        });
    }
    cmd
}

/// A command-line error in Japanese, from its kind and context (clap words its errors in
/// English only); `None` for a kind without a Japanese wording here, which clap then says.
pub fn error_ja(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind as C, ErrorKind as K};
    let ctx = |k: C| e.get(k).map(|v| v.to_string());
    let reason = e.source().map(|s| format!("（{s}）")).unwrap_or_default();
    let said = match e.kind() {
        K::UnknownArgument => format!("想定外の引数 '{}' があります", ctx(C::InvalidArg)?),
        K::InvalidSubcommand => format!("'{}' というコマンドはありません", ctx(C::InvalidSubcommand)?),
        K::MissingRequiredArgument => format!("必須の引数がありません: {}", ctx(C::InvalidArg)?),
        K::InvalidValue | K::ValueValidation => {
            let valid = ctx(C::ValidValue).map(|v| format!("。指定できる値: {v}")).unwrap_or_default();
            format!("'{}' は {} の値として正しくありません{reason}{valid}", ctx(C::InvalidValue)?, ctx(C::InvalidArg)?)
        }
        K::ArgumentConflict => match (ctx(C::InvalidArg), ctx(C::PriorArg)) {
            (Some(a), Some(b)) if a == b => format!("引数 '{a}' は一度しか指定できません"),
            (Some(a), Some(b)) => format!("引数 '{a}' は '{b}' と同時に指定できません"),
            _ => return None,
        },
        K::TooManyValues => format!("'{}' の値 '{}' は多すぎます", ctx(C::InvalidArg)?, ctx(C::InvalidValue)?),
        K::WrongNumberOfValues | K::TooFewValues => format!("'{}' の値の数が正しくありません", ctx(C::InvalidArg)?),
        K::NoEquals => format!("'{}' の値は = でつないで指定してください", ctx(C::InvalidArg)?),
        _ => return None,
    };
    let mut text = format!("エラー: {said}\n");
    if let Some(suggested) = ctx(C::SuggestedSubcommand).or_else(|| ctx(C::SuggestedArg)) {
        text.push_str(&format!("\n  もしかして: '{suggested}'\n"));
    }
    if let Some(usage) = e.get(C::Usage) {
        let usage = usage.to_string();
        text.push_str(&format!("\n使い方: {}\n", usage.trim_start().trim_start_matches("Usage:").trim()));
    }
    text.push_str("\n詳しくは '--help' を見てください。\n");
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Arguments clap adds itself (`-h`, `-V`), put in Japanese by `clap_own_in_japanese`.
    fn is_clap_own(id: &str) -> bool {
        matches!(id, "help" | "version")
    }

    /// Every (path, id) of the tree that takes a help text, with its English.
    fn items(cmd: &Command, path: &str, out: &mut Vec<(String, String, String)>) {
        let english = |s: Option<&clap::builder::StyledStr>| s.map(|s| s.to_string()).unwrap_or_default();
        out.push((path.to_owned(), String::new(), english(cmd.get_long_about().or(cmd.get_about()))));
        for a in cmd.get_arguments() {
            let id = a.get_id().to_string();
            if is_clap_own(&id) || (a.is_global_set() && path != "mamori") {
                continue;
            }
            out.push((path.to_owned(), id, english(a.get_long_help().or(a.get_help()))));
        }
        for c in cmd.get_subcommands() {
            if c.get_name() != "help" {
                items(c, &format!("{path} {}", c.get_name()), out);
            }
        }
    }

    #[test]
    fn every_command_and_argument_has_japanese_help_and_the_table_names_nothing_gone() {
        let mut all = Vec::new();
        items(&crate::Cli::command(), "mamori", &mut all);
        let texts = parse(TABLE);
        let missing: Vec<String> = all.iter().filter(|(p, id, _)| !texts.contains_key(&(p.clone(), id.clone()))).map(|(p, id, en)| format!("{p}\t{id}\t{}", en.replace('\n', "\\n"))).collect();
        assert!(missing.is_empty(), "no Japanese help in crates/cli/src/help_ja.tsv for (English given, to translate):\n{}", missing.join("\n"));
        let known: std::collections::HashSet<(String, String)> = all.iter().map(|(p, id, _)| (p.clone(), id.clone())).collect();
        let stale: Vec<String> = texts.keys().filter(|k| !known.contains(*k)).map(|(p, id)| format!("{p}\t{id}")).collect();
        assert!(stale.is_empty(), "help_ja.tsv names commands or arguments that do not exist:\n{}", stale.join("\n"));
        for ((p, id), t) in &texts {
            assert!(!t.short.trim().is_empty() && !t.short.is_ascii(), "help_ja.tsv {p} {id}: the text is empty or not Japanese");
        }
    }

    #[test]
    fn help_is_japanese_unless_english_is_asked_for_anywhere_on_the_line() {
        let ja = localise(crate::Cli::command()).find_subcommand_mut("import").unwrap().render_help().to_string();
        assert!(ja.contains("使い方:") && ja.contains("オプション") && !ja.contains("Usage:"), "{ja}");
        let args = |s: &str| s.split(' ').map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert!(english_requested(args("mamori import --help --en")));
        assert!(!english_requested(args("mamori import --help")));
        assert!(!english_requested(args("mamori events actor -- --en")));
    }

    #[test]
    fn command_line_mistakes_are_said_in_japanese_with_the_usage() {
        let said = |line: &str| {
            let e = localise(crate::Cli::command()).try_get_matches_from(line.split(' ')).err().expect("refused");
            error_ja(&e).unwrap_or_else(|| panic!("no Japanese for {:?}: {e}", e.kind()))
        };
        let cases = [
            ("mamori impotr", vec!["'impotr' というコマンドはありません", "もしかして: 'import'"]),
            ("mamori import --bogus", vec!["想定外の引数 '--bogus'", "使い方: mamori import"]),
            ("mamori report disclosure", vec!["必須の引数がありません: --resident"]),
            ("mamori events time --limit many", vec!["'many' は --limit <LIMIT> の値として正しくありません"]),
        ];
        for (line, wanted) in cases {
            let text = said(line);
            for w in wanted {
                assert!(text.contains(w), "{line}: want {w:?} in {text}");
            }
            assert!(!text.contains("Usage:") && !text.contains("error:"), "{line}: {text}");
        }
    }
}
