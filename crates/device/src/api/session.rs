//! Requests and answers of the device's life: first-run enrollment, lock and unlock, PIN
//! change, and what the app shows before it is unlocked.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Where the app stands when it starts or returns from idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// No device here yet: first-run enrollment.
    Setup,
    /// Set up, waiting for the PIN.
    Locked,
    /// Too many wrong PINs: IT re-enables the device with its recovery code.
    Disabled,
    /// The PIN was right, but the device has not reached its server for longer than IT's
    /// lease: the records stay closed until a check-in succeeds.
    LeaseExpired,
    /// Unlocked and usable.
    Unlocked,
}

/// What the app shows about itself, also while locked (nothing personal).
#[derive(Debug, Clone, Serialize, TS)]
pub struct AppStatus {
    /// Setup, locked, disabled or unlocked.
    pub phase: Phase,
    /// The device's id, once set up.
    pub device_id: Option<String>,
    /// Who uses this device (from the enrollment).
    pub user_name: Option<String>,
    /// Their team.
    pub team: Option<String>,
    /// `worker` or `lead`.
    pub role: Option<String>,
    /// Whether a PIN protects the store.
    pub has_pin: bool,
    /// Wrong PINs since the last right one.
    pub failures: u32,
    /// Wrong PINs left before the device locks for good (IT re-enables it).
    pub attempts_left: u32,
    /// Whether the team key has arrived (IT or a lead approved this device).
    pub approved: bool,
    /// Minutes of inactivity after which the app locks itself.
    pub idle_lock_minutes: u32,
    /// The shortest PIN this device accepts (IT's setting from the enrollment; 6 before).
    pub pin_min_digits: u32,
    /// The offline key lease in days, once enrolled.
    pub lease_days: Option<u32>,
    /// The last successful exchange with the server (RFC 3339), once enrolled.
    pub last_check_in: Option<String>,
    /// When the lease runs out without a new exchange (RFC 3339), once enrolled.
    pub lease_until: Option<String>,
}

/// An enrollment bundle as pasted or scanned.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct BundleText {
    /// The bundle (JSON text).
    pub bundle: String,
}

/// What an enrollment bundle says, shown before anything is created.
#[derive(Debug, Clone, Serialize, TS)]
pub struct BundleInfo {
    /// The server it enrolls with.
    pub server_url: String,
    /// The user it is for.
    pub user_name: String,
    /// Their team.
    pub team: String,
    /// `worker` or `lead`.
    pub role: String,
    /// When the one-time code expires (RFC 3339).
    pub expires_at: String,
    /// Fingerprint of the server key the bundle pins.
    pub server_fingerprint: String,
    /// Fingerprint of IT's admin key the bundle pins.
    pub admin_fingerprint: String,
    /// The shortest PIN IT allows on this device.
    pub pin_min_digits: u32,
    /// Days the device may stay offline before its records lock until it checks in.
    pub lease_days: u32,
}

/// First-run enrollment: the bundle IT gave (pasted or scanned) and the new PIN.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct EnrollRequest {
    /// The enrollment bundle (JSON text, as in the file or the QR code).
    pub bundle: String,
    /// The PIN to set: at least 6 digits, or the bundle's `pin_min_digits`.
    pub pin: String,
    /// The PIN typed again.
    pub pin_repeat: String,
}

/// What enrollment made: the fingerprints to compare with IT's screen, and the recovery
/// code IT keeps (shown once).
#[derive(Debug, Clone, Serialize, TS)]
pub struct EnrollResult {
    /// This device's id.
    pub device_id: String,
    /// The user.
    pub user_name: String,
    /// The team.
    pub team: String,
    /// The device code (both of its keys): IT types it, read off this screen, to approve.
    pub device_code: String,
    /// This device's signing key fingerprint.
    pub sig_fingerprint: String,
    /// This device's key-exchange key fingerprint.
    pub kem_fingerprint: String,
    /// The pinned server key's fingerprint.
    pub server_fingerprint: String,
    /// The pinned admin key's fingerprint.
    pub admin_fingerprint: String,
    /// The one-time code that re-enables a locked device (for IT; not stored anywhere).
    pub recovery_code: String,
    /// Whether the team key already arrived (IT approved before the first check).
    pub approved: bool,
}

/// Unlocking with the PIN.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct UnlockRequest {
    /// The PIN.
    pub pin: String,
}

/// Changing the PIN.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct ChangePinRequest {
    /// The PIN now.
    pub current: String,
    /// The new PIN: at least 6 digits.
    pub new_pin: String,
    /// The new PIN typed again.
    pub new_pin_repeat: String,
}

/// Whether the device is approved, after asking the server.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ApprovalStatus {
    /// The team key arrived: the device can sync.
    pub approved: bool,
    /// The device's state on the server (`pending`, `active`, `revoked`).
    pub state: String,
}

/// Where the device stands, for IT's tools (`tsunagi-device status`): the app's status, and
/// the sync indicator when the store could be opened (not while the device is disabled).
#[derive(Debug, Clone, Serialize, TS)]
pub struct DeviceStatus {
    /// The app's status (phase, PIN, wrong attempts).
    pub device: AppStatus,
    /// The sync indicator.
    pub sync: Option<super::SyncView>,
}
