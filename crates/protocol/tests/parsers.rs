//! Every parser of untrusted input — request headers, keys, signatures, sealed files, key
//! slots, certificates, enrollment bundles — answers arbitrary bytes with an error, never a
//! panic (property tests over random and mutated inputs: the fuzz-style check of issue 3).

use proptest::prelude::*;
use tsunagi_crypto::identity::{
    KemKey, KemPublic, SealedKey, SigKey, SigPublic, Signature, SlotContext, TeamKey,
    open_team_key, open_with_passphrase, seal_team_key, seal_with_params,
};
use tsunagi_protocol::api::{DeviceCert, EnrollmentBundle, KeyDirectory, KeySlot};
use tsunagi_protocol::auth::AuthHeader;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn auth_header_parse_never_panics(s in ".{0,300}") {
        let _ = AuthHeader::parse(&s);
    }

    /// A header changed anywhere either no longer parses or no longer verifies.
    #[test]
    fn auth_header_mutations_are_refused(pos in 0usize..200, byte in any::<u8>()) {
        let key = SigKey::generate().unwrap();
        let h = AuthHeader::sign("admin", &key, "GET", "/v1/keys", b"", 1_000).unwrap();
        let mut v = h.to_header_value().into_bytes();
        let i = pos % v.len();
        prop_assume!(v[i] != byte);
        v[i] = byte;
        if let Ok(text) = String::from_utf8(v)
            && let Ok(parsed) = AuthHeader::parse(&text)
            && parsed != h
        {
            let verifies = parsed.verify(&key.public(), "GET", "/v1/keys", b"", 1_000).is_ok();
            // Only a change to the key name (not part of the signed bytes; the server looks
            // the key up by it, so another name means another key) can still verify.
            prop_assert!(!verifies || parsed.key != h.key);
        }
    }

    #[test]
    fn key_parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        let _ = SigPublic::from_bytes(&bytes);
        let _ = KemPublic::from_bytes(&bytes);
        let _ = Signature::from_bytes(&bytes);
        let _ = SigKey::from_seed(&bytes);
        let _ = KemKey::from_secret(&bytes);
        let _ = TeamKey::from_bytes(&bytes);
    }

    #[test]
    fn sealed_files_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        prop_assert!(open_with_passphrase(&bytes, b"passphrase").is_err());
        let mut framed = b"TSPW\x01".to_vec();
        framed.extend_from_slice(&bytes);
        let _ = open_with_passphrase(&framed, b"passphrase");
    }

    #[test]
    fn tampered_team_key_slots_never_open(
        enc_flip in 0usize..32,
        ct_flip in 0usize..48,
        extra in proptest::collection::vec(any::<u8>(), 0..8),
    ) {
        let kem = KemKey::generate().unwrap();
        let tk = TeamKey::generate().unwrap();
        let ctx = SlotContext { team: "t", epoch: 1, recipient: "d" };
        let sealed = seal_team_key(&kem.public(), &tk, &ctx).unwrap();
        let mut bad_enc = sealed.clone();
        bad_enc.enc[enc_flip] ^= 0x01;
        prop_assert!(open_team_key(&kem, &bad_enc, &ctx).is_err());
        let mut bad_ct = sealed.clone();
        bad_ct.ct[ct_flip] ^= 0x80;
        prop_assert!(open_team_key(&kem, &bad_ct, &ctx).is_err());
        let mut longer = sealed.clone();
        longer.ct.extend_from_slice(&extra);
        prop_assert_eq!(open_team_key(&kem, &longer, &ctx).is_ok(), extra.is_empty());
        let garbage = SealedKey { enc: extra.clone(), ct: extra };
        prop_assert!(open_team_key(&kem, &garbage, &ctx).is_err());
    }

    #[test]
    fn json_dtos_never_panic(s in ".{0,400}") {
        let _ = serde_json::from_str::<KeySlot>(&s);
        let _ = serde_json::from_str::<DeviceCert>(&s);
        let _ = serde_json::from_str::<EnrollmentBundle>(&s);
        let _ = serde_json::from_str::<KeyDirectory>(&s);
    }
}

