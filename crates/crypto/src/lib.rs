//! Tsunagi's key material and primitives, each a small function naming the standard it
//! implements. Only audited RustCrypto crates do the cryptography; this crate composes them.
//!
//! Secrets are newtypes that zeroize on drop and never print their contents.

#![forbid(unsafe_code)]

pub mod identity;
mod local;

pub use local::{
    CryptoError, Kek, PinParams, RecoveryCode, StoreKey, derive_pin_kek, derive_recovery_kek,
    open_under_store_key, random_array, seal_under_store_key, unwrap_store_key, wrap_store_key,
};
