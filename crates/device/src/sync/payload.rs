//! The plaintext of a change-set envelope (docs/protocol.md, "Payloads"): the op-log row as
//! the store keeps it, so that sealing an outbox op and storing a received one copy the body
//! bytes instead of decompressing, parsing, printing and compressing them again.
//!
//! Format 3 (written): `u8 3 | op[16] | entity[16] | device[16] | u64 chain_seq | prev[32] |
//! u8 len | kind | u8 len | hlc (sortable text) | body`, where `body` is the op body in the
//! store's BLOB format ([`tsunagi_store::codec`]: a tag byte, then compressed JSON) and
//! `chain_seq`/`prev` place the change in its author's chain of its case
//! ([`tsunagi_store::chain`]). Format 2 (read): the same without the chain fields. Format 1
//! (read only, the first payloads): the whole change set deflated, as the codec's tag 1.

use tsunagi_core::change::{ChangeBody, ChangeSet, EntityKind};
use tsunagi_core::hlc::Hlc;
use tsunagi_core::ids::{DeviceId, EntityId, OpId};
use tsunagi_store::chain::ZERO_LINK;
use tsunagi_store::{ChainPos, OutboxOp, ReceivedChange, StoreError, codec};
use uuid::Uuid;

/// Tag of format 2. Format 1 starts with the codec's deflate tag, [`codec::DEFLATE_JSON`]
/// (the only codec format of its time).
const OP_ROW: u8 = 2;
/// Tag of format 3: format 2 with the change's chain position.
const CHAINED_ROW: u8 = 3;

fn malformed(detail: impl Into<String>) -> StoreError {
    StoreError::Unreadable {
        what: "change-set payload".into(),
        detail: detail.into(),
    }
}

/// Format 3 of an outbox op (format 2 if it has no chain position yet): its op-log row as
/// stored, the body copied as it is.
pub fn of_outbox(op: &OutboxOp) -> Result<Vec<u8>, StoreError> {
    encode_row(
        op.op.as_uuid().as_bytes(),
        op.entity.as_uuid().as_bytes(),
        op.device.as_uuid().as_bytes(),
        op.chain,
        &op.kind,
        &op.hlc,
        &op.body,
    )
}

/// Format 3 (with a chain position) or 2 of an op-log row (the fields as the `ops` table
/// stores them).
fn encode_row(
    op: &[u8; 16],
    entity: &[u8; 16],
    device: &[u8; 16],
    chain: Option<ChainPos>,
    kind: &str,
    hlc: &str,
    body: &[u8],
) -> Result<Vec<u8>, StoreError> {
    let short = |s: &str, what: &str| {
        u8::try_from(s.len()).map_err(|_| malformed(format!("{what} longer than 255 bytes")))
    };
    let mut out = Vec::with_capacity(91 + kind.len() + hlc.len() + body.len());
    out.push(if chain.is_some() { CHAINED_ROW } else { OP_ROW });
    out.extend_from_slice(op);
    out.extend_from_slice(entity);
    out.extend_from_slice(device);
    if let Some(c) = chain {
        out.extend_from_slice(&c.seq.to_be_bytes());
        out.extend_from_slice(&c.prev);
    }
    out.push(short(kind, "kind")?);
    out.extend_from_slice(kind.as_bytes());
    out.push(short(hlc, "hlc")?);
    out.extend_from_slice(hlc.as_bytes());
    out.extend_from_slice(body);
    Ok(out)
}

/// Format 2 of a change set (tests, and any caller holding a decoded change set).
pub fn encode(cs: &ChangeSet) -> Result<Vec<u8>, StoreError> {
    encode_chained(cs, None)
}

/// Format 3 of a change set at a chain position (format 2 without one).
pub fn encode_chained(cs: &ChangeSet, chain: Option<ChainPos>) -> Result<Vec<u8>, StoreError> {
    let body = codec::encode(&cs.body, "change-set body")?;
    encode_row(
        cs.op.as_uuid().as_bytes(),
        cs.entity.as_uuid().as_bytes(),
        cs.device.as_uuid().as_bytes(),
        chain,
        cs.kind.key(),
        &cs.hlc.to_sortable(),
        &body,
    )
}

/// Opens a change-set payload of any format. Strict: a short, overlong or unparsable
/// field is refused, never guessed.
pub fn decode(plain: &[u8]) -> Result<ReceivedChange, StoreError> {
    Ok(decode_chained(plain)?.0)
}

