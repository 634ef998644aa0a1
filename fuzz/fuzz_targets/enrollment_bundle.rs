//! Fuzz target: an enrollment bundle as the device reads it from a file or QR code
//! (`tsunagi_device::fuzzing::inspect_bundle`: JSON, version, pinned keys, expiry), the
//! `EnrollmentBundle` DTO's round trip, and the server's signed answer to enrollment
//! (`EnrollResponse`). Parses or refuses, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tsunagi_fuzz::json_round_trip;
use tsunagi_protocol::api::{EnrollResponse, EnrollmentBundle};

fuzz_target!(|data: &[u8]| {
    let Some((which, rest)) = tsunagi_fuzz::pick(data) else {
        return;
    };
    match which % 3 {
        0 => {
            if let Ok(text) = std::str::from_utf8(rest)
                && let Ok(info) = tsunagi_device::fuzzing::inspect_bundle(text)
            {
                // What was shown parses as a bundle, with the keys it fingerprinted.
                let b: EnrollmentBundle = serde_json::from_str(text.trim()).expect("inspected");
                assert_eq!(b.v, 1);
                assert_eq!(info.team, b.team);
                assert_eq!(info.server_fingerprint.is_empty(), false);
            }
        }
        1 => drop(json_round_trip::<EnrollmentBundle>(rest)),
        _ => drop(json_round_trip::<EnrollResponse>(rest)),
    }
});
