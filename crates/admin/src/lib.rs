//! `tsunagi-admin`, IT's provisioning tool (docs/identity.md): creates the org's admin key and
//! org recovery key (ORK) under a passphrase, registers them with the server, and then manages
//! teams, users, enrollment bundles, device approval (certificate + team-key slot), revocation
//! and team-key rotation. The binary only parses arguments and prints; everything is here.

pub mod admin;
pub mod bundle;
pub mod error;
pub mod issue;
pub mod state;

pub use admin::{
    Admin, ApproveReport, DevicePolicy, DeviceView, InitReport, ProvisionReport, RevokeReport,
    RotationReport, init,
};
pub use error::AdminError;
pub use state::{AdminState, Passphrase};
