//! The encrypted device store.
