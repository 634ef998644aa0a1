//! Fuzz target: a team statement as the server serves it (`tsunagi_protocol::api::TeamStatement`,
//! in `GET /v1/keys` and `GET /v1/teams/{team}/statement`). Parses or refuses, never panics; a
//! parsed statement round-trips; its signed message is built and checked against the fixed
//! key (a statement it verifies for, such as the seed, no longer verifies with its version or
//! team changed) and against a second key that signed nothing, which never verifies.
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
            let key = tsunagi_fuzz::public();
            if key.verify(&msg, &sig).is_ok() {
                let mut later = st.clone();
                later.version = later.version.wrapping_add(1);
                assert!(key.verify(&later.signed_message(), &sig).is_err());
                let mut other = st.clone();
                other.team.push('x');
                assert!(key.verify(&other.signed_message(), &sig).is_err());
            }
            assert!(tsunagi_fuzz::stranger().verify(&msg, &sig).is_err());
        }
    }
});
