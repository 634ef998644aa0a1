//! Helpers shared by the fuzz targets (fuzz_targets/): fixed keys and the first-byte choice
//! among several parsers of one target.

use tsunagi_crypto::identity::{SigKey, SigPublic};

/// A fixed signing key (seed 7…), so that runs are reproducible.
pub fn key() -> SigKey {
    SigKey::from_seed(&[7u8; 32]).expect("32-byte seed")
}

/// Its public half.
pub fn public() -> SigPublic {
    key().public()
}

/// The public half of a second fixed key (seed 8…) that signs nothing, no seed included:
/// no signature verifies with it.
pub fn stranger() -> SigPublic {
    SigKey::from_seed(&[8u8; 32])
        .expect("32-byte seed")
        .public()
}

/// Splits off the first byte, which picks what the rest is fed to.
pub fn pick(data: &[u8]) -> Option<(u8, &[u8])> {
    data.split_first().map(|(b, rest)| (*b, rest))
}

/// Parses JSON into `T`; when it parses, printing it and parsing that gives the same value,
/// and printing that gives the same text (JSON DTOs round-trip).
pub fn json_round_trip<T>(bytes: &[u8]) -> Option<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let value: T = serde_json::from_slice(bytes).ok()?;
    let text = serde_json::to_vec(&value).expect("a parsed DTO prints");
    let again: T = serde_json::from_slice(&text).expect("a printed DTO parses");
    assert_eq!(again, value);
    assert_eq!(serde_json::to_vec(&again).expect("prints"), text);
    Some(value)
}
