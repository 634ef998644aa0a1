//! What the app shows about sync: an honest status (offline, pending, last sync, a plain
//! Japanese error) and the progress of a running sync with an estimate of the time left.

use serde::Serialize;
use ts_rs::TS;

/// The step a running sync is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SyncPhase {
    /// Checking keys with the server.
    Keys,
    /// First sync: the worker's own cases.
    OwnCases,
    /// Receiving changes.
    Pull,
    /// Receiving case snapshots (first sync).
    Snapshots,
    /// Sending this device's changes.
    Push,
    /// Compacting case histories.
    Compact,
}

/// What the sync indicator says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    /// Everything is on the server.
    Synced,
    /// Records wait to be sent.
    Pending,
    /// The server cannot be reached (no signal): records wait on the device.
    Offline,
    /// The last attempt failed for another reason.
    Error,
    /// Never synced yet.
    Never,
    /// Not enrolled with a server.
    NotEnrolled,
}

/// A running sync.
#[derive(Debug, Clone, Serialize, TS)]
pub struct SyncProgress {
    /// The step.
    pub phase: SyncPhase,
    /// Records done in this step.
    pub done: u32,
    /// Records this step expects (0 when unknown).
    pub total: u32,
    /// Seconds left, estimated from the pace so far (null until there is a pace).
    pub eta_seconds: Option<u32>,
    /// Whether this is the device's first sync (the worker's own cases come first).
    pub first_sync: bool,
    /// The worker's own cases are on the device and usable.
    pub own_cases_ready: bool,
}

/// Changes of one author device that are known to exist (a later change of theirs in the same
/// case arrived) but have not arrived: shown until they do.
#[derive(Debug, Clone, Serialize, TS)]
pub struct MissingChanges {
    /// The author device.
    pub device: String,
    /// Its user's name (from the device certificate this device verified), if known.
    pub user_name: Option<String>,
    /// Changes missing.
    pub count: u32,
    /// Cases concerned (a count: the screen names no case).
    pub cases: u32,
}

/// Something the server did that this device detected and did not obey: a fork of a device's
/// chain of changes (`fork`), a change sent again (`replayed`), a page going back before what
/// the device has (`cursor_rollback`) or out of order (`out_of_order`). IT is to be told.
#[derive(Debug, Clone, Serialize, TS)]
pub struct IntegrityWarning {
    /// `fork`, `replayed`, `cursor_rollback` or `out_of_order`.
    pub kind: String,
    /// The user of the device concerned, if any and known.
    pub user_name: Option<String>,
    /// How many times.
    pub count: u32,
    /// Last seen (RFC 3339).
    pub last_at: String,
}

/// The sync indicator.
#[derive(Debug, Clone, Serialize, TS)]
pub struct SyncView {
    /// Enrolled with a server.
    pub enrolled: bool,
    /// What the indicator says.
    pub state: SyncState,
    /// One line for the screen, in Japanese.
    pub message_ja: String,
    /// Records not yet on the server.
    pub pending: u32,
    /// Last successful sync (RFC 3339).
    pub last_success: Option<String>,
    /// The last error's code, if the last attempt failed.
    pub error_code: Option<String>,
    /// The last error in Japanese.
    pub error_ja: Option<String>,
    /// Records the server refused or that were refused on arrival (kept aside).
    pub refused: u32,
    /// The refusals, newest first (`送信拒否 <op> <code>: <detail>`, `受信拒否 #<seq> ...`),
    /// for IT.
    pub refusals: Vec<String>,
    /// Received records waiting for a key to open them.
    pub held: u32,
    /// Devices whose changes are missing here, until they arrive.
    pub missing: Vec<MissingChanges>,
    /// What the server did that this device detected (tell IT).
    pub warnings: Vec<IntegrityWarning>,
    /// A sync is running.
    pub running: bool,
    /// Its progress.
    pub progress: Option<SyncProgress>,
}
