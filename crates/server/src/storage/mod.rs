//! The server's storage behind one async trait, with two backends: an embedded SQLite file
//! (`sqlite`) and PostgreSQL (`postgres`). Every operation that must be atomic (redeem a code,
//! approve a device, rotate a team key, push a batch of envelopes) is one method, one
//! transaction.

use async_trait::async_trait;
use thiserror::Error;
use tsunagi_protocol::api::{DeviceState, KeySlot, Role, TeamKem};
use tsunagi_protocol::wire::{PullPage, PushResult};
use uuid::Uuid;

pub mod postgres;
pub mod sqlite;
pub mod sync;

pub use sync::{KemOutcome, PageQuery, PageScope, PushItem};

/// A storage failure. Never shown to clients (a 500 says nothing); logged in full.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StorageError {
    /// SQLite said no.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL said no.
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// No PostgreSQL connection from the pool.
    #[error("postgres pool: {0}")]
    Pool(String),
    /// The database was written by a newer server.
    #[error("database schema version {found} is newer than this server's {supported}")]
    NewerSchema {
        /// Version found.
        found: i64,
        /// Newest version this server knows.
        supported: i64,
    },
    /// Stored data is not what this server writes.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// A blocking task failed.
    #[error("blocking task: {0}")]
    Task(String),
}

/// Result of storage calls.
pub type StorageResult<T> = Result<T, StorageError>;

/// One embedded migration.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Version after it (1, 2, ...).
    pub version: i64,
    /// The SQL.
    pub sql: &'static str,
}

/// The org row.
#[derive(Debug, Clone)]
pub struct Org {
    /// SHA-256 of the one-time bootstrap token.
    pub bootstrap_token_hash: Vec<u8>,
    /// Admin Ed25519 key, once bootstrapped.
    pub admin_pub: Option<Vec<u8>>,
    /// ORK public key, once bootstrapped.
    pub org_recovery_pub: Option<Vec<u8>>,
    /// When bootstrapped (ms).
    pub bootstrapped_at: Option<i64>,
}

/// Outcome of a bootstrap attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootstrapOutcome {
    /// Keys stored.
    Done,
    /// The token does not match.
    WrongToken,
    /// Already bootstrapped.
    Already,
}

/// A team row.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamRow {
    /// Team id.
    pub id: String,
    /// Program key.
    pub program: String,
    /// Current key epoch.
    pub current_epoch: Option<u32>,
}

/// A user row.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRow {
    /// User id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Team id.
    pub team: String,
    /// Role.
    pub role: Role,
}

/// A device with its user's name, team and role.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceRow {
    /// Device id.
    pub id: Uuid,
    /// User.
    pub user: UserRow,
    /// DevSig public key.
    pub sig_pub: Vec<u8>,
    /// DevKEM public key.
    pub kem_pub: Vec<u8>,
    /// State.
    pub state: DeviceState,
    /// The certificate JSON, once approved.
    pub cert: Option<String>,
    /// Times (ms).
    pub enrolled_at: i64,
    /// When approved.
    pub approved_at: Option<i64>,
    /// When revoked.
    pub revoked_at: Option<i64>,
    /// Last authenticated request.
    pub last_seen: Option<i64>,
}

/// A new device at enrollment.
#[derive(Debug, Clone)]
pub struct NewDevice {
    /// Device id.
    pub id: Uuid,
    /// DevSig public key.
    pub sig_pub: Vec<u8>,
    /// DevKEM public key.
    pub kem_pub: Vec<u8>,
}

/// Outcome of redeeming an enrollment code.
#[derive(Debug, Clone, PartialEq)]
pub enum RedeemOutcome {
    /// The device is stored (pending) and the code used up.
    Enrolled(UserRow),
    /// No such code.
    Unknown,
    /// Past its expiry.
    Expired,
    /// Already redeemed.
    Used,
    /// The signing key is already enrolled.
    KeyInUse,
    /// The device id is already taken (another device enrolled under it).
    IdInUse,
}

