//! Device use cases.
