//! How records are stored in BLOB columns: a one-byte format tag, then the payload.
//! Tag 1 = JSON compressed with raw deflate (RFC 1951). Notes are mostly Japanese text,
//! three bytes a character in UTF-8, and merge states repeat their version stamps: deflate
//! roughly halves both, at a cost of microseconds per record.
//!
//! The deflate implementation is `zlib-rs` (through `flate2`) at level 2: on the benchmark's
//! notes it compresses a record in 37 µs against miniz_oxide's 131 µs at level 1, and smaller
//! (1,424 against 1,440 bytes). Level 1 there is zlib's "quick" strategy with fixed Huffman
//! codes, which leaves Japanese text 25 % larger.

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::io::{Read, Write};

use crate::StoreError;

const DEFLATE_JSON: u8 = 1;
/// Deflate level (see above: 1 would be zlib's fixed-code "quick" strategy).
const LEVEL: u32 = 2;
/// Refuse to inflate past this: a damaged or hostile blob must not exhaust memory.
const MAX_INFLATED: u64 = 16 * 1024 * 1024;

fn unreadable(what: &str, detail: impl ToString) -> StoreError {
    StoreError::Unreadable {
        what: what.to_owned(),
        detail: detail.to_string(),
    }
}

/// Encodes a value for a BLOB column.
pub fn encode<T: Serialize>(value: &T, what: &str) -> Result<Vec<u8>, StoreError> {
    let json = serde_json::to_vec(value).map_err(|e| unreadable(what, e))?;
    let mut enc = DeflateEncoder::new(vec![DEFLATE_JSON], Compression::new(LEVEL));
    enc.write_all(&json).map_err(|e| unreadable(what, e))?;
    enc.finish().map_err(|e| unreadable(what, e))
}

/// Decodes a BLOB column written by [`encode`].
pub fn decode<T: DeserializeOwned>(blob: &[u8], what: &str) -> Result<T, StoreError> {
    match blob.split_first() {
        Some((&DEFLATE_JSON, rest)) => {
            let mut json = Vec::with_capacity(rest.len() * 3);
            DeflateDecoder::new(rest)
                .take(MAX_INFLATED)
                .read_to_end(&mut json)
                .map_err(|e| unreadable(what, e))?;
            serde_json::from_slice(&json).map_err(|e| unreadable(what, e))
        }
        Some((tag, _)) => Err(unreadable(what, format!("unknown storage format {tag}"))),
        None => Err(unreadable(what, "empty record")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blobs written by another deflate implementation (here zlib 1.2 through Python, level 1;
    /// stores written before the switch to zlib-rs hold miniz_oxide's) read the same: the
    /// format is raw deflate, whatever wrote it.
    #[test]
    fn reads_raw_deflate_written_elsewhere() {
        let hex = "01ab56cacb2f4955b2527ab2a3f7e99c158f1bd73d6e9cffb8a9f1f95e20a3f75967f7f32d331f374d7a\
                   b6aefb71e37490544393928e529e9295612d00";
        let blob: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        assert_eq!(
            decode::<serde_json::Value>(&blob, "x").unwrap(),
            serde_json::json!({"note": "不在のため置き手紙を残した。", "n": 1})
        );
    }

    #[test]
    fn round_trips_and_refuses_damage() {
        let v = serde_json::json!({"note": "不在のため置き手紙を残した。".repeat(20), "n": 1});
        let blob = encode(&v, "x").unwrap();
        assert_eq!(blob[0], DEFLATE_JSON);
        assert!(blob.len() < serde_json::to_vec(&v).unwrap().len() / 2);
        assert_eq!(decode::<serde_json::Value>(&blob, "x").unwrap(), v);
        assert!(decode::<serde_json::Value>(&[], "x").is_err());
        assert!(decode::<serde_json::Value>(&[9, 1, 2], "x").is_err());
        let mut damaged = blob.clone();
        let n = damaged.len();
        damaged[n / 2] ^= 0xff;
        assert!(decode::<serde_json::Value>(&damaged, "x").is_err());
    }
}
