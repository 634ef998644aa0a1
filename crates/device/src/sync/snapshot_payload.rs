//! The plaintext of a snapshot envelope (docs/protocol.md, "Payloads"): each author's chain
//! head in the case as of the snapshot (`u8 3 | u32 n | n × (author[16] | u64 seq |
//! link[32])`, written), then the JSON array of the case's entity states, compressed as one
//! value ([`tsunagi_store::codec`], tag 2 or 1; without the heads before them, still read).
//! Written from each state's stored JSON, without parsing and serializing it again; opened
//! with each state's own JSON text, so a store that then holds exactly that state compresses
//! the text as it came instead of printing the state again.

use tsunagi_core::ids::EntityId;
use tsunagi_core::merge::EntityState;
use tsunagi_store::{ChainHead, SnapshotState, Store, StoreError, codec};
use uuid::Uuid;

/// Tag of a payload that begins with the chain heads.
const WITH_HEADS: u8 = 3;
/// Most chain heads one snapshot carries (one per author device of the case).
const MAX_HEADS: usize = 100_000;

fn malformed(detail: impl ToString) -> StoreError {
    StoreError::Unreadable {
        what: "snapshot".into(),
        detail: detail.to_string(),
    }
}

/// A case's snapshot payload: what `codec::encode(&store.case_states(case)?)` gives (a JSON
/// array of its entities' states, compressed), but made from each state's stored JSON
/// without parsing and serializing it again. A sealing device makes one per case of its
/// team: at 100,000 contacts, sealing and pushing all 500 took 9.9–11.7 s instead of
/// 13.0–13.8 s (`tsunagi-syncbench`, phase B's snapshot step).
pub fn of_case(store: &Store, case: EntityId) -> Result<Vec<u8>, StoreError> {
    let mut json = vec![b'['];
    store.case_states_json(case, |state| append(&mut json, state))?;
    let mut out = heads_prefix(&store.chain_heads_of(case)?);
    out.extend(finish(json)?);
    Ok(out)
}

/// The chain heads a snapshot begins with.
fn heads_prefix(heads: &[ChainHead]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + heads.len() * 56);
    out.push(WITH_HEADS);
    out.extend_from_slice(&(heads.len() as u32).to_be_bytes());
    for h in heads {
        out.extend_from_slice(h.author.as_bytes());
        out.extend_from_slice(&h.seq.to_be_bytes());
        out.extend_from_slice(&h.link);
    }
    out
}

/// Opens a snapshot payload into its chain heads (none in a payload written before chains)
/// and its states. Strict, as [`decode`].
pub fn decode_with_heads(plain: &[u8]) -> Result<(Vec<ChainHead>, Vec<SnapshotState>), StoreError> {
    if plain.first() != Some(&WITH_HEADS) {
        return Ok((Vec::new(), decode(plain)?));
    }
    let n = plain
        .get(1..5)
        .map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")) as usize)
        .ok_or_else(|| malformed("chain heads cut short"))?;
    if n > MAX_HEADS || plain.len() < 5 + n * 56 {
        return Err(malformed("chain heads cut short"));
    }
    let mut heads = Vec::with_capacity(n);
    for one in plain[5..5 + n * 56].chunks_exact(56) {
        let seq = u64::from_be_bytes(one[16..24].try_into().expect("8 bytes"));
        if seq == 0 {
            return Err(malformed("a chain head at position 0"));
        }
        heads.push(ChainHead {
            author: Uuid::from_slice(&one[..16]).map_err(malformed)?,
            seq,
            link: one[24..].try_into().expect("32 bytes"),
        });
    }
    Ok((heads, decode(&plain[5 + n * 56..])?))
}

/// Adds one state's JSON text to the array begun with `[`.
fn append(json: &mut Vec<u8>, state: &[u8]) {
    if json.len() > 1 {
        json.push(b',');
    }
    json.extend_from_slice(state);
}

/// Closes the array and compresses it.
fn finish(mut json: Vec<u8>) -> Result<Vec<u8>, StoreError> {
    json.push(b']');
    codec::encode_json(&json, "snapshot")
}

