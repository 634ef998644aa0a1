//! Certificates and slots the admin key signs: they verify with the admin public key and open
//! with the recipient's key only.

use crate::pending_device;
use std::collections::BTreeSet;
use tsunagi_admin::issue::{
    ORG, admin_slot, approval_slots, device_cert, open_org_slot, rotation_slots,
};
use tsunagi_crypto::identity::{KemKey, KemPublic, SigKey, Signature, TeamKey, open_team_key};
use tsunagi_protocol::api::{KeySlot, Role};
use uuid::Uuid;

fn verifies(admin: &SigKey, msg: &[u8], sig: &[u8]) -> bool {
    admin
        .public()
        .verify(msg, &Signature::from_bytes(sig).unwrap())
        .is_ok()
}

fn open(slot: &KeySlot, key: &KemKey) -> Option<TeamKey> {
    open_team_key(key, &slot.sealed(), &slot.context()).ok()
}

#[test]
fn device_certificate_is_signed_by_the_admin_over_its_fields() {
    let admin = SigKey::generate().unwrap();
    let (info, _, _) = pending_device("csw-north", Role::Lead);
    let cert = device_cert(&admin, &info, "2025-01-02T03:04:05Z").unwrap();
    assert_eq!(cert.signer, "admin");
    assert_eq!(
        (cert.device, cert.user, cert.role),
        (info.id, info.user, Role::Lead)
    );
    assert_eq!(
        (&cert.sig_pub, &cert.kem_pub),
        (&info.sig_pub, &info.kem_pub)
    );
    assert!(verifies(&admin, &cert.signed_message(), &cert.sig));
    let other = SigKey::generate().unwrap();
    assert!(!verifies(&other, &cert.signed_message(), &cert.sig));
    let mut changed = cert.clone();
    changed.team = "csw-south".into();
    assert!(!verifies(&admin, &changed.signed_message(), &changed.sig));

    let mut bad = info.clone();
    bad.kem_pub = vec![1; 31];
    assert!(device_cert(&admin, &bad, "t").is_err());
}

#[test]
fn first_approval_makes_epoch_1_for_the_device_and_org() {
    let admin = SigKey::generate().unwrap();
    let ork = KemKey::generate().unwrap();
    let (info, _, kem) = pending_device("csw-north", Role::Worker);
    let (epoch, slots) = approval_slots(
        &admin,
        "csw-north",
        &info.id,
        &kem.public(),
        None,
        &ork.public(),
    )
    .unwrap();
    assert_eq!(epoch, 1);
    let recipients: Vec<&str> = slots.iter().map(|s| s.recipient.as_str()).collect();
    assert_eq!(recipients, [info.id.to_string().as_str(), ORG]);
    for s in &slots {
        assert_eq!(
            (s.team.as_str(), s.epoch, s.signer.as_str()),
            ("csw-north", 1, "admin")
        );
        assert!(verifies(&admin, &s.signed_message(), &s.sig));
    }
    let tk = open(&slots[0], &kem).expect("the device opens its slot");
    assert_eq!(open(&slots[1], &ork).as_ref(), Some(&tk));
    assert!(open(&slots[0], &ork).is_none());
    assert!(open(&slots[1], &kem).is_none());

    // IT later opens the org slot with ORK to approve another device into the same epoch.
    let opened = open_org_slot(&slots[1], "csw-north", 1, &admin.public(), &ork).unwrap();
    assert_eq!(opened, tk);
    let (next, _, kem2) = pending_device("csw-north", Role::Worker);
    let (epoch, more) = approval_slots(
        &admin,
        "csw-north",
        &next.id,
        &kem2.public(),
        Some((1, &opened)),
        &ork.public(),
    )
    .unwrap();
    assert_eq!((epoch, more.len()), (1, 1));
    assert_eq!(more[0].recipient, next.id.to_string());
    assert_eq!(open(&more[0], &kem2), Some(tk));
    assert!(open(&more[0], &kem).is_none());
}

#[test]
fn org_slot_must_be_the_asked_one_and_signed_by_this_admin() {
    let admin = SigKey::generate().unwrap();
    let ork = KemKey::generate().unwrap();
    let tk = TeamKey::generate().unwrap();
    let slot = admin_slot(&admin, "t", 4, ORG, &ork.public(), &tk).unwrap();
    assert_eq!(
        open_org_slot(&slot, "t", 4, &admin.public(), &ork).unwrap(),
        tk
    );
    let untrusted = |r: Result<TeamKey, tsunagi_admin::AdminError>| {
        assert_eq!(r.unwrap_err().code(), "untrusted_answer");
    };
    untrusted(open_org_slot(&slot, "t", 5, &admin.public(), &ork));
    untrusted(open_org_slot(&slot, "u", 4, &admin.public(), &ork));
    let server = SigKey::generate().unwrap();
    untrusted(open_org_slot(&slot, "t", 4, &server.public(), &ork));
    // A slot the server made itself, for a key of its choosing.
    let forged = admin_slot(&server, "t", 4, ORG, &ork.public(), &tk).unwrap();
    untrusted(open_org_slot(&forged, "t", 4, &admin.public(), &ork));
    let dev = Uuid::now_v7().to_string();
    let to_device = admin_slot(&admin, "t", 4, &dev, &ork.public(), &tk).unwrap();
    untrusted(open_org_slot(&to_device, "t", 4, &admin.public(), &ork));
    untrusted(open_org_slot(
        &slot,
        "t",
        4,
        &admin.public(),
        &KemKey::generate().unwrap(),
    ));
}

#[test]
fn rotation_seals_one_new_key_to_exactly_the_given_devices_and_org() {
    let admin = SigKey::generate().unwrap();
    let ork = KemKey::generate().unwrap();
    let members: Vec<(Uuid, KemKey)> = (0..3)
        .map(|_| (Uuid::now_v7(), KemKey::generate().unwrap()))
        .collect();
    let revoked = KemKey::generate().unwrap();
    let recipients: Vec<(Uuid, KemPublic)> =
        members.iter().map(|(id, k)| (*id, k.public())).collect();
    let slots = rotation_slots(&admin, "csw-north", 7, &recipients, &ork.public()).unwrap();

    let expected: BTreeSet<String> = members
        .iter()
        .map(|(id, _)| id.to_string())
        .chain([ORG.to_owned()])
        .collect();
    let got: BTreeSet<String> = slots.iter().map(|s| s.recipient.clone()).collect();
    assert_eq!(slots.len(), 4);
    assert_eq!(got, expected);

    let tk = open(slots.last().unwrap(), &ork).expect("org opens its slot");
    for (slot, (_, key)) in slots.iter().zip(&members) {
        assert_eq!((slot.epoch, slot.team.as_str()), (7, "csw-north"));
        assert!(verifies(&admin, &slot.signed_message(), &slot.sig));
        assert_eq!(open(slot, key).as_ref(), Some(&tk));
    }
    // The revoked device's key opens none of the new epoch's slots.
    assert!(slots.iter().all(|s| open(s, &revoked).is_none()));

    // A team with no active device left still gets its org slot.
    let only_org = rotation_slots(&admin, "csw-north", 8, &[], &ork.public()).unwrap();
    assert_eq!(only_org.len(), 1);
    assert_eq!(only_org[0].recipient, ORG);
    assert_ne!(
        open(&only_org[0], &ork),
        Some(tk),
        "a new epoch has a new key"
    );
}
