//! Fuzz target: the server's `Authorization: Tsunagi-Sig …` parser
//! (`tsunagi_protocol::auth::AuthHeader::parse`) and its check against a request. A parsed
//! header prints back to a header that parses to the same value; only a signature by the
//! fixed key verifies.
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
        let _ = h.verify(&key, "POST", "/v1/sync/push", b"", h.ts);
        let _ = h.verify(&key, "GET", "/v1/keys", b"", NOW_MS);
    }
});
