//! The application front door: every use case of a Tsunagi device (initialize, unlock, record
//! persons, contacts and assessments, show a person, search), shared by the Tauri app and the
//! headless `tsunagi-device` CLI, which only translate to and from it.

mod device;
mod enroll;
mod error;
mod input;
mod settings;
mod share;
mod sync;
mod view;

pub use device::{Device, InitReport, VaultInfo};
pub use enroll::{ApproveReport, EnrollReport, Enrollment, KeysReport, PeerReport};
pub use error::DeviceError;
pub use input::{AssessmentInput, ContactInput, PersonInput};
pub use settings::Settings;
pub use share::{
    ConsentInput, ContactEdit, MeetingInput, PersonEdit, ShareBasis, ShareReport, WithdrawReport,
};
pub use sync::{Backoff, SNAPSHOT_MIN_OPS, SyncErrorView, SyncReport, SyncStatus, SyncSteps};
/// The plaintext formats of change and snapshot envelopes (docs/protocol.md, "Payloads").
pub use sync::{payload, snapshot_payload};
pub use tsunagi_store::keys::{KeyError, Keystore, OsKeystore, Pin};
pub use tsunagi_store::{CaseloadFilter, SearchResults};
pub use view::{AssessmentView, CaseloadView, ContactView, PersonPage};
