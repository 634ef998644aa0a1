//! Fuzz target: the plaintext of a change-set envelope as a device opens it
//! (`tsunagi_device::payload::decode`, both formats) — in the threat model, what another
//! device of the team sealed, or a damaged store. A decoded change set goes out again as the
//! same op-log row and opens to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tsunagi_device::payload;
use tsunagi_store::OutboxOp;

fuzz_target!(|data: &[u8]| {
    let Ok((got, chain)) = payload::decode_chained(data) else {
        return;
    };
    let cs = &got.cs;
    let body = match &got.body {
        Some(body) => body.clone(),
        None => tsunagi_store::codec::encode(&cs.body, "body").expect("a decoded body encodes"),
    };
    let op = OutboxOp {
        seq: 1,
        case: cs.entity,
        op: cs.op,
        entity: cs.entity,
        device: cs.device,
        kind: cs.kind.key().to_owned(),
        hlc: cs.hlc.to_sortable(),
        body,
        chain,
    };
    let again = payload::of_outbox(&op).expect("a decoded change set encodes");
    let (back, back_chain) =
        payload::decode_chained(&again).expect("a re-encoded change set decodes");
    assert_eq!(back.cs, got.cs);
    assert_eq!(back_chain, chain, "the chain position survives the round trip");
    let fresh = payload::encode(cs).expect("encodes");
    assert_eq!(payload::decode(&fresh).expect("decodes").cs, got.cs);
});