#[test]
fn passphrase_file_with_absurd_costs_is_refused_before_any_work() {
    let sealed = seal_with_params(b"x", b"p", 8 * 1024, 1, 1).unwrap();
    for (offset, value) in [(5usize, u32::MAX), (9, 0), (13, 1000)] {
        let mut bad = sealed.clone();
        bad[offset..offset + 4].copy_from_slice(&value.to_be_bytes());
        assert!(open_with_passphrase(&bad, b"p").is_err());
    }
}

// The binary sync format (issue 23, with the fuzz targets of fuzz/): encode → decode gives
// the value back, and arbitrary bytes are refused or parse to a value that re-encodes to
// exactly them (the format has one encoding).

use tsunagi_protocol::wire::{Aux, Envelope, Kind, PullPage, Pulled, decode_batch, encode_batch};

fn any_envelope() -> impl Strategy<Value = Envelope> {
    let team = "[a-z0-9-]{0,64}";
    let aux = prop_oneof![
        Just((Kind::Change, Aux::None)),
        any::<u64>().prop_map(|covers| (Kind::Snapshot, Aux::Snapshot { covers })),
        (
            team,
            any::<u32>(),
            any::<u32>(),
            proptest::collection::vec(any::<u8>(), 0..=64)
        )
            .prop_map(|(team, team_epoch, created, enc)| {
                (
                    Kind::CaseKey,
                    Aux::CaseKey {
                        team,
                        team_epoch,
                        created,
                        enc,
                    },
                )
            }),
        (
            team,
            any::<u32>(),
            any::<u32>(),
            "consent|meeting|[a-z]{0,16}",
            any::<[u8; 16]>()
        )
            .prop_map(|(team, from_epoch, until_epoch, basis, basis_id)| {
                (
                    Kind::Grant,
                    Aux::Grant {
                        team,
                        from_epoch,
                        until_epoch,
                        basis,
                        basis_id,
                    },
                )
            }),
    ];
    (
        aux,
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        1u32..,
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        any::<[u8; 12]>(),
        proptest::collection::vec(any::<u8>(), 0..200),
        proptest::collection::vec(any::<u8>(), 64),
    )
        .prop_map(
            |((kind, aux), id, case, epoch, key_id, author, nonce, ct, sig)| Envelope {
                kind,
                id,
                case,
                epoch,
                key_id,
                author,
                aux,
                nonce,
                ct,
                sig: sig.try_into().unwrap(),
            },
        )
}

