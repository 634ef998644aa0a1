//! `tsunagi-admin`, IT's provisioning tool (docs/identity.md): creates the org's admin key and
//! org recovery key (ORK) under a passphrase, registers them with the server, and then manages
//! teams, users, enrollment bundles, device approval after comparing the device code
//! (certificate + team-key slot + signed team statement, from its own registry of approved
//! keys), revocation and team-key rotation. The binary only parses arguments and prints; everything is here.

pub mod admin;
pub mod bundle;
pub mod error;
pub mod issue;
pub mod registry;
pub mod state;

pub use admin::{
    Admin, ApproveReport, DevicePolicy, DeviceView, InitReport, ProvisionReport, RevokeReport,
    RotationReport, init,
};
pub use error::AdminError;
pub use state::{AdminState, Passphrase};
