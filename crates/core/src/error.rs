//! The error every domain validation returns: precise, one variant per way input can be wrong.

use thiserror::Error;

/// Why a value was refused at the domain boundary. Messages are English for logs and the CLI;
/// the UI maps [`DomainError::code`] to Japanese text.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DomainError {
    /// Not a well-formed identifier.
    #[error("invalid {what}: {value:?}")]
    InvalidId { what: &'static str, value: String },
    /// A district that the configuration does not know.
    #[error("unknown district {value:?} (known: {known})")]
    UnknownDistrict { value: String, known: String },
    /// A program that the configuration does not know.
    #[error("unknown program {value:?} (known: {known})")]
    UnknownProgram { value: String, known: String },
    /// A trust stage outside the configured scale.
    #[error("unknown trust stage {value:?} (known: {known})")]
    UnknownTrustStage { value: String, known: String },
    /// A value that is not one of the allowed choices (channel, outcome, status, ...).
    #[error("invalid {field}: {value:?} (allowed: {allowed})")]
    InvalidChoice {
        field: &'static str,
        value: String,
        allowed: String,
    },
    /// A date or time that does not parse or does not exist.
    #[error("invalid {field}: {value:?} ({reason})")]
    InvalidDate {
        field: &'static str,
        value: String,
        reason: String,
    },
    /// A text that is empty, too long, or has characters it may not have.
    #[error("invalid {field}: {reason}")]
    InvalidText { field: &'static str, reason: String },
    /// A plan transition the lifecycle does not allow.
    #[error("a plan cannot go from {from} to {to}")]
    InvalidTransition { from: String, to: String },
    /// A disclosure without a legal basis that covers it (consent or 支援会議).
    #[error("disclosure refused: {reason}")]
    DisclosureRefused { reason: String },
    /// Anything else that breaks a domain rule.
    #[error("{0}")]
    Rule(String),
}

impl DomainError {
    /// A stable machine code for the UI and `--json` output (the UI decides by code).
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::InvalidId { .. } => "invalid_id",
            DomainError::UnknownDistrict { .. } => "unknown_district",
            DomainError::UnknownProgram { .. } => "unknown_program",
            DomainError::UnknownTrustStage { .. } => "unknown_trust_stage",
            DomainError::InvalidChoice { .. } => "invalid_choice",
            DomainError::InvalidDate { .. } => "invalid_date",
            DomainError::InvalidText { .. } => "invalid_text",
            DomainError::InvalidTransition { .. } => "invalid_transition",
            DomainError::DisclosureRefused { .. } => "disclosure_refused",
            DomainError::Rule(_) => "rule",
        }
    }
}
