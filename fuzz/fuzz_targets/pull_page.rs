//! Fuzz target: a pull page as a device reads `GET /v1/sync/pull` (`wire::PullPage::decode`)
//! and the envelopes in it. A parsed page re-encodes to exactly its bytes, its sequence
//! numbers increase and its cursor is not before its last one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tsunagi_protocol::wire::{Envelope, PullPage};

fuzz_target!(|data: &[u8]| {
    if let Ok(page) = PullPage::decode(data) {
        assert_eq!(page.encode(), data, "a page re-encodes to its bytes");
        assert!(page.items.windows(2).all(|w| w[0].seq < w[1].seq));
        if let Some(last) = page.items.last() {
            assert!(last.seq <= page.next);
        }
        for p in &page.items {
            if let Ok(e) = Envelope::decode(&p.body) {
                assert_eq!(e.encode(), p.body);
            }
        }
    }
});