/// An approval, checked by the handler.
#[derive(Debug, Clone)]
pub struct Approval {
    /// The pending device.
    pub device: Uuid,
    /// Its team.
    pub team: String,
    /// Its certificate, JSON.
    pub cert_json: String,
    /// Its slots (and the org slot when the team's first key is created).
    pub slots: Vec<KeySlot>,
    /// The team's current epoch the slots are for.
    pub epoch: u32,
    /// The team had no key: `epoch` (1) becomes current.
    pub creates_epoch: bool,
}

/// Outcome of an approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApproveOutcome {
    /// Active now.
    Approved,
    /// Not pending (already approved, or revoked).
    NotPending,
    /// The team's epoch is not the one the slots are for (a rotation or another approval won).
    EpochChanged,
}

/// Outcome of a team key rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The new epoch is current.
    Rotated,
    /// The current epoch is not `epoch - 1`.
    EpochChanged,
    /// The slots' recipients are not exactly the active devices plus `"org"`.
    Recipients {
        /// Active devices (and `"org"`) without a slot.
        missing: Vec<String>,
        /// Recipients that are not active devices of the team.
        extra: Vec<String>,
    },
}

/// Everything the server stores.
#[async_trait]
pub trait Storage: Send + Sync + std::fmt::Debug + 'static {
    /// The org row, if any.
    async fn org(&self) -> StorageResult<Option<Org>>;
    /// Creates the org row with a bootstrap token hash, or replaces the hash while the org is
    /// not bootstrapped. Returns false (and changes nothing) once bootstrapped.
    async fn set_bootstrap_token(&self, token_hash: [u8; 32], now: i64) -> StorageResult<bool>;
    /// Stores the admin and ORK keys if the token matches and no bootstrap happened yet.
    async fn bootstrap(
        &self,
        token_hash: [u8; 32],
        admin_pub: &[u8],
        org_recovery_pub: &[u8],
        now: i64,
    ) -> StorageResult<BootstrapOutcome>;

    /// Records a request nonce for `key` unless already seen (false = replay), drops expired
    /// ones now and then, and updates the device's `last_seen`.
    async fn record_request(
        &self,
        key: &str,
        nonce: &str,
        expires_at: i64,
        device: Option<Uuid>,
        now: i64,
    ) -> StorageResult<bool>;

    /// Creates a team; false when the id exists.
    async fn create_team(&self, team: &TeamRow, now: i64) -> StorageResult<bool>;
    /// A team.
    async fn team(&self, id: &str) -> StorageResult<Option<TeamRow>>;
    /// Creates a user (its team exists).
    async fn create_user(&self, user: &UserRow, now: i64) -> StorageResult<()>;
    /// A user.
    async fn user(&self, id: Uuid) -> StorageResult<Option<UserRow>>;

    /// Stores an enrollment code's hash.
    async fn create_enrollment(
        &self,
        code_hash: [u8; 32],
        user: Uuid,
        expires_at: i64,
        now: i64,
    ) -> StorageResult<()>;
    /// Redeems a code: creates the pending device and marks the code used, in one transaction.
    async fn redeem(
        &self,
        code_hash: [u8; 32],
        device: &NewDevice,
        now: i64,
    ) -> StorageResult<RedeemOutcome>;

    /// A device.
    async fn device(&self, id: Uuid) -> StorageResult<Option<DeviceRow>>;
    /// Devices, of one team or all.
    async fn devices(&self, team: Option<&str>) -> StorageResult<Vec<DeviceRow>>;
    /// Counts of devices per state.
    async fn device_counts(&self) -> StorageResult<Vec<(DeviceState, i64)>>;

    /// Makes a pending device active with its certificate and slots, if the team's epoch is
    /// still the one the slots are for.
    async fn approve(&self, a: &Approval, now: i64) -> StorageResult<ApproveOutcome>;
    /// Revokes a device; false when unknown.
    async fn revoke(&self, device: Uuid, now: i64) -> StorageResult<bool>;
    /// Stores a new epoch's slots if `epoch` = current + 1 and the recipients are exactly the
    /// team's active devices plus `"org"`; makes it current.
    async fn rotate(
        &self,
        team: &str,
        epoch: u32,
        slots: &[KeySlot],
        now: i64,
    ) -> StorageResult<RotateOutcome>;
    /// Slots sealed to a recipient, by team and epoch.
    async fn slots_for(&self, recipient: &str) -> StorageResult<Vec<KeySlot>>;
    /// Slots of one team and epoch.
    async fn slots_of(&self, team: &str, epoch: u32) -> StorageResult<Vec<KeySlot>>;

    /// Pushes a batch for a device of `team` (docs/protocol.md "What the server checks on
    /// push", steps 4-5; the handler did 1-3): one result per item in order, everything in
    /// one transaction that assigns sequence numbers in commit order (docs/server.md).
    async fn push(
        &self,
        team: &str,
        items: Vec<PushItem>,
        now: i64,
    ) -> StorageResult<Vec<PushResult>>;
    /// One page of readable envelopes (pull, snapshots or a case's history).
    async fn page(&self, q: &PageQuery) -> StorageResult<PullPage>;
    /// The highest committed sequence number (0 when the log is empty).
    async fn head(&self) -> StorageResult<u64>;
    /// The cases of `team` in which a device of `user` wrote a change with `seq <= as_of`
    /// (the user's own caseload, which a fresh device of theirs takes first), in case order.
    async fn cases_of_user(
        &self,
        user: Uuid,
        team: &str,
        as_of: u64,
    ) -> StorageResult<Vec<[u8; 16]>>;
    /// Stores TeamKEM[team, epoch] unless one is stored already (first one kept).
    async fn put_team_kem(&self, kem: &TeamKem, now: i64) -> StorageResult<KemOutcome>;
    /// The team's KEM key of its highest published epoch.
    async fn team_kem(&self, team: &str) -> StorageResult<Option<TeamKem>>;

    /// Stores a team's statement (JSON, checked by the caller) if its `version` is above the
    /// one stored; false (nothing changed) otherwise.
    async fn put_statement(
        &self,
        team: &str,
        version: u64,
        body: &str,
        now: i64,
    ) -> StorageResult<bool>;
    /// The team's latest statement (JSON).
    async fn statement(&self, team: &str) -> StorageResult<Option<String>>;
}

