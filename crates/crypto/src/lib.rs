//! Tsunagi key material and primitives.
