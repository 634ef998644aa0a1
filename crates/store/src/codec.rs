//! How records are stored in BLOB columns and sealed in payloads: a one-byte format tag, then
//! the compressed JSON.
//!
//! - Tag 2 (written) = one zstd frame (RFC 8878) at level 1, with its content size in the frame
//!   header and a content checksum. Merged entity states, change-set bodies and snapshots: a state is compressed again
//!   at every change merged into it, a body at every save, a snapshot holds a whole case. On
//!   the benchmark's records zstd takes 17 µs for a contact state (4.0 kB of JSON) and 13 µs
//!   for a change body (2.1 kB) against deflate's 105 and 92 µs, for 9–10 % more bytes; a pull
//!   of 200 changes spent a third of its merge time in deflate.
//! - Tag 1 (read) = raw deflate (RFC 1951), written by every store and device before tag 2,
//!   still read from the store and from other devices' payloads (docs/protocol.md).
//!
//! An existing store needs no migration: a state moves to tag 2 the next time it changes.

use flate2::read::DeflateDecoder;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::cell::RefCell;
use std::io::Read;

use crate::StoreError;

/// Tag 1 (read only). Also the first byte of change payload format 1 (docs/protocol.md), which
/// is a whole change set in this format.
pub const DEFLATE_JSON: u8 = 1;
const ZSTD_JSON: u8 = 2;
/// zstd level (1: the fastest level that still entropy-codes Japanese text).
const ZSTD_LEVEL: i32 = 1;
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
                compressor().map_err(|e| unreadable(what, e))?,
                zstd::bulk::Decompressor::new().map_err(|e| unreadable(what, e))?,
            ));
        }
        let (c, d) = slot.as_mut().expect("set above");
        f(c, d).map_err(|e| unreadable(what, e))
    })
}

/// A level-1 context that ends each frame with its content checksum (XXH64, 4 bytes): a
/// damaged frame is refused rather than read as other text.
fn compressor() -> std::io::Result<zstd::bulk::Compressor<'static>> {
    let mut c = zstd::bulk::Compressor::new(ZSTD_LEVEL)?;
    c.include_checksum(true)?;
    Ok(c)
}

/// Encodes a value for a BLOB column or a payload (tag 2).
pub fn encode<T: Serialize>(value: &T, what: &str) -> Result<Vec<u8>, StoreError> {
    let json = serde_json::to_vec(value).map_err(|e| unreadable(what, e))?;
    encode_json(&json, what)
}

/// Encodes JSON text already serialized (tag 2): what [`encode`] gives for the value it
/// stands for.
pub fn encode_json(json: &[u8], what: &str) -> Result<Vec<u8>, StoreError> {
    let mut out = vec![0u8; 1 + zstd::zstd_safe::compress_bound(json.len())];
    out[0] = ZSTD_JSON;
    let n = with_zstd(what, |c, _| c.compress_to_buffer(json, &mut out[1..]))?;
    out.truncate(1 + n);
    Ok(out)
}

/// Decodes a BLOB column or payload of either tag.
pub fn decode<T: DeserializeOwned>(blob: &[u8], what: &str) -> Result<T, StoreError> {
    let json = json_of(blob, what)?;
    serde_json::from_slice(&json).map_err(|e| unreadable(what, e))
}

/// The JSON text a BLOB column or payload of either tag holds, inflated and checked (zstd's
/// content checksum) but not parsed.
pub fn json_of(blob: &[u8], what: &str) -> Result<Vec<u8>, StoreError> {
    match blob.split_first() {
        Some((&DEFLATE_JSON, rest)) => {
            let mut json = Vec::with_capacity(rest.len() * 3);
            DeflateDecoder::new(rest)
                .take(MAX_INFLATED)
                .read_to_end(&mut json)
                .map_err(|e| unreadable(what, e))?;
            Ok(json)
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
            Ok(json)
        }
        Some((tag, _)) => Err(unreadable(what, format!("unknown storage format {tag}"))),
        None => Err(unreadable(what, "empty record")),
    }
}