/// Opens a snapshot payload's states (without chain heads before them). Strict: anything but
/// an array of entity states (with JSON's whitespace) refuses the whole snapshot, never a
/// part of it.
pub fn decode(plain: &[u8]) -> Result<Vec<SnapshotState>, StoreError> {
    let json = codec::json_of(plain, "snapshot")?;
    let skip_ws = |mut at: usize| {
        while json.get(at).is_some_and(|b| b" \t\n\r".contains(b)) {
            at += 1;
        }
        at
    };
    let mut at = skip_ws(0);
    if json.get(at) != Some(&b'[') {
        return Err(malformed("not an array"));
    }
    at = skip_ws(at + 1);
    let mut out = Vec::new();
    if json.get(at) == Some(&b']') {
        at += 1;
    } else {
        loop {
            // Each element is parsed once, where it stands; the parser says where it ended, so
            // the element's text is known without a second pass over it.
            let mut one = serde_json::Deserializer::from_slice(&json[at..]).into_iter();
            let state: EntityState = match one.next() {
                Some(Ok(state)) => state,
                Some(Err(e)) => return Err(malformed(format!("state {}: {e}", out.len()))),
                None => return Err(malformed(format!("state {}: missing", out.len()))),
            };
            let end = at + one.byte_offset();
            out.push(SnapshotState {
                state,
                json: Some(json[at..end].to_vec()),
            });
            at = skip_ws(end);
            match json.get(at) {
                Some(b',') => at = skip_ws(at + 1),
                Some(b']') => {
                    at += 1;
                    break;
                }
                _ => return Err(malformed(format!("after state {}", out.len() - 1))),
            }
        }
    }
    if skip_ws(at) != json.len() {
        return Err(malformed("text after the array"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tsunagi_core::change::{ChangeBody, ChangeSet, EntityKind, FieldWrite};
    use tsunagi_core::hlc::Hlc;
    use tsunagi_core::ids::{DeviceId, EntityId, OpId};
    use uuid::Uuid;

    fn state(n: u128, note: &str) -> EntityState {
        let id = EntityId::from_uuid(Uuid::from_u128(n));
        let mut s = EntityState::new(EntityKind::Contact, id);
        let mut fields = std::collections::BTreeMap::new();
        for (k, v) in [("note", json!(note)), ("person", json!(Uuid::from_u128(7)))] {
            fields.insert(
                k.to_owned(),
                FieldWrite {
                    value: v,
                    supersedes: Vec::new(),
                },
            );
        }
        s.apply(&ChangeSet {
            op: OpId::from_uuid(Uuid::from_u128(100 + n)),
            kind: EntityKind::Contact,
            entity: id,
            hlc: Hlc::ZERO,
            device: DeviceId::from_uuid(Uuid::from_u128(9)),
            body: ChangeBody::Set(fields),
        })
        .unwrap();
        s
    }

    /// Each state comes with exactly the text of its element (here pretty-printed, as
    /// another implementation might write it), which parses to it; zstd and deflate both read.
    #[test]
    fn each_state_comes_with_its_own_text() {
        let states = vec![
            state(1, "不在のため置き手紙を残した。"),
            state(2, "会えた。"),
        ];
        let pretty = serde_json::to_string_pretty(&states).unwrap();
        let value: serde_json::Value = serde_json::from_str(&pretty).unwrap();
        let compact = serde_json::to_string(&value).unwrap();
        for (plain, source) in [
            (codec::encode_json(pretty.as_bytes(), "x").unwrap(), &pretty),
            (crate::sync::deflated(&value), &compact),
        ] {
            let got = decode(&plain).unwrap();
            assert_eq!(got.len(), 2);
            for (g, s) in got.iter().zip(&states) {
                assert_eq!(&g.state, s);
                let text = std::str::from_utf8(g.json.as_deref().unwrap()).unwrap();
                assert!(text.contains('\n') == (source == &pretty), "{text}");
                assert!(source.contains(text), "{text}");
                assert_eq!(&serde_json::from_str::<EntityState>(text).unwrap(), s);
            }
        }
        assert!(
            decode(&codec::encode(&json!([]), "x").unwrap())
                .unwrap()
                .is_empty()
        );
    }

    /// A payload written from the states' JSON texts is what encoding the states gives, and
    /// opens to them.
    #[test]
    fn a_payload_written_from_json_texts_opens_to_the_states() {
        let states = vec![state(1, "訪問 \"引用\"と\\"), state(2, "会えた。")];
        let mut json = vec![b'['];
        for s in &states {
            append(&mut json, &serde_json::to_vec(s).unwrap());
        }
        let plain = finish(json).unwrap();
        assert_eq!(
            codec::decode::<Vec<EntityState>>(&plain, "x").unwrap(),
            codec::decode::<Vec<EntityState>>(&codec::encode(&states, "x").unwrap(), "x").unwrap()
        );
        let got: Vec<EntityState> = decode(&plain)
            .unwrap()
            .into_iter()
            .map(|s| s.state)
            .collect();
        assert_eq!(got, states);
        let empty = finish(vec![b'[']).unwrap();
        assert!(decode(&empty).unwrap().is_empty());
    }

    /// A snapshot begins with its chain heads, which open as they were written; a payload
    /// without them still opens; heads cut short or at position 0 refuse the whole snapshot.
    #[test]
    fn chain_heads_travel_with_the_states() {
        let heads = vec![
            ChainHead {
                author: Uuid::from_u128(5),
                seq: 12,
                link: [7; 32],
            },
            ChainHead {
                author: Uuid::from_u128(6),
                seq: 1,
                link: [8; 32],
            },
        ];
        let states = codec::encode(&vec![state(1, "訪問")], "x").unwrap();
        let mut plain = heads_prefix(&heads);
        plain.extend_from_slice(&states);
        let (got, s) = decode_with_heads(&plain).unwrap();
        assert_eq!(got, heads);
        assert_eq!(s.len(), 1);
        let (none, s) = decode_with_heads(&states).unwrap();
        assert!(none.is_empty());
        assert_eq!(s.len(), 1);
        for n in 1..5 + 2 * 56 {
            assert!(decode_with_heads(&plain[..n]).is_err(), "cut at {n} opened");
        }
        let mut zero = plain.clone();
        zero[5 + 16..5 + 24].copy_from_slice(&0u64.to_be_bytes());
        assert!(decode_with_heads(&zero).is_err());
        let mut many = plain;
        many[1..5].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(decode_with_heads(&many).is_err());
    }

    #[test]
    fn a_damaged_or_foreign_payload_is_refused_whole() {
        let good = codec::encode(&vec![state(1, "訪問")], "x").unwrap();
        assert!(decode(&good).is_ok());
        let mut flipped = good.clone();
        let n = flipped.len();
        flipped[n / 2] ^= 0xff;
        assert!(decode(&flipped).is_err());
        assert!(decode(&good[..good.len() - 2]).is_err());
        assert!(decode(&[]).is_err());
        // Not an array; an array with one element that is not an entity state.
        assert!(decode(&codec::encode(&json!({"a": 1}), "x").unwrap()).is_err());
        let mixed = codec::encode(&json!([state(1, "訪問"), {"a": 1}]), "x").unwrap();
        let err = decode(&mixed).unwrap_err().to_string();
        assert!(err.contains("state 1"), "{err}");
        // Broken arrays: no separator, a trailing comma, no end, text after the end, a number.
        let one = serde_json::to_string(&state(1, "訪問")).unwrap();
        for text in [
            format!("[{one} {one}]"),
            format!("[{one},]"),
            format!("[{one}"),
            format!("[{one}] x"),
            format!("[{one}]]"),
            "[1]".to_owned(),
            "[".to_owned(),
            " ".to_owned(),
        ] {
            let plain = codec::encode_json(text.as_bytes(), "x").unwrap();
            assert!(decode(&plain).is_err(), "{text}");
        }
        let spaced = format!(" [ {one} ,\n{one} ] \n");
        let got = decode(&codec::encode_json(spaced.as_bytes(), "x").unwrap()).unwrap();
        assert_eq!(got.len(), 2);
        assert!(
            got.iter()
                .all(|g| g.json.as_deref() == Some(one.as_bytes()))
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Any number of states with any notes: encode → decode gives them back, each with
        /// its own text.
        #[test]
        fn snapshot_payload_round_trips(
            notes in proptest::collection::vec("[\\PC\u{3000}-\u{30ff}\u{4e00}-\u{9fff}]{0,40}", 0..6),
        ) {
            let states: Vec<EntityState> = notes
                .iter()
                .enumerate()
                .map(|(i, n)| state(i as u128 + 1, n))
                .collect();
            let plain = codec::encode(&states, "x").unwrap();
            let got = decode(&plain).unwrap();
            proptest::prop_assert_eq!(got.len(), states.len());
            for (g, s) in got.iter().zip(&states) {
                proptest::prop_assert_eq!(&g.state, s);
                let text = g.json.as_deref().unwrap();
                proptest::prop_assert_eq!(&serde_json::from_slice::<EntityState>(text).unwrap(), s);
            }
        }

        /// Arbitrary bytes, and arbitrary text compressed as a snapshot, never panic: the
        /// whole snapshot is refused, or every state comes with the text it parses from.
        #[test]
        fn snapshot_payload_never_panics_on_arbitrary_input(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            text in "[\\[\\]{},:\" a-z0-9\\PC]{0,200}",
        ) {
            let _ = decode(&bytes);
            let plain = codec::encode_json(text.as_bytes(), "x").unwrap();
            if let Ok(got) = decode(&plain) {
                for g in got {
                    let t = g.json.unwrap();
                    proptest::prop_assert_eq!(serde_json::from_slice::<EntityState>(&t).unwrap(), g.state);
                }
            }
        }
    }
}