fn any_page() -> impl Strategy<Value = PullPage> {
    (
        proptest::collection::btree_set(1u64.., 0..8),
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 8),
        any::<bool>(),
        0u64..1000,
    )
        .prop_map(|(seqs, bodies, more, beyond)| {
            let items: Vec<Pulled> = seqs
                .into_iter()
                .zip(bodies)
                .map(|(seq, body)| Pulled { seq, body })
                .collect();
            let last = items.last().map_or(beyond, |p| p.seq);
            let next = if more {
                last
            } else {
                last.saturating_add(beyond)
            };
            PullPage { next, more, items }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn envelope_round_trips(e in any_envelope()) {
        let bytes = e.encode();
        prop_assert_eq!(Envelope::decode(&bytes).unwrap(), e);
    }

    #[test]
    fn signed_envelope_verifies_after_the_round_trip(mut e in any_envelope()) {
        let key = SigKey::from_seed(&[3; 32]).unwrap();
        e.sign(&key);
        let back = Envelope::decode(&e.encode()).unwrap();
        prop_assert!(back.verify(&key.public()));
        prop_assert!(Envelope::verify_all(&[(&back, &key.public())]));
    }

    #[test]
    fn envelope_decode_never_panics_and_reencodes(
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        if let Ok(e) = Envelope::decode(&bytes) {
            prop_assert_eq!(e.encode(), bytes);
        }
    }

    /// A real envelope with one byte changed, or cut short, never panics; cut short it is
    /// refused.
    #[test]
    fn damaged_envelopes_never_panic(
        e in any_envelope(),
        at in any::<proptest::sample::Index>(),
        flip in 1u8..=255,
        cut in any::<proptest::sample::Index>(),
    ) {
        let bytes = e.encode();
        let mut damaged = bytes.clone();
        let i = at.index(damaged.len());
        damaged[i] ^= flip;
        if let Ok(d) = Envelope::decode(&damaged) {
            prop_assert_eq!(d.encode(), damaged);
        }
        prop_assert!(Envelope::decode(&bytes[..cut.index(bytes.len())]).is_err());
    }

    #[test]
    fn push_batch_round_trips(envs in proptest::collection::vec(any_envelope(), 0..6)) {
        let bytes: Vec<Vec<u8>> = envs.iter().map(Envelope::encode).collect();
        let batch = encode_batch(&bytes);
        let back = decode_batch(&batch, 1000).unwrap();
        prop_assert_eq!(back.len(), envs.len());
        for (b, e) in back.iter().zip(&envs) {
            prop_assert_eq!(&Envelope::decode(b).unwrap(), e);
        }
        if !envs.is_empty() {
            prop_assert!(decode_batch(&batch, envs.len() - 1).is_err());
        }
    }

    #[test]
    fn push_batch_decode_never_panics_and_reencodes(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut framed = vec![1u8];
        framed.extend_from_slice(&bytes);
        for input in [&bytes[..], &framed[..]] {
            if let Ok(items) = decode_batch(input, 1000) {
                let owned: Vec<Vec<u8>> = items.iter().map(|b| b.to_vec()).collect();
                prop_assert_eq!(encode_batch(&owned), input);
            }
        }
    }

    #[test]
    fn pull_page_round_trips(page in any_page()) {
        prop_assert_eq!(PullPage::decode(&page.encode()).unwrap(), page);
    }

    #[test]
    fn pull_page_decode_never_panics_and_reencodes(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut framed = vec![1u8];
        framed.extend_from_slice(&bytes);
        for input in [&bytes[..], &framed[..]] {
            if let Ok(page) = PullPage::decode(input) {
                prop_assert_eq!(page.encode(), input);
            }
        }
    }

    /// A signed header prints and parses back to itself, whatever key name and time.
    #[test]
    fn auth_header_round_trips(key_name in "[a-z0-9-]{1,64}", ts in any::<i64>()) {
        let key = SigKey::from_seed(&[3; 32]).unwrap();
        let h = AuthHeader::sign(&key_name, &key, "POST", "/v1/sync/push", b"x", ts).unwrap();
        prop_assert_eq!(AuthHeader::parse(&h.to_header_value()).unwrap(), h);
    }

    /// The server checks a header of any time against its clock without overflowing:
    /// a time far from the clock is stale, never a panic.
    #[test]
    fn auth_header_time_check_never_overflows(ts in any::<i64>(), now in any::<i64>()) {
        let key = SigKey::from_seed(&[3; 32]).unwrap();
        let h = AuthHeader::sign("admin", &key, "GET", "/v1/keys", b"", ts).unwrap();
        let r = h.verify(&key.public(), "GET", "/v1/keys", b"", now);
        prop_assert_eq!(r.is_ok(), (i128::from(now) - i128::from(ts)).abs() <= 300_000);
    }
}

// JSON DTOs from the server and from files: any value prints and parses back to itself.

use tsunagi_protocol::api::{Role, StatementMember, TeamStatement};
use uuid::Uuid;

fn text() -> impl Strategy<Value = String> {
    "[\\PC\u{3000}-\u{30ff}\u{4e00}-\u{9fff}]{0,40}"
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..80)
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Worker), Just(Role::Lead)]
}

fn any_slot() -> impl Strategy<Value = KeySlot> {
    (
        text(),
        any::<u32>(),
        text(),
        bytes(),
        bytes(),
        text(),
        bytes(),
    )
        .prop_map(|(team, epoch, recipient, enc, ct, signer, sig)| KeySlot {
            team,
            epoch,
            recipient,
            enc,
            ct,
            signer,
            sig,
        })
}

fn any_cert() -> impl Strategy<Value = DeviceCert> {
    (
        (any::<u128>(), any::<u128>(), text(), text(), role()),
        (bytes(), bytes(), text(), text(), bytes()),
    )
        .prop_map(
            |(
                (device, user, user_name, team, role),
                (sig_pub, kem_pub, issued_at, signer, sig),
            )| {
                DeviceCert {
                    device: Uuid::from_u128(device),
                    user: Uuid::from_u128(user),
                    user_name,
                    team,
                    role,
                    sig_pub,
                    kem_pub,
                    issued_at,
                    signer,
                    sig,
                }
            },
        )
}

