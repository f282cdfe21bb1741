//! The language of messages the application services give the person at the keyboard:
//! Japanese unless English was asked for (`mamori --en`). One switch for the process,
//! set by the binary once before any work, because an error is built deep in a service
//! that has no other reason to know who reads it.
//!
//! What the services record in the log stays English whatever this says: one form for
//! every reader of the log. The one exception is a refusal's reason (a disclosure or a
//! breach sizing refused), recorded as it was given to the person refused.

use std::sync::atomic::{AtomicBool, Ordering};

static ENGLISH: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// The language of the request this thread is working for, over the process's.
    static REQUEST: std::cell::Cell<Option<bool>> = const { std::cell::Cell::new(None) };
}

/// Messages in English from now on (`--en`).
pub fn set_english(on: bool) {
    ENGLISH.store(on, Ordering::Relaxed);
}

pub fn english() -> bool {
    REQUEST.with(|r| r.get()).unwrap_or_else(|| ENGLISH.load(Ordering::Relaxed))
}

/// Runs `f` with messages in the language of one request (the console, where each user
/// chooses), on this thread only, and restores what was before even if `f` panics.
pub fn in_language<T>(english: bool, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<bool>);
    impl Drop for Restore {
        fn drop(&mut self) {
            REQUEST.with(|r| r.set(self.0));
        }
    }
    let _restore = Restore(REQUEST.with(|r| r.replace(Some(english))));
    f()
}

/// A message in the reader's language: `tr!("日本語 {x}", "English {x}")`, each literal a
/// `format!` string over the same names in scope (or the same trailing arguments).
#[macro_export]
macro_rules! tr {
    ($ja:literal, $en:literal $(, $args:expr)* $(,)?) => {
        if $crate::lang::english() { format!($en $(, $args)*) } else { format!($ja $(, $args)*) }
    };
}

/// An I/O error's reason in Japanese, by its kind (the OS gives it in English only).
pub fn io_reason_ja(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    let what = match e.kind() {
        K::NotFound => "ファイルまたはディレクトリがありません",
        K::PermissionDenied => "アクセスする権限がありません",
        K::AlreadyExists => "すでに存在します",
        K::IsADirectory => "ディレクトリです（ファイルを指定してください）",
        K::NotADirectory => "ディレクトリではありません",
        K::DirectoryNotEmpty => "ディレクトリが空ではありません",
        K::StorageFull => "ディスクの空きがありません",
        K::ReadOnlyFilesystem => "読み取り専用のファイルシステムです",
        K::InvalidData => "データが正しくありません",
        K::UnexpectedEof => "ファイルが途中で終わっています",
        K::ConnectionRefused => "接続を拒否されました",
        K::TimedOut => "時間切れになりました",
        K::AddrInUse => "アドレスはすでに使われています",
        _ => return e.to_string(),
    };
    match e.raw_os_error() {
        Some(code) => format!("{what}（OS エラー {code}）"),
        None => what.to_owned(),
    }
}

/// `text` with every common OS error reason in it put in Japanese: an error from another
/// crate may carry an I/O error's text without the error itself.
pub fn os_reasons_ja(text: &str) -> String {
    // ENOENT, EACCES, EEXIST, ENOTDIR, EISDIR, ENOSPC, EROFS, ENOTEMPTY.
    let mut text = text.to_owned();
    for code in [2, 13, 17, 20, 21, 28, 30, 39] {
        let e = std::io::Error::from_raw_os_error(code);
        text = text.replace(&e.to_string(), &io_reason_ja(&e));
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_message_follows_the_switch_and_an_io_reason_is_japanese_by_kind() {
        let name = "juki.csv";
        super::set_english(false);
        assert_eq!(tr!("{name} を読めません", "cannot read {name}"), "juki.csv を読めません");
        super::set_english(true);
        assert_eq!(tr!("{name} を読めません", "cannot read {name}"), "cannot read juki.csv");
        super::set_english(false);
        assert_eq!(super::in_language(true, || tr!("{name} を読めません", "cannot read {name}")), "cannot read juki.csv", "a console user's choice, for one request");
        assert!(!super::english(), "and only for it");
        let missing = std::fs::read("/nonexistent/mamori").unwrap_err();
        assert_eq!(super::io_reason_ja(&missing), "ファイルまたはディレクトリがありません（OS エラー 2）");
        assert_eq!(super::os_reasons_ja(&format!("juki.csv: {missing}")), "juki.csv: ファイルまたはディレクトリがありません（OS エラー 2）");
    }
}
