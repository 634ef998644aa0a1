//! Fuzz target: what a device reads from `GET /v1/keys` and the team-KEM and admin answers
//! (`tsunagi_protocol::api` KeyDirectory, KeySlot, DeviceCert, TeamKemAnswer, TeamMembers,
//! DeviceInfo), then the device's certificate check against the pinned admin key
//! (`tsunagi_device::fuzzing::verified_certs`). Parses or refuses, never panics; a parsed
//! value round-trips; each certificate is kept (one per device) or refused, and against a
//! second key that signed nothing every certificate is refused and no slot or team KEM key
//! verifies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tsunagi_crypto::identity::{KemPublic, SigPublic, Signature};
use tsunagi_fuzz::json_round_trip;
use tsunagi_protocol::api::{
    DeviceCert, DeviceInfo, KeyDirectory, KeySlot, TeamKem, TeamKemAnswer, TeamMembers,
};

fn slot(s: &KeySlot) {
    let _ = s.context();
    let _ = s.sealed();
    if let Ok(sig) = Signature::from_bytes(&s.sig) {
        let _ = tsunagi_fuzz::public().verify(&s.signed_message(), &sig);
        assert!(
            tsunagi_fuzz::stranger()
                .verify(&s.signed_message(), &sig)
                .is_err()
        );
    }
}

fn certs(certs: &[DeviceCert]) {
    let (kept, refused) = tsunagi_device::fuzzing::verified_certs(certs, &tsunagi_fuzz::public());
    // One refusal per refused certificate; the kept ones by device id (a device twice, once).
    assert!(kept.len() + refused.len() <= certs.len());
    let (kept, refused) = tsunagi_device::fuzzing::verified_certs(certs, &tsunagi_fuzz::stranger());
    assert!(kept.is_empty(), "{kept:?}");
    assert_eq!(refused.len(), certs.len());
    for c in certs {
        let _ = SigPublic::from_bytes(&c.sig_pub);
        let _ = KemPublic::from_bytes(&c.kem_pub);
    }
}

fn kem(k: &TeamKem) {
    let _ = KemPublic::from_bytes(&k.kem_pub);
    if let Ok(sig) = Signature::from_bytes(&k.sig) {
        let _ = tsunagi_fuzz::public().verify(&k.signed_message(), &sig);
        assert!(
            tsunagi_fuzz::stranger()
                .verify(&k.signed_message(), &sig)
                .is_err()
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((which, rest)) = tsunagi_fuzz::pick(data) else {
        return;
    };
    match which % 6 {
        0 => {
            if let Some(d) = json_round_trip::<KeyDirectory>(rest) {
                certs(&d.certs);
                d.slots.iter().for_each(slot);
            }
        }
        1 => {
            if let Some(s) = json_round_trip::<KeySlot>(rest) {
                slot(&s);
            }
        }
        2 => {
            if let Some(c) = json_round_trip::<DeviceCert>(rest) {
                certs(std::slice::from_ref(&c));
            }
        }
        3 => {
            if let Some(a) = json_round_trip::<TeamKemAnswer>(rest) {
                kem(&a.kem);
                certs(std::slice::from_ref(&a.cert));
            }
        }
        4 => {
            if let Some(m) = json_round_trip::<TeamMembers>(rest) {
                m.org_slot.iter().for_each(slot);
            }
        }
        _ => drop(json_round_trip::<DeviceInfo>(rest)),
    }
});
