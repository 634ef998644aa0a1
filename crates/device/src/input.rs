//! Inputs of the use cases as they arrive from a form or the command line: plain strings,
//! validated into domain types by the device before anything is stored.

use serde::Deserialize;

/// A new 対象者.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PersonInput {
    /// 氏名.
    pub name: String,
    /// ふりがな.
    pub kana: Option<String>,
    /// District code or Japanese name.
    pub district: String,
    /// Program keys or labels (at least one).
    pub programs: Vec<String>,
    /// Birth date (YYYY-MM-DD) or age band ("80代").
    pub birth: Option<String>,
    /// Sex key or label.
    pub sex: Option<String>,
    /// 住所.
    pub address: Option<String>,
    /// 電話番号.
    pub phone: Option<String>,
    /// Status key or label (default 受付).
    pub status: Option<String>,
    /// Free memo.
    pub memo: Option<String>,
}

/// A new 接触・訪問記録.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ContactInput {
    /// The person's id.
    pub person: String,
    /// When (RFC 3339, or YYYY-MM-DDTHH:MM in local time); default now.
    pub at: Option<String>,
    /// Channel key or label.
    pub channel: String,
    /// Outcome key or label.
    pub outcome: String,
    /// Narrative note.
    pub note: String,
    /// Observations.
    pub observations: Option<String>,
    /// つながりの段階 after the contact (level or label).
    pub stage: Option<String>,
    /// What the 置き手紙 said.
    pub letter_text: Option<String>,
    /// Next step.
    pub next_step: Option<String>,
    /// Its due date (YYYY-MM-DD).
    pub next_due: Option<String>,
    /// Staff who went (default: this device's user).
    pub staff: Vec<String>,
}

/// A new 評価票.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AssessmentInput {
    /// The person's id.
    pub person: String,
    /// Instrument key (epds, dasc21, ...).
    pub instrument: String,
    /// Answers as typed: "0,1,2,-,3" (`-` or empty = not answered).
    pub answers: String,
    /// When; default now.
    pub at: Option<String>,
}
