//! What the app shows about sync: pending and refused counts, the last success and the last
//! error in plain words (`Device::sync_status`).

use serde::{Deserialize, Serialize};

use super::{CURSOR, LAST_ATTEMPT, LAST_ERROR, LAST_SUCCESS};
use crate::{Device, DeviceError};

/// The last error, in plain words.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SyncErrorView {
    /// Machine code.
    pub code: String,
    /// Japanese, for the screen.
    pub message_ja: String,
    /// Detail (English, for IT).
    pub detail: String,
    /// When (RFC 3339).
    pub at: String,
}

/// Where the sync stands, as the status says it (`state` in JSON: `synced`, `pending`,
/// `error`, `never`, `not_enrolled`). Whether a failure was the network is the last error's
/// code (`unreachable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncStatusState {
    /// Everything is on the server.
    Synced,
    /// Records, keys or snapshots wait to be sent.
    Pending,
    /// The last attempt failed.
    Error,
    /// Enrolled, but never synced yet.
    Never,
    /// Not enrolled with a server.
    NotEnrolled,
}

/// What the app shows about sync.
#[derive(Debug, Clone, Serialize)]
pub struct SyncStatus {
    /// Enrolled with a server.
    pub enrolled: bool,
    /// Where the sync stands.
    pub state: SyncStatusState,
    /// One line for the screen.
    pub message_ja: String,
    /// Records not yet on the server.
    pub pending: u64,
    /// Key slots, grants and snapshots not yet on the server.
    pub pending_keys: u64,
    /// Records the server refused (kept here).
    pub refused_outgoing: u64,
    /// Received envelopes waiting for a key.
    pub held: u64,
    /// Received envelopes refused as invalid.
    pub refused_incoming: u64,
    /// Last attempt (RFC 3339).
    pub last_attempt: Option<String>,
    /// Last complete success (RFC 3339).
    pub last_success: Option<String>,
    /// The last attempt's error, if it failed.
    pub last_error: Option<SyncErrorView>,
    /// Server sequence number received up to.
    pub cursor: u64,
    /// The refusals, newest first (code: detail).
    pub refusals: Vec<String>,
}

impl Device {
    /// What the app shows: counts, last success, last error (never "synced" after a failure).
    pub fn sync_status(&self) -> Result<SyncStatus, DeviceError> {
        let counts = self.store.sync_counts()?;
        let enrolled = self.enrollment()?.is_some();
        let nonempty = |k: &str| -> Result<Option<String>, DeviceError> {
            Ok(self.store.meta(k)?.filter(|s| !s.is_empty()))
        };
        let last_attempt = nonempty(LAST_ATTEMPT)?;
        let last_success = nonempty(LAST_SUCCESS)?;
        let last_error: Option<SyncErrorView> =
            nonempty(LAST_ERROR)?.and_then(|j| serde_json::from_str(&j).ok());
        let mut refusals: Vec<String> = self
            .store
            .push_refusals(20)?
            .into_iter()
            .map(|(op, code, msg)| format!("送信拒否 {op} {code}: {msg}"))
            .collect();
        refusals.extend(
            self.store
                .pull_refusals(20)?
                .into_iter()
                .map(|(seq, code, detail)| format!("受信拒否 #{seq} {code}: {detail}")),
        );
        let pending = counts.pending;
        let (state, message_ja) = if !enrolled {
            (
                SyncStatusState::NotEnrolled,
                "この端末はまだサーバーに登録されていません。記録は端末に保存されています。"
                    .to_owned(),
            )
        } else if let Some(e) = &last_error {
            (
                SyncStatusState::Error,
                format!(
                    "同期できませんでした（{}）: {} 未送信 {pending} 件は端末に保存されています。",
                    e.at, e.message_ja
                ),
            )
        } else if last_success.is_none() {
            (
                SyncStatusState::Never,
                format!("まだ同期していません。未送信 {pending} 件。"),
            )
        } else if pending > 0 || counts.pending_keys > 0 {
            (
                SyncStatusState::Pending,
                format!(
                    "未送信 {pending} 件があります。最終同期 {}。",
                    last_success.as_deref().unwrap_or("-")
                ),
            )
        } else {
            (
                SyncStatusState::Synced,
                format!(
                    "同期済みです（最終同期 {}）。",
                    last_success.as_deref().unwrap_or("-")
                ),
            )
        };
        let mut message_ja = message_ja;
        if counts.push_refused + counts.pull_refused > 0 {
            message_ja.push_str(&format!(
                " 受け付けられなかった記録が {} 件あります（詳細は情報システム担当へ）。",
                counts.push_refused + counts.pull_refused
            ));
        }
        if counts.held > 0 {
            message_ja.push_str(&format!(
                " 鍵の到着待ちの受信記録が {} 件あります。",
                counts.held
            ));
        }
        Ok(SyncStatus {
            enrolled,
            state,
            message_ja,
            pending,
            pending_keys: counts.pending_keys,
            refused_outgoing: counts.push_refused,
            held: counts.held,
            refused_incoming: counts.pull_refused,
            last_attempt,
            last_success,
            last_error,
            cursor: self.meta_u64(CURSOR)?,
            refusals,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::SyncStatusState;

    #[test]
    fn states_keep_their_wire_names() {
        for (state, wire) in [
            (SyncStatusState::Synced, "synced"),
            (SyncStatusState::Pending, "pending"),
            (SyncStatusState::Error, "error"),
            (SyncStatusState::Never, "never"),
            (SyncStatusState::NotEnrolled, "not_enrolled"),
        ] {
            assert_eq!(serde_json::to_value(state).unwrap(), wire);
            assert_eq!(
                serde_json::from_value::<SyncStatusState>(wire.into()).unwrap(),
                state
            );
        }
    }
}
