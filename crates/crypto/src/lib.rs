//! Tsunagi's key material and primitives, each a small function naming the standard it
//! implements. Only audited RustCrypto crates do the cryptography; this crate composes them.
//!
//! Secrets are newtypes that zeroize on drop and never print their contents. Every function
//! that decrypts or unwraps is behind the `open` feature (on by default); `tsunagi-server`
//! depends on this crate without it, so the server cannot call one (checked by scripts/test
//! with `cargo check -p tsunagi-server`).

#![forbid(unsafe_code)]

pub mod case;
pub mod identity;
mod local;

pub use local::{
    CryptoError, Kek, PinParams, RecoveryCode, StoreKey, derive_pin_kek, derive_recovery_kek,
    random_array, record_mac, seal_under_store_key, verify_record_mac, wrap_store_key,
};
// Decrypting and unwrapping: not compiled for crates that do not enable "open" (the server).
#[cfg(feature = "open")]
pub use local::{open_under_store_key, unwrap_store_key};