/// [`decode`], with the chain position a format 3 payload carries (the caller computes its
/// link: it depends on the envelope's case and author).
pub fn decode_chained(plain: &[u8]) -> Result<(ReceivedChange, Option<ChainPos>), StoreError> {
    let chained = match plain.first() {
        Some(&OP_ROW) => false,
        Some(&CHAINED_ROW) => true,
        Some(&codec::DEFLATE_JSON) => {
            return Ok((
                ReceivedChange {
                    cs: codec::decode(plain, "change set")?,
                    body: None,
                    chain: None,
                    pulled: None,
                },
                None,
            ));
        }
        Some(tag) => return Err(malformed(format!("unknown payload format {tag}"))),
        None => return Err(malformed("empty")),
    };
    let mut rest = &plain[1..];
    let mut take = |n: usize, what: &str| -> Result<&[u8], StoreError> {
        if rest.len() < n {
            return Err(malformed(format!("cut short in {what}")));
        }
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Ok(head)
    };
    let id = |b: &[u8]| Uuid::from_slice(b).map_err(|e| malformed(e.to_string()));
    let op = OpId::from_uuid(id(take(16, "op id")?)?);
    let entity = EntityId::from_uuid(id(take(16, "entity")?)?);
    let device = DeviceId::from_uuid(id(take(16, "device")?)?);
    let chain = if chained {
        let seq = u64::from_be_bytes(take(8, "chain seq")?.try_into().expect("8 bytes"));
        let prev: [u8; 32] = take(32, "chain prev")?.try_into().expect("32 bytes");
        if seq == 0 {
            return Err(malformed("chain position 0"));
        }
        if seq == 1 && prev != ZERO_LINK {
            return Err(malformed("a first change with a previous link"));
        }
        Some(ChainPos { seq, prev })
    } else {
        None
    };
    let n = usize::from(take(1, "kind")?[0]);
    let kind = std::str::from_utf8(take(n, "kind")?).map_err(|e| malformed(e.to_string()))?;
    let kind = EntityKind::parse(kind).map_err(|e| malformed(e.to_string()))?;
    let n = usize::from(take(1, "hlc")?[0]);
    let hlc = std::str::from_utf8(take(n, "hlc")?).map_err(|e| malformed(e.to_string()))?;
    let hlc = Hlc::parse_sortable(hlc).map_err(|e| malformed(e.to_string()))?;
    let body_bytes = rest.to_vec();
    let body: ChangeBody = codec::decode(&body_bytes, "change-set body")?;
    Ok((
        ReceivedChange {
            cs: ChangeSet {
                op,
                kind,
                entity,
                hlc,
                device,
                body,
            },
            body: Some(body_bytes),
            chain: None,
            pulled: None,
        },
        chain,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use tsunagi_core::change::FieldWrite;

    fn change() -> ChangeSet {
        let mut fields = BTreeMap::new();
        fields.insert(
            "note".to_owned(),
            FieldWrite {
                value: serde_json::json!("不在のため置き手紙を残した。"),
                supersedes: Vec::new(),
            },
        );
        ChangeSet {
            op: OpId::from_uuid(Uuid::from_u128(1)),
            kind: EntityKind::Contact,
            entity: EntityId::from_uuid(Uuid::from_u128(2)),
            hlc: Hlc {
                wall_ms: 1_763_700_000_000,
                counter: 7,
            },
            device: DeviceId::from_uuid(Uuid::from_u128(3)),
            body: ChangeBody::Set(fields),
        }
    }

    #[test]
    fn both_formats_open_to_the_same_change_set() {
        let cs = change();
        let two = encode(&cs).unwrap();
        assert_eq!(two[0], OP_ROW);
        let got = decode(&two).unwrap();
        assert_eq!(got.cs, cs);
        let body = got.body.expect("format 2 keeps the body bytes");
        assert_eq!(codec::decode::<ChangeBody>(&body, "b").unwrap(), cs.body);
        // Format 1 as the first devices wrote it: the whole change set, deflated (codec tag 1).
        let one = crate::sync::deflated(&cs);
        assert_eq!(
            decode(&one).unwrap(),
            ReceivedChange {
                cs,
                body: None,
                chain: None,
                pulled: None
            }
        );
        assert!(
            decode(&[7, 1, 2])
                .unwrap_err()
                .to_string()
                .contains("format 7")
        );
    }

    /// An outbox op goes out as its op-log row: the stored body bytes end the payload as they
    /// are, and the payload opens to the same change set with those bytes.
    #[test]
    fn an_outbox_op_is_sealed_with_its_stored_body() {
        let cs = change();
        let body = codec::encode(&cs.body, "b").unwrap();
        let op = OutboxOp {
            seq: 1,
            case: cs.entity,
            op: cs.op,
            entity: cs.entity,
            device: cs.device,
            kind: cs.kind.key().to_owned(),
            hlc: cs.hlc.to_sortable(),
            body: body.clone(),
            chain: None,
        };
        let plain = of_outbox(&op).unwrap();
        assert_eq!(plain, encode(&cs).unwrap());
        assert!(plain.ends_with(&body));
        assert_eq!(
            decode(&plain).unwrap(),
            ReceivedChange {
                cs: cs.clone(),
                body: Some(body.clone()),
                chain: None,
                pulled: None,
            }
        );
        // With its chain position: format 3, which opens to the same change set and position.
        let pos = ChainPos {
            seq: 7,
            prev: [9; 32],
        };
        let chained = of_outbox(&OutboxOp {
            chain: Some(pos),
            ..op
        })
        .unwrap();
        assert_eq!(chained[0], CHAINED_ROW);
        assert_eq!(chained, encode_chained(&cs, Some(pos)).unwrap());
        let (got, got_pos) = decode_chained(&chained).unwrap();
        assert_eq!((got.cs, got_pos), (cs, Some(pos)));
    }

    #[test]
    fn chain_positions_are_checked() {
        let cs = change();
        for bad in [
            ChainPos {
                seq: 0,
                prev: ZERO_LINK,
            },
            ChainPos {
                seq: 1,
                prev: [1; 32],
            },
        ] {
            assert!(decode(&encode_chained(&cs, Some(bad)).unwrap()).is_err());
        }
        let three = encode_chained(
            &cs,
            Some(ChainPos {
                seq: 2,
                prev: [1; 32],
            }),
        )
        .unwrap();
        for n in 1..three.len() {
            assert!(decode(&three[..n]).is_err(), "a payload cut at {n} opened");
        }
    }

    #[test]
    fn damaged_payloads_are_refused() {
        let two = encode(&change()).unwrap();
        assert!(decode(&[]).is_err());
        // Every truncation is refused (the body's zstd frame, too).
        for n in 1..two.len() {
            assert!(decode(&two[..n]).is_err(), "a payload cut at {n} opened");
        }
        let mut bad_kind = two.clone();
        bad_kind[50] = 0xff; // kind length past the end
        assert!(decode(&bad_kind).is_err());
        let mut bad_body = two.clone();
        let last = bad_body.len() - 1;
        bad_body[last] ^= 0x55;
        assert!(decode(&bad_body).is_err());
        let mut unknown = two;
        unknown[0] = 9;
        assert!(decode(&unknown).is_err());
    }

    /// Any change set: every entity kind, ids, an HLC in the sortable range, a tombstone or
    /// fields of strings (Japanese too), integers, booleans and null with their versions.
    fn any_change() -> impl proptest::strategy::Strategy<Value = ChangeSet> {
        use proptest::prelude::*;
        use tsunagi_core::change::Version;
        let id = any::<u128>().prop_map(Uuid::from_u128);
        let hlc =
            (0u64..1 << 48, any::<u32>()).prop_map(|(wall_ms, counter)| Hlc { wall_ms, counter });
        let value = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            "[\\PC\u{3000}-\u{30ff}\u{4e00}-\u{9fff}]{0,60}".prop_map(serde_json::Value::from),
        ];
        let version = (hlc.clone(), id.clone()).prop_map(|(hlc, d)| Version {
            hlc,
            device: DeviceId::from_uuid(d),
        });
        let write = (value, proptest::collection::vec(version, 0..3))
            .prop_map(|(value, supersedes)| FieldWrite { value, supersedes });
        let body = prop_oneof![
            Just(ChangeBody::Tombstone),
            proptest::collection::btree_map("[a-z_]{1,16}", write, 0..6).prop_map(ChangeBody::Set),
        ];
        (
            id.clone(),
            0..EntityKind::ALL.len(),
            id.clone(),
            hlc,
            id,
            body,
        )
            .prop_map(|(op, kind, entity, hlc, device, body)| ChangeSet {
                op: OpId::from_uuid(op),
                kind: EntityKind::ALL[kind],
                entity: EntityId::from_uuid(entity),
                hlc,
                device: DeviceId::from_uuid(device),
                body,
            })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Encode → decode gives the change set back, in format 2 and in format 1.
        #[test]
        fn change_payload_round_trips(cs in any_change()) {
            let plain = encode(&cs).unwrap();
            let got = decode(&plain).unwrap();
            proptest::prop_assert_eq!(&got.cs, &cs);
            proptest::prop_assert!(plain.ends_with(&got.body.unwrap()));
            proptest::prop_assert_eq!(decode(&crate::sync::deflated(&cs)).unwrap().cs, cs);
        }

        /// Arbitrary bytes, alone or behind either format's tag, never panic; what decodes
        /// goes out again as an outbox op that decodes to the same change set.
        #[test]
        fn change_payload_never_panics_on_arbitrary_bytes(
            tag in 0u8..4,
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        ) {
            let mut plain = vec![tag];
            plain.extend_from_slice(&bytes);
            for input in [&plain[..], &bytes[..]] {
                if let Ok(got) = decode(input) {
                    let again = encode(&got.cs).unwrap();
                    proptest::prop_assert_eq!(decode(&again).unwrap().cs, got.cs);
                }
            }
        }

        /// A real payload with one byte changed or cut short never panics; cut short it is
        /// refused.
        #[test]
        fn change_payload_damage_never_panics(
            cs in any_change(),
            at in proptest::prelude::any::<proptest::sample::Index>(),
            flip in 1u8..=255,
            cut in proptest::prelude::any::<proptest::sample::Index>(),
        ) {
            let plain = encode(&cs).unwrap();
            let mut damaged = plain.clone();
            let i = at.index(damaged.len());
            damaged[i] ^= flip;
            let _ = decode(&damaged);
            proptest::prop_assert!(decode(&plain[..cut.index(plain.len())]).is_err());
        }
    }
}
