//! The device's checks of untrusted server and file input, reachable for the fuzz targets
//! (fuzz/) and property tests: not an API, hidden from the docs. The payload decoders are
//! public already ([`crate::payload`], [`crate::snapshot_payload`]).

use tsunagi_crypto::identity::SigPublic;
use tsunagi_protocol::api::DeviceCert;

use crate::DeviceError;
use crate::api::BundleInfo;

/// Reads an enrollment bundle (file or QR code text) as the app does before enrolling.
pub fn inspect_bundle(bundle_json: &str) -> Result<BundleInfo, DeviceError> {
    crate::enroll::inspect_bundle(bundle_json)
}

/// The certificates of a key directory that verify against the pinned admin key (directly, or
/// through an admin-certified lead of the same team); the ids of those kept, and why each
/// other one was refused.
pub fn verified_certs(certs: &[DeviceCert], admin: &SigPublic) -> (Vec<String>, Vec<String>) {
    let mut refused = Vec::new();
    let mut kept: Vec<String> = crate::enroll::verified_certs(certs, admin, &mut refused)
        .into_keys()
        .collect();
    kept.sort();
    (kept, refused)
}