/// Set difference of slot recipients against the expected ones (active devices + "org").
pub(crate) fn recipient_mismatch(
    expected: &[String],
    slots: &[KeySlot],
) -> Option<(Vec<String>, Vec<String>)> {
    let got: std::collections::BTreeSet<&str> =
        slots.iter().map(|s| s.recipient.as_str()).collect();
    let want: std::collections::BTreeSet<&str> = expected.iter().map(String::as_str).collect();
    if got == want && got.len() == slots.len() {
        return None;
    }
    let missing = want.difference(&got).map(|s| (*s).to_owned()).collect();
    let mut extra: Vec<String> = got.difference(&want).map(|s| (*s).to_owned()).collect();
    if got.len() != slots.len() {
        extra.push("(duplicate recipient)".into());
    }
    Some((missing, extra))
}

/// Parses stored role text.
pub(crate) fn role(s: &str) -> StorageResult<Role> {
    Role::parse(s).ok_or_else(|| StorageError::Corrupt(format!("role {s:?}")))
}

/// Parses stored state text.
pub(crate) fn state(s: &str) -> StorageResult<DeviceState> {
    DeviceState::parse(s).ok_or_else(|| StorageError::Corrupt(format!("state {s:?}")))
}

/// Parses stored uuid text.
pub(crate) fn uuid(s: &str) -> StorageResult<Uuid> {
    Uuid::parse_str(s).map_err(|_| StorageError::Corrupt(format!("uuid {s:?}")))
}

/// Epoch from its stored i64.
pub(crate) fn epoch(v: i64) -> StorageResult<u32> {
    u32::try_from(v).map_err(|_| StorageError::Corrupt(format!("epoch {v}")))
}

/// A stored sequence number.
pub(crate) fn seq(v: i64) -> StorageResult<u64> {
    u64::try_from(v).map_err(|_| StorageError::Corrupt(format!("seq {v}")))
}

/// A stored 16-byte id.
pub(crate) fn id16(v: &[u8]) -> StorageResult<[u8; 16]> {
    v.try_into()
        .map_err(|_| StorageError::Corrupt(format!("id of {} bytes", v.len())))
}

/// Drop expired nonces on about one request in this many.
pub(crate) const NONCE_SWEEP_EVERY: u64 = 256;
