//! Fuzz target: the plaintext of a snapshot envelope as a device opens it
//! (`tsunagi_device::snapshot_payload::decode`): refused whole or every state with exactly
//! the JSON text it was read from; the states encode and decode to the same values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tsunagi_core::merge::EntityState;
use tsunagi_device::snapshot_payload;
use tsunagi_store::codec;

fuzz_target!(|data: &[u8]| {
    let Ok(states) = snapshot_payload::decode(data) else {
        return;
    };
    for s in &states {
        let text = s.json.as_deref().expect("each state keeps its text");
        let parsed: EntityState = serde_json::from_slice(text).expect("its own text parses");
        assert_eq!(parsed, s.state);
    }
    let values: Vec<&EntityState> = states.iter().map(|s| &s.state).collect();
    let again = codec::encode(&values, "snapshot").expect("encodes");
    let back = snapshot_payload::decode(&again).expect("re-encoded snapshot decodes");
    assert_eq!(back.len(), states.len());
    for (b, s) in back.iter().zip(&states) {
        assert_eq!(b.state, s.state);
    }
});
