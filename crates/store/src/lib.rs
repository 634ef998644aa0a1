//! The encrypted device store: one SQLCipher file holding the op log (outbox), the merged
//! state of every entity, query projections, the full-text indexes and the access log.
//!
//! Architecture invariant: every write is one SQLite transaction — the change set goes into the
//! op log and into the materialized tables together, or not at all.

mod access;
pub mod chain;
mod checkpoint;
pub mod codec;
mod error;
mod fts;
mod grams;
pub mod holds;
pub mod keys;
pub mod migrate;
mod open;
mod project;
mod query;
mod records;
pub mod search;
mod sync;
mod teamkeys;
mod write;

pub use access::{AccessEntry, AccessEvent, AccessLogReport, AccessTicket};
pub use chain::{ChainGap, ChainHead, ChainLink, ChainPos, ChainProblem};
pub use checkpoint::{BackgroundHold, Foreground};
pub use error::StoreError;
pub use open::{Encryption, Store};
pub use query::{CaseloadFilter, CaseloadRow, ContactHit, PersonHit, SearchResults};
pub use records::{DraftRow, MAX_DRAFT_BYTES};
pub use sync::{
    CaseKeyRow, GrantRow, OutboxOp, PageCounts, PageWrite, QueuedEnvelope, ReceivedChange,
    SnapshotState, SyncCounts,
};
pub use write::Origin;
