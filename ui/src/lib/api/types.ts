// The one import point of the backend's request/response types (generated from the Rust types).
export type * from './generated.pending';
