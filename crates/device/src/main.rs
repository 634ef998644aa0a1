//! The headless device CLI.
fn main() {}
