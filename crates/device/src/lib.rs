//! The application front door: every use case of a Tsunagi device (set up, unlock, record
//! persons, contacts, assessments, plans, households, meetings and consents, show a person,
//! search, plan the day, sync), shared by the Tauri app and the headless `tsunagi-device`
//! CLI, which only translate to and from it. [`App`] is the door; [`api`] holds what passes
//! through it.

pub mod api;
mod app;
mod device;
mod enroll;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod inspect;
mod lease;
mod records;
mod schedule;
mod settings;
mod share;
mod statement;
mod sync;
mod view;

pub use app::{App, AppOptions, IDLE_LOCK_MINUTES, MIN_APP_PIN};
pub use device::{Device, InitReport, VaultInfo};
pub use enroll::{EnrollReport, Enrollment, IdentityReport, KeysReport, PeerReport};
pub use error::{DeviceError, Refusal};
pub use inspect::CaseKeyInfo;
pub use settings::Settings;
pub use share::{ShareBasis, ShareReport, WithdrawReport};
pub use sync::{
    Backoff, IntegrityProblem, MissingFrom, SNAPSHOT_MIN_OPS, SyncErrorView, SyncReport, SyncRound,
    SyncStatus, SyncStatusState, SyncSteps,
};
/// The plaintext formats of change and snapshot envelopes (docs/protocol.md, "Payloads").
pub use sync::{payload, snapshot_payload};
#[cfg(not(any(target_os = "android", target_os = "ios")))]
pub use tsunagi_store::keys::OsKeystore;
pub use tsunagi_store::keys::{KeyError, Keystore, Pin};
pub use tsunagi_store::{CaseloadFilter, SearchResults};
pub use view::{AssessmentView, CaseloadView, ContactView, PersonPage};
