//! Fuzz target: one sync envelope (`tsunagi_protocol::wire::Envelope::decode`), as a device
//! reads it from a pull page and the server from a push. A parsed envelope re-encodes to
//! exactly its bytes (the format has one encoding), and its signature check never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tsunagi_protocol::wire::Envelope;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = Envelope::decode(data) {
        assert_eq!(e.encode(), data, "an envelope re-encodes to its bytes");
        let key = tsunagi_fuzz::public();
        // The batch check (not strict) accepts whatever the strict check accepts.
        if e.verify(&key) {
            assert!(Envelope::verify_all(&[(&e, &key)]));
        }
        let _ = e.target_team();
    }
});
