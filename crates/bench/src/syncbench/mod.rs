//! The sync benchmark (`tsunagi-syncbench`): phases A–D of the shared workload on Tsunagi (a real
//! server child process, IT's admin library, two enrolled devices) and on the PouchDB peer, with
//! figures in one shape for both so that they are printed side by side.

pub mod engine;
pub mod peer;
pub mod report;
pub mod server;
pub mod tsunagi;

use std::collections::BTreeMap;
use std::path::Path;

/// A phase of the shared README.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Offline capture of N records, one user action at a time.
    A,
    /// Push until the server has acknowledged everything.
    B,
    /// Fresh-device pull.
    C,
    /// 100 new and 100 edited records, then sync.
    D,
}

impl Phase {
    /// All of them, in order.
    pub const ALL: [Phase; 4] = [Phase::A, Phase::B, Phase::C, Phase::D];

    /// `A`, `B`, ...
    pub fn letter(self) -> &'static str {
        match self {
            Phase::A => "A",
            Phase::B => "B",
            Phase::C => "C",
            Phase::D => "D",
        }
    }

    /// From the letter.
    pub fn parse(s: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.letter() == s)
    }
}

/// The figures of one phase of one system/variant, as the peer prints them: `seconds` is the
/// phase figure, `records` what it moved (N, or 200 in D), `extra` the phase's own details
/// (`write_s`, `sync_s`, `peer_pull_s`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseResult {
    /// `tsunagi` or `pouchdb`.
    pub system: String,
    /// `sqlcipher` for Tsunagi; `encrypted`, `plain`, `aesgcm` for the peer.
    pub variant: String,
    /// Workload size.
    pub n: u32,
    /// Which phase.
    pub phase: Phase,
    /// Wall-clock seconds of the phase figure.
    pub seconds: f64,
    /// Records the phase covers.
    pub records: u64,
    /// Apparent size of the server's data directory just after the phase.
    pub server_disk_bytes: Option<u64>,
    /// Apparent size of the device's directory (device 2 in phase C, device 1 otherwise).
    pub client_disk_bytes: Option<u64>,
    /// Peak RSS of the client process during the phase (both devices live in it).
    pub client_peak_rss_mb: Option<f64>,
    /// Peak RSS of the server process during the phase.
    pub server_peak_rss_mb: Option<f64>,
    /// Further figures of the phase.
    pub extra: BTreeMap<String, f64>,
}

impl PhaseResult {
    /// Records per second of the phase figure.
    pub fn records_per_s(&self) -> f64 {
        if self.seconds > 0.0 {
            self.records as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// An extra figure.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.extra.get(name).copied()
    }
}

/// Records phase D covers: 100 new plus the edited ones (100 when N ≥ 100).
pub fn d_records(n: u32) -> u64 {
    100 + crate::workload::edit_indices(n).len() as u64
}

/// Apparent size of every file under `path` (0 if missing), as the peer's `dirBytes`.
pub fn dir_bytes(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if meta.is_file() {
        return meta.len();
    }
    if !meta.is_dir() {
        return 0;
    }
    std::fs::read_dir(path)
        .map(|rd| rd.flatten().map(|e| dir_bytes(&e.path())).sum())
        .unwrap_or(0)
}

/// Bytes of the SQLite write-ahead logs (`*-wal`) directly in `dir`.
pub fn wal_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with("-wal"))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}