/// A tag-1 record as stores and devices wrote it before zstd (tests of what is still read).
#[cfg(test)]
pub(crate) fn deflated<T: Serialize>(value: &T) -> Vec<u8> {
    use std::io::Write;
    let mut enc =
        flate2::write::DeflateEncoder::new(vec![DEFLATE_JSON], flate2::Compression::new(2));
    enc.write_all(&serde_json::to_vec(value).expect("JSON"))
        .expect("in memory");
    enc.finish().expect("in memory")
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
    fn round_trips_in_zstd_and_refuses_damage() {
        let v = serde_json::json!({"note": "不在のため置き手紙を残した。".repeat(20), "n": 1});
        let blob = encode(&v, "x").unwrap();
        assert_eq!(blob[0], ZSTD_JSON);
        assert!(blob.len() < serde_json::to_vec(&v).unwrap().len() / 2);
        assert_eq!(decode::<serde_json::Value>(&blob, "x").unwrap(), v);
        assert!(decode::<serde_json::Value>(&[], "x").is_err());
        assert!(decode::<serde_json::Value>(&[9, 1, 2], "x").is_err());
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
    }

    /// A record written before tag 2 (deflate, here by flate2) reads the same as the record
    /// written now, and a damaged one is refused.
    #[test]
    fn deflate_records_still_read() {
        let v = serde_json::json!({"note": "不在のため置き手紙を残した。".repeat(20), "n": 1});
        let old = deflated(&v);
        assert_eq!(decode::<serde_json::Value>(&old, "x").unwrap(), v);
        assert_eq!(
            decode::<serde_json::Value>(&old, "x").unwrap(),
            decode::<serde_json::Value>(&encode(&v, "x").unwrap(), "x").unwrap()
        );
        let mut damaged = old.clone();
        let n = damaged.len();
        damaged[n / 2] ^= 0xff;
        assert!(decode::<serde_json::Value>(&damaged, "x").is_err());
    }

    /// Found by fuzzing (fuzz/seeds/store_codec/regress_float_roundtrip): without serde_json's
    /// `float_roundtrip` a number could be read one unit off, so that encoding the value read
    /// and reading it again gave another number.
    #[test]
    fn a_float_reads_back_unchanged_after_a_round_trip() {
        for text in [
            "5.555555555555554e43",
            "55555555555555555555555555555555555555555555",
            "0.1",
            "-2.2250738585072014e-308",
        ] {
            let value: serde_json::Value = serde_json::from_str(text).unwrap();
            let blob = encode(&value, "x").unwrap();
            assert_eq!(
                decode::<serde_json::Value>(&blob, "x").unwrap(),
                value,
                "{text}"
            );
            let reread: serde_json::Value = serde_json::from_str(&value.to_string()).unwrap();
            assert_eq!(reread, value, "{text}");
        }
    }

    /// JSON values without floats (whose text form is checked by the store's own tests):
    /// nested arrays and objects of strings (Japanese too), integers, booleans and null.
    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            "[\\PC\u{3000}-\u{30ff}\u{4e00}-\u{9fff}]{0,40}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::from),
                proptest::collection::btree_map("[a-z_]{1,12}", inner, 0..8)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Encode → decode gives the value back, in tag 2 and in tag 1.
        #[test]
        fn codec_round_trips_any_json(value in json_value()) {
            let blob = encode(&value, "x").unwrap();
            proptest::prop_assert_eq!(blob[0], ZSTD_JSON);
            proptest::prop_assert_eq!(decode::<serde_json::Value>(&blob, "x").unwrap(), value.clone());
            proptest::prop_assert_eq!(decode::<serde_json::Value>(&deflated(&value), "x").unwrap(), value);
        }

        /// Arbitrary bytes, alone or behind either tag, never panic: an error, or JSON text
        /// that encodes again to a blob reading the same.
        #[test]
        fn codec_never_panics_on_arbitrary_bytes(
            tag in 0u8..4,
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
        ) {
            let mut blob = vec![tag];
            blob.extend_from_slice(&bytes);
            for input in [&blob[..], &bytes[..]] {
                if let Ok(json) = json_of(input, "x") {
                    let again = encode_json(&json, "x").unwrap();
                    proptest::prop_assert_eq!(json_of(&again, "x").unwrap(), json);
                }
                let _ = decode::<serde_json::Value>(input, "x");
            }
        }

        /// A real blob with one byte changed or cut short is refused or reads as JSON: never
        /// a panic (zstd's checksum makes most changes an error).
        #[test]
        fn codec_refuses_damaged_blobs_without_panicking(
            value in json_value(),
            at in proptest::prelude::any::<proptest::sample::Index>(),
            flip in 1u8..=255,
            cut in proptest::prelude::any::<proptest::sample::Index>(),
        ) {
            let blob = encode(&value, "x").unwrap();
            let mut damaged = blob.clone();
            let i = at.index(damaged.len());
            damaged[i] ^= flip;
            let _ = decode::<serde_json::Value>(&damaged, "x");
            let short = &blob[..cut.index(blob.len())];
            proptest::prop_assert!(decode::<serde_json::Value>(short, "x").is_err());
        }
    }
}
