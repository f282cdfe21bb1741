//! mamori's application services: what the CLI, the server (console and API) and the
//! cluster workers do with a store, in one place, so that a page and a command answer
//! the same question the same way and record it in the log the same way.
//!
//! - [`report`]: disclosures, an employee's back-search, breach sizing, lock compliance;
//! - [`review`]: the managers' monthly review sheets and their sign-off;
//! - [`detect`]: detection runs (whole or incremental) and the stored findings;
//! - [`admin`]: removing users and revoking API keys;
//! - [`cases`]: investigations of findings, from opening to a disposition, as events;
//! - [`audit`]: the auditors' own actions as events in the tamper-evident log;
//! - [`check`]: whether a town's mapping joins up (`mamori check`);
//! - [`gate`]: the purpose-of-use gate's policy and decisions (allow, warn, declare);
//! - [`console`]: what the console's pages read, scoped by the reader's role and recorded;
//! - [`sources`]: what an import needs beside a source's settings (mail's residents);
//! - [`timearg`]: dates as staff write them (JST).
//!
//! Nothing here parses arguments or prints: the binary does that.

pub mod admin;
pub mod archive;
pub mod audit;
pub mod cases;
pub mod check;
pub mod console;
pub mod detect;
pub mod gate;
pub mod lang;
pub mod report;
pub mod review;
pub mod sources;
pub mod timearg;
