//! mamori's data model: the one normalised event type every source is turned into, and
//! the master data (departments, staff, accounts, residents, cases …) that explains it.
//!
//! This crate owns the *shape* of the data and its canonical byte encoding, which the
//! journal hashes into the Merkle log. It must not do I/O, talk to a database or know
//! about any source format: parsing belongs to `mamori-master` and the ingest crates,
//! storage to `mamori-journal`.

pub mod event;
pub mod finding;
pub mod master;

pub use finding::{Finding, Severity, Suppressed};
pub use event::{
    Actor, ClassUid, Device, Email, Event, EventError, FileObject, HttpRequest, HttpResponse, Metadata, Origin,
    PeripheralDevice, ResidentRecord, StatusId, Traffic, Unmapped, Url, User,
};