fn any_bundle() -> impl Strategy<Value = EnrollmentBundle> {
    (
        (any::<u32>(), text(), bytes(), bytes(), bytes()),
        (text(), any::<u128>(), text(), text(), role(), text()),
    )
        .prop_map(
            |(
                (v, server_url, server_pub, admin_pub, org_recovery_pub),
                (code, user, user_name, team, role, expires_at),
            )| EnrollmentBundle {
                v,
                server_url,
                server_pub,
                admin_pub,
                org_recovery_pub,
                code,
                user: Uuid::from_u128(user),
                user_name,
                team,
                role,
                expires_at,
                pin_min_digits: 6,
                lease_days: 14,
            },
        )
}

fn any_statement() -> impl Strategy<Value = TeamStatement> {
    (
        (text(), any::<u64>(), any::<u32>(), text()),
        proptest::collection::vec(
            (
                any::<u128>(),
                any::<u128>(),
                text(),
                role(),
                bytes(),
                bytes(),
            ),
            0..4,
        ),
        proptest::collection::vec(any::<u128>(), 0..3),
        bytes(),
    )
        .prop_map(
            |((team, version, epoch, issued_at), members, revoked, sig)| TeamStatement {
                team,
                version,
                epoch,
                issued_at,
                members: members
                    .into_iter()
                    .map(
                        |(device, user, user_name, role, sig_pub, kem_pub)| StatementMember {
                            device: Uuid::from_u128(device),
                            user: Uuid::from_u128(user),
                            user_name,
                            role,
                            sig_pub,
                            kem_pub,
                        },
                    )
                    .collect(),
                revoked: revoked.into_iter().map(Uuid::from_u128).collect(),
                sig,
            },
        )
}

fn any_member() -> impl Strategy<Value = StatementMember> {
    (
        any::<u128>(),
        any::<u128>(),
        text(),
        role(),
        bytes(),
        bytes(),
    )
        .prop_map(
            |(device, user, user_name, role, sig_pub, kem_pub)| StatementMember {
                device: Uuid::from_u128(device),
                user: Uuid::from_u128(user),
                user_name,
                role,
                sig_pub,
                kem_pub,
            },
        )
}

/// How many ways [`change_one_field`] has to change a statement.
const STATEMENT_FIELDS: usize = 13;

