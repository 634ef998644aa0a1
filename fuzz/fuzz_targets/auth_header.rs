//! Fuzz target: the server's `Authorization: Tsunagi-Sig …` parser
//! (`tsunagi_protocol::auth::AuthHeader::parse`) and its check against a request. A parsed
//! header prints back to a header that parses to the same value; its check never verifies
//! with a second key that signed nothing, and a header the fixed key signed for one request
//! (the seed) does not verify for another body, method or path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tsunagi_protocol::auth::AuthHeader;

/// A server clock (2025-11-24).
const NOW_MS: i64 = 1_764_000_000_000;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(h) = AuthHeader::parse(text) {
        let printed = h.to_header_value();
        assert_eq!(AuthHeader::parse(&printed).as_ref(), Ok(&h), "{printed}");
        assert!(!h.key.is_empty() && h.key.len() <= 64);
        assert_eq!(h.nonce.len(), 32);
        // As the server checks it: at the header's own time and at a real clock's.
        let key = tsunagi_fuzz::public();
        if h.verify(&key, "POST", "/v1/sync/push", b"", h.ts).is_ok() {
            assert!(h.verify(&key, "POST", "/v1/sync/push", b"x", h.ts).is_err());
            assert!(h.verify(&key, "GET", "/v1/sync/push", b"", h.ts).is_err());
            assert!(h.verify(&key, "POST", "/v1/keys", b"", h.ts).is_err());
        }
        let _ = h.verify(&key, "GET", "/v1/keys", b"", NOW_MS);
        let stranger = tsunagi_fuzz::stranger();
        assert!(
            h.verify(&stranger, "POST", "/v1/sync/push", b"", h.ts)
                .is_err()
        );
        assert!(h.verify(&stranger, "GET", "/v1/keys", b"", NOW_MS).is_err());
    }
});
