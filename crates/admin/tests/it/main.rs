//! Integration tests of `tsunagi-admin` that need no server: state files, certificates and
//! slots, bundles and QR codes, and the real CLI binary up to the network.

mod bundle;
mod cli;
mod issue;
mod state;

use tsunagi_crypto::identity::{KemKey, SigKey};
use tsunagi_protocol::api::{DeviceInfo, DeviceState, EnrollmentBundle, Role};
use uuid::Uuid;

/// A pending device as the server would report it, with its private keys.
pub fn pending_device(team: &str, role: Role) -> (DeviceInfo, SigKey, KemKey) {
    let sig = SigKey::generate().unwrap();
    let kem = KemKey::generate().unwrap();
    let info = DeviceInfo {
        id: Uuid::now_v7(),
        user: Uuid::now_v7(),
        user_name: "山田花子".into(),
        team: team.into(),
        role,
        state: DeviceState::Pending,
        sig_pub: sig.public().as_bytes().to_vec(),
        kem_pub: kem.public().as_bytes().to_vec(),
        enrolled_at: "2025-01-01T00:00:00Z".into(),
        approved_at: None,
        revoked_at: None,
        last_seen: None,
    };
    (info, sig, kem)
}

/// A bundle as `device provision` writes it.
pub fn sample_bundle() -> EnrollmentBundle {
    EnrollmentBundle {
        v: 1,
        server_url: "https://tsunagi.example.lg.jp".into(),
        server_pub: SigKey::generate().unwrap().public().as_bytes().to_vec(),
        admin_pub: SigKey::generate().unwrap().public().as_bytes().to_vec(),
        org_recovery_pub: KemKey::generate().unwrap().public().as_bytes().to_vec(),
        code: "ABCDEFGHIJKLMNOPQRSTUVWXYZ".into(),
        user: Uuid::now_v7(),
        user_name: "山田花子".into(),
        team: "csw-north".into(),
        role: Role::Worker,
        expires_at: "2025-01-04T00:00:00Z".into(),
        pin_min_digits: 6,
        lease_days: 14,
    }
}