/// `s` with exactly one field changed (never the signature), chosen by `field`: 0 team,
/// 1 version, 2 epoch, 3 issued_at, 4–9 the device, user, user_name, role, sig_pub or
/// kem_pub of the member `at` picks (`s` must have one), 10 a revoked device added, 11 the
/// revoked device `at` picks changed (added if there is none), 12 `member` added. The new
/// value is `new_text`, `new_bytes`, or the old one XOR / plus `flip` (never 0); a new text
/// or bytes equal to the old one is made different.
fn change_one_field(
    s: &TeamStatement,
    field: usize,
    at: &proptest::sample::Index,
    new_text: String,
    new_bytes: Vec<u8>,
    flip: u128,
    member: StatementMember,
) -> TeamStatement {
    let other_text = |old: &str| {
        if new_text == old {
            format!("{old}x")
        } else {
            new_text.clone()
        }
    };
    let other_bytes = |old: &[u8]| {
        if new_bytes == old {
            [old, &[0]].concat()
        } else {
            new_bytes.clone()
        }
    };
    let other_id = |old: Uuid| Uuid::from_u128(old.as_u128() ^ flip);
    let mut b = s.clone();
    match field {
        0 => b.team = other_text(&s.team),
        1 => {
            b.version = s
                .version
                .wrapping_add((flip % u128::from(u64::MAX)) as u64 + 1)
        }
        2 => {
            b.epoch = s
                .epoch
                .wrapping_add((flip % u128::from(u32::MAX)) as u32 + 1)
        }
        3 => b.issued_at = other_text(&s.issued_at),
        4..=9 => {
            let m = &mut b.members[at.index(s.members.len())];
            match field {
                4 => m.device = other_id(m.device),
                5 => m.user = other_id(m.user),
                6 => m.user_name = other_text(&m.user_name),
                7 => {
                    m.role = match m.role {
                        Role::Worker => Role::Lead,
                        Role::Lead => Role::Worker,
                    }
                }
                8 => m.sig_pub = other_bytes(&m.sig_pub),
                _ => m.kem_pub = other_bytes(&m.kem_pub),
            }
        }
        10 => b.revoked.push(other_id(Uuid::nil())),
        11 if s.revoked.is_empty() => b.revoked.push(other_id(Uuid::nil())),
        11 => {
            let r = &mut b.revoked[at.index(s.revoked.len())];
            *r = other_id(*r);
        }
        _ => b.members.push(member),
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn key_slot_json_round_trips(s in any_slot()) {
        let json = serde_json::to_string(&s).unwrap();
        prop_assert_eq!(serde_json::from_str::<KeySlot>(&json).unwrap(), s);
    }

    #[test]
    fn device_cert_json_round_trips(c in any_cert()) {
        let json = serde_json::to_string(&c).unwrap();
        prop_assert_eq!(serde_json::from_str::<DeviceCert>(&json).unwrap(), c);
    }

    #[test]
    fn enrollment_bundle_json_round_trips(b in any_bundle()) {
        let json = serde_json::to_string_pretty(&b).unwrap();
        prop_assert_eq!(serde_json::from_str::<EnrollmentBundle>(&json).unwrap(), b);
    }

    /// A team statement survives JSON; its signed message names every field (the statement
    /// with exactly one field changed — team, version, epoch, issued_at, one member's device,
    /// user, user_name, role, sig_pub or kem_pub, a member or a revoked device added, a revoked
    /// device changed — signs different bytes) and not the signature (a statement with only its
    /// signature changed signs the same bytes), and a signature check over any of them never
    /// panics.
    #[test]
    fn team_statement_round_trips_and_signs_every_field(
        a in any_statement(),
        field in 0..STATEMENT_FIELDS,
        at in any::<proptest::sample::Index>(),
        new_text in text(),
        new_bytes in bytes(),
        flip in 1..=u128::MAX,
        member in any_member(),
    ) {
        let json = serde_json::to_string(&a).unwrap();
        prop_assert_eq!(serde_json::from_str::<TeamStatement>(&json).unwrap(), a.clone());
        let mut base = a.clone();
        if base.members.is_empty() && (4..=9).contains(&field) {
            // A member's field needs a member to change.
            base.members.push(member.clone());
        }
        let b = change_one_field(&base, field, &at, new_text, new_bytes, flip, member);
        prop_assert_ne!(&b, &base, "field {} changed", field);
        prop_assert_eq!(&b.sig, &base.sig, "the signature is not what changed");
        prop_assert_ne!(
            base.signed_message(),
            b.signed_message(),
            "field {} is signed: {:?} vs {:?}",
            field,
            &base,
            &b
        );
        let mut resigned = base.clone();
        resigned.sig.push(0);
        prop_assert_eq!(base.signed_message(), resigned.signed_message());
        let key = tsunagi_crypto::identity::SigKey::from_seed(&[7; 32]).unwrap();
        if let Ok(sig) = tsunagi_crypto::identity::Signature::from_bytes(&a.sig) {
            prop_assert!(key.public().verify(&a.signed_message(), &sig).is_err());
        }
    }

    #[test]
    fn key_directory_json_round_trips(
        certs in proptest::collection::vec(any_cert(), 0..3),
        slots in proptest::collection::vec(any_slot(), 0..3),
        epoch in proptest::option::of(any::<u32>()),
        team in text(),
        statement in proptest::option::of(any_statement()),
    ) {
        let d = KeyDirectory {
            device: Uuid::from_u128(1),
            state: tsunagi_protocol::api::DeviceState::Active,
            team,
            current_epoch: epoch,
            certs,
            slots,
            statement,
        };
        let json = serde_json::to_vec(&d).unwrap();
        prop_assert_eq!(serde_json::from_slice::<KeyDirectory>(&json).unwrap(), d);
    }

    /// A real DTO's JSON with one byte changed never panics.
    #[test]
    fn damaged_dto_json_never_panics(
        c in any_cert(),
        at in any::<proptest::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut json = serde_json::to_vec(&c).unwrap();
        let i = at.index(json.len());
        json[i] = byte;
        let _ = serde_json::from_slice::<DeviceCert>(&json);
        let _ = serde_json::from_slice::<KeySlot>(&json);
        let _ = serde_json::from_slice::<EnrollmentBundle>(&json);
    }
}
