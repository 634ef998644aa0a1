//! Fuzz target: a push batch as the server reads `POST /v1/sync/push` — the batch frame
//! (`wire::decode_batch`), then each envelope parsed, shape-checked, its author compared and
//! its signature verified (`tsunagi_server::fuzzing::push_batch`, without HTTP or storage).
//! A parsed batch re-encodes to its bytes; the server answers one item per envelope.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tsunagi_protocol::wire::{Envelope, decode_batch, encode_batch};
use tsunagi_server::fuzzing::push_batch;
use tsunagi_server::storage::PushItem;

/// The server's limit (`tsunagi_server` `MAX_BATCH`).
const MAX_BATCH: usize = 1000;

fuzz_target!(|data: &[u8]| {
    let frame = decode_batch(data, MAX_BATCH);
    if let Ok(items) = &frame {
        let owned: Vec<Vec<u8>> = items.iter().map(|b| b.to_vec()).collect();
        assert_eq!(
            encode_batch(&owned),
            data,
            "a batch re-encodes to its bytes"
        );
        for bytes in items {
            if let Ok(e) = Envelope::decode(bytes) {
                assert_eq!(&e.encode(), bytes);
            }
        }
    }
    let author = [5u8; 16];
    match push_batch(data, &author, &tsunagi_fuzz::public()) {
        Ok(results) => {
            let items = frame.expect("the server read a batch the frame parser refused");
            assert_eq!(results.len(), items.len(), "one result per envelope");
            for (r, bytes) in results.iter().zip(&items) {
                if let PushItem::Verified { envelope, body } = r {
                    assert_eq!(body, bytes);
                    assert_eq!(envelope.author, author);
                    assert!(envelope.verify(&tsunagi_fuzz::public()));
                }
            }
        }
        Err(e) => {
            assert!(
                frame.is_err(),
                "the server refused a batch that parses: {e:?}"
            );
            assert_eq!(e.status.as_u16(), 400);
        }
    }
});
