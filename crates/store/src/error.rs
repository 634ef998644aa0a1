//! Errors of the device store, one variant per way opening, migrating or using it can fail.

use std::path::PathBuf;
use thiserror::Error;

/// What went wrong in the store. The file on disk is never modified by a failed open.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No store file at that path.
    #[error("no store at {0}")]
    NotFound(PathBuf),
    /// A store file is already there (refusing to overwrite it).
    #[error("a store already exists at {0}")]
    AlreadyExists(PathBuf),
    /// The key does not open this store.
    #[error("the key does not open this store")]
    WrongKey,
    /// The file is damaged (corrupt or truncated); it was left as it was.
    #[error("the store file is damaged ({detail}); it was left untouched")]
    Damaged {
        /// What was found.
        detail: String,
    },
    /// Written by a newer Tsunagi: refusing to open rather than misread it.
    #[error(
        "the store has schema version {found}, newer than this program supports ({supported}); update Tsunagi"
    )]
    NewerSchema {
        /// The file's version.
        found: i64,
        /// The newest this program knows.
        supported: i64,
    },
    /// A migration failed; it was rolled back and the store keeps its previous version.
    #[error("migration {version} ({name}) failed and was rolled back: {source}")]
    Migration {
        /// The migration's version.
        version: i64,
        /// Its name.
        name: &'static str,
        /// The SQL error.
        source: rusqlite::Error,
    },
    /// A stored record could not be read back (damage or a bug; never silently skipped).
    #[error("stored {what} is unreadable: {detail}")]
    Unreadable {
        /// Which record.
        what: String,
        /// Why.
        detail: String,
    },
    /// A change set that cannot apply (wrong entity).
    #[error(transparent)]
    Merge(#[from] tsunagi_core::merge::MergeError),
    /// The access log chain is broken: a row was edited, inserted or removed.
    #[error("the access log was tampered with at entry {seq}")]
    AccessLogTampered {
        /// The first row that fails verification.
        seq: i64,
    },
    /// A lower-level SQLite error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A thread of the store stopped or could not start (the transaction it served is rolled
    /// back; nothing stored changes).
    #[error("the store's {0} thread stopped or could not start")]
    Thread(&'static str),
    /// A value larger than the store keeps (a draft of more than 256 KiB).
    #[error("the {what} is larger than the {limit} bytes kept")]
    TooLarge {
        /// What.
        what: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// Filesystem error around the store file.
    #[error("file error on {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl StoreError {
    /// A stable machine code for `--json` output and the UI.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::NotFound(_) => "store_not_found",
            StoreError::AlreadyExists(_) => "store_exists",
            StoreError::WrongKey => "wrong_key",
            StoreError::Damaged { .. } => "store_damaged",
            StoreError::NewerSchema { .. } => "store_newer",
            StoreError::Migration { .. } => "migration_failed",
            StoreError::Unreadable { .. } => "record_unreadable",
            StoreError::Merge(_) => "merge",
            StoreError::AccessLogTampered { .. } => "access_log_tampered",
            StoreError::Sqlite(e) if is_corruption(e) => "store_damaged",
            StoreError::Sqlite(_) => "database",
            StoreError::Io { .. } => "io",
            StoreError::Thread(_) => "thread",
            StoreError::TooLarge { .. } => "too_large",
        }
    }
}

/// Whether an SQLite error means the file is damaged (or, before the key is checked, that the
/// key is wrong: SQLCipher reports both as "not a database").
pub(crate) fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
    )
}
