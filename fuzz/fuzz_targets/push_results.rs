//! Fuzz target: the server's answer to a push as a device reads it (`wire::PushResponse`,
//! JSON): parses or refuses, never panics; a parsed answer round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tsunagi_protocol::api::{ErrorBody, Head, MyCases};
use tsunagi_protocol::wire::PushResponse;

fuzz_target!(|data: &[u8]| {
    let Some((which, rest)) = tsunagi_fuzz::pick(data) else {
        return;
    };
    match which % 4 {
        0 => drop(tsunagi_fuzz::json_round_trip::<PushResponse>(rest)),
        1 => drop(tsunagi_fuzz::json_round_trip::<ErrorBody>(rest)),
        2 => drop(tsunagi_fuzz::json_round_trip::<Head>(rest)),
        _ => drop(tsunagi_fuzz::json_round_trip::<MyCases>(rest)),
    }
});
