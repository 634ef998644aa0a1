//! Tsunagi's domain core: validated domain types, instruments and scoring, plan lifecycle,
//! hybrid logical clocks, change sets and their merge. No IO: everything here is a pure
//! function of its inputs, so it cannot fail on valid input.

pub mod assessment;
pub mod change;
pub mod config;
pub mod consent;
pub mod contact;
pub mod error;
pub mod hlc;
pub mod household;
pub mod ids;
pub mod instrument;
pub mod meeting;
pub mod merge;
pub mod person;
pub mod plan;
pub mod text;

pub use error::DomainError;
