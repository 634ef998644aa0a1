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
