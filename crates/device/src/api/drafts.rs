//! Drafts: what was typed into a form, kept encrypted on the device until it is saved or
//! discarded, so that closing the app mid-entry loses nothing.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Keeping a draft (replaces the draft with the same key).
#[derive(Debug, Clone, Deserialize, TS)]
pub struct DraftSave {
    /// Which form (`contact:<person id>`, `person:new`, ...).
    pub key: String,
    /// What it is, for the list of drafts (山田花子さんの訪問記録).
    pub label: String,
    /// The form's fields as the front end keeps them (JSON text, at most 256 KiB).
    pub body: String,
}

/// A draft named by its key.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct DraftKey {
    /// The key.
    pub key: String,
}

/// A kept draft.
#[derive(Debug, Clone, Serialize, TS)]
pub struct Draft {
    /// The key.
    pub key: String,
    /// What it is.
    pub label: String,
    /// The fields (JSON text).
    pub body: String,
    /// When it was last kept (RFC 3339).
    pub saved_at: String,
}
