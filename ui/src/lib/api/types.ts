// The one import point of the backend's request/response types (generated from the Rust types
// into generated.ts by crates/device/tests/bindings.rs; never edited by hand).
export type * from './generated';
