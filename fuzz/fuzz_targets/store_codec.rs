//! Fuzz target: the store's BLOB format (`tsunagi_store::codec`, tag 1 deflate or tag 2
//! zstd, then JSON) that every change payload, snapshot and stored state goes through:
//! inflates within its limit or refuses, never panics; what it reads re-encodes to a blob
//! that reads the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tsunagi_store::codec;

fuzz_target!(|data: &[u8]| {
    let Ok(json) = codec::json_of(data, "fuzz") else {
        assert!(codec::decode::<serde_json::Value>(data, "fuzz").is_err());
        return;
    };
    assert!(json.len() <= 16 * 1024 * 1024, "inflated past the limit");
    let again = codec::encode_json(&json, "fuzz").expect("encodes");
    assert_eq!(codec::json_of(&again, "fuzz").expect("reads"), json);
    if let Ok(value) = codec::decode::<serde_json::Value>(data, "fuzz") {
        let blob = codec::encode(&value, "fuzz").expect("encodes");
        assert_eq!(
            codec::decode::<serde_json::Value>(&blob, "fuzz").expect("reads"),
            value
        );
    }
});
