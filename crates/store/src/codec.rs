//! How records are stored in BLOB columns: a one-byte format tag, then the payload.
//!
//! - Tag 1 = JSON compressed with raw deflate (RFC 1951). Change-set bodies and snapshots use
//!   it, as they travel inside envelopes to other devices (docs/protocol.md, "Payloads"), and
//!   every store written before tag 2 holds it.
//! - Tag 2 = JSON compressed as one zstd frame (RFC 8878) at level 1, with its content size in
//!   the frame header. Merged entity states use it: they never leave the device, and one is
//!   compressed again at every change merged into it (a pull of 200 changes spent a third of
//!   its merge time in deflate). On the benchmark's contact states (4.0 kB of JSON) zstd takes
//!   17 µs against deflate's 105 µs, for 9 % more bytes (1,705 against 1,569).
//!
//! Both tags are read everywhere in the store; an existing store needs no migration (a state
//! moves to tag 2 the next time it changes).
//!
//! The deflate implementation is `zlib-rs` (through `flate2`) at level 2: level 1 there is
//! zlib's "quick" strategy with fixed Huffman codes, which leaves Japanese text 25 % larger.

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::cell::RefCell;
use std::io::{Read, Write};

use crate::StoreError;

const DEFLATE_JSON: u8 = 1;
const ZSTD_JSON: u8 = 2;
/// zstd level (1: the fastest level that still entropy-codes Japanese text).
const ZSTD_LEVEL: i32 = 1;
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

thread_local! {
    /// One zstd context per thread, reused: a context sets up its tables once.
    static ZSTD: RefCell<Option<(zstd::bulk::Compressor<'static>, zstd::bulk::Decompressor<'static>)>> =
        const { RefCell::new(None) };
}

fn with_zstd<R>(
    what: &str,
    f: impl FnOnce(
        &mut zstd::bulk::Compressor<'static>,
        &mut zstd::bulk::Decompressor<'static>,
    ) -> std::io::Result<R>,
) -> Result<R, StoreError> {
    ZSTD.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some((
                zstd::bulk::Compressor::new(ZSTD_LEVEL).map_err(|e| unreadable(what, e))?,
                zstd::bulk::Decompressor::new().map_err(|e| unreadable(what, e))?,
            ));
        }
        let (c, d) = slot.as_mut().expect("set above");
        f(c, d).map_err(|e| unreadable(what, e))
    })
}

/// Encodes a value for a BLOB column that may travel to other devices (tag 1: change-set
/// bodies, snapshots).
pub fn encode<T: Serialize>(value: &T, what: &str) -> Result<Vec<u8>, StoreError> {
    let json = serde_json::to_vec(value).map_err(|e| unreadable(what, e))?;
    let mut enc = DeflateEncoder::new(vec![DEFLATE_JSON], Compression::new(LEVEL));
    enc.write_all(&json).map_err(|e| unreadable(what, e))?;
    enc.finish().map_err(|e| unreadable(what, e))
}

/// Encodes a value for a BLOB column that stays on this device (tag 2: merged states).
pub fn encode_local<T: Serialize>(value: &T, what: &str) -> Result<Vec<u8>, StoreError> {
    let json = serde_json::to_vec(value).map_err(|e| unreadable(what, e))?;
    let mut out = vec![0u8; 1 + zstd::zstd_safe::compress_bound(json.len())];
    out[0] = ZSTD_JSON;
    let n = with_zstd(what, |c, _| c.compress_to_buffer(&json, &mut out[1..]))?;
    out.truncate(1 + n);
    Ok(out)
}

/// Decodes bytes received from another device (tag 1 only, as docs/protocol.md states): a
/// peer's body in any other format is refused, not guessed at.
pub fn decode_received<T: DeserializeOwned>(blob: &[u8], what: &str) -> Result<T, StoreError> {
    match blob.first() {
        Some(&DEFLATE_JSON) => decode(blob, what),
        Some(tag) => Err(unreadable(
            what,
            format!("format {tag} is not a payload format (deflated JSON, 1)"),
        )),
        None => Err(unreadable(what, "empty record")),
    }
}

/// Decodes a BLOB column written by [`encode`] or [`encode_local`].
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
        Some((&ZSTD_JSON, rest)) => {
            let size = match zstd::zstd_safe::get_frame_content_size(rest) {
                Ok(Some(n)) if n <= MAX_INFLATED => n as usize,
                Ok(Some(n)) => {
                    return Err(unreadable(
                        what,
                        format!("{n} bytes inflated, over the limit"),
                    ));
                }
                Ok(None) | Err(_) => {
                    return Err(unreadable(what, "not a zstd frame with its size"));
                }
            };
            let mut json = vec![0u8; size];
            let n = with_zstd(what, |_, d| d.decompress_to_buffer(rest, &mut json))?;
            if n != size {
                return Err(unreadable(what, "zstd frame shorter than its header says"));
            }
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

    #[test]
    fn local_states_round_trip_in_zstd_and_refuse_damage() {
        let v = serde_json::json!({"note": "不在のため置き手紙を残した。".repeat(20), "n": 1});
        let blob = encode_local(&v, "x").unwrap();
        assert_eq!(blob[0], ZSTD_JSON);
        assert!(blob.len() < serde_json::to_vec(&v).unwrap().len() / 2);
        assert_eq!(decode::<serde_json::Value>(&blob, "x").unwrap(), v);
        // Cut short, a flipped byte in the compressed data, a frame that claims more than the
        // limit: each refused, none read as something else.
        assert!(decode::<serde_json::Value>(&blob[..blob.len() - 3], "x").is_err());
        let mut damaged = blob.clone();
        let n = damaged.len();
        damaged[n / 2] ^= 0xff;
        assert!(decode::<serde_json::Value>(&damaged, "x").is_err());
        let huge = vec![0u8; (MAX_INFLATED + 1) as usize];
        let mut big = vec![ZSTD_JSON];
        big.extend(zstd::bulk::compress(&huge, 1).unwrap());
        let err = decode::<serde_json::Value>(&big, "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("over the limit"), "{err}");
        // Stored states are not a payload format: a peer's body in zstd is refused.
        let err = decode_received::<serde_json::Value>(&blob, "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("format 2 is not a payload format"), "{err}");
        assert_eq!(
            decode_received::<serde_json::Value>(&encode(&v, "x").unwrap(), "x").unwrap(),
            v
        );
        // A deflate blob and a zstd blob of the same value read the same.
        assert_eq!(
            decode::<serde_json::Value>(&encode(&v, "x").unwrap(), "x").unwrap(),
            decode::<serde_json::Value>(&blob, "x").unwrap()
        );
    }
}
