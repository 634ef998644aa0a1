//! Fuzz target: a team statement as the server serves it (`tsunagi_protocol::api::TeamStatement`,
//! in `GET /v1/keys` and `GET /v1/teams/{team}/statement`). Parses or refuses, never panics; a
//! parsed statement round-trips; its signed message is built and checked against the fixed
//! key, which verifies only what that key signed (the seed), never a mutation of it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tsunagi_crypto::identity::Signature;
use tsunagi_fuzz::json_round_trip;
use tsunagi_protocol::api::TeamStatement;

fuzz_target!(|data: &[u8]| {
    let Some((_, rest)) = tsunagi_fuzz::pick(data) else {
        return;
    };
    if let Some(st) = json_round_trip::<TeamStatement>(rest) {
        let msg = st.signed_message();
        let _ = st.member(&uuid::Uuid::nil());
        if let Ok(sig) = Signature::from_bytes(&st.sig) {
            let _ = tsunagi_fuzz::public().verify(&msg, &sig);
        }
    }
});
