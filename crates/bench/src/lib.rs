//! The benchmark harness: the shared visit-record workload (ported from the PouchDB peer) run
//! through the device's own use cases on SQLCipher and on plain SQLite, to price the product's
//! write, read and search paths and SQLCipher's share of them; and the sync benchmark
//! (`syncbench`), phases A–D against a real server next to the PouchDB peer.

pub mod appbench;
pub mod harness;
pub mod report;
pub mod rss;
pub mod syncbench;
pub mod workload;

pub use harness::{BenchError, Metric, Options, Prepared, SEARCH_TERMS, Variant, run};
