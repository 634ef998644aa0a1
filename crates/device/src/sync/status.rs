//! What the app shows about sync: pending and refused counts, the last success and the last
//! error in plain words (`Device::sync_status`).

use serde::{Deserialize, Serialize};

use super::{CURSOR, LAST_ATTEMPT, LAST_ERROR, LAST_SUCCESS};
use crate::{Device, DeviceError};
use tsunagi_protocol::api::DeviceCert;

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

/// An author device some of whose changes are known to exist but have not arrived (a later
/// change of theirs in the same case did): shown until they arrive.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MissingFrom {
    /// The author device.
    pub device: uuid::Uuid,
    /// Its user's name, from the device certificate this device verified (None: not known).
    pub user_name: Option<String>,
    /// Changes missing.
    pub missing: u64,
    /// The cases concerned.
    pub cases: Vec<String>,
}

/// Something a server did that this device detected and did not obey (a fork of an author's
/// chain, a replayed change, a pull page going back or out of order), for IT.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct IntegrityProblem {
    /// `fork`, `replayed`, `cursor_rollback`, `out_of_order` or `revoked_author`.
    pub kind: String,
    /// The author device concerned, if any.
    pub device: Option<uuid::Uuid>,
    /// Its user's name, if known.
    pub user_name: Option<String>,
    /// How many times.
    pub count: u64,
    /// Last seen (RFC 3339).
    pub last_at: String,
    /// Detail (English, for IT).
    pub detail: String,
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
    /// Authors whose changes are missing here, until they arrive.
    pub missing_from: Vec<MissingFrom>,
    /// What a server did that this device detected and refused or did not obey.
    pub problems: Vec<IntegrityProblem>,
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
        let name = |device: uuid::Uuid| -> Result<Option<String>, DeviceError> {
            Ok(self
                .store
                .cert(device)?
                .and_then(|j| serde_json::from_str::<DeviceCert>(&j).ok())
                .map(|c| c.user_name))
        };
        let whose = |user_name: Option<&str>| {
            user_name.map_or("不明な利用者".to_owned(), |n| format!("{n}さん"))
        };
        let mut missing_from = Vec::new();
        for g in self.store.chain_gaps()? {
            let user_name = name(g.author)?;
            message_ja.push_str(&format!(
                " {}の端末からの変更が一部届いていません（{}件）。",
                whose(user_name.as_deref()),
                g.missing
            ));
            missing_from.push(MissingFrom {
                device: g.author,
                user_name,
                missing: g.missing,
                cases: g.cases.iter().map(|c| c.to_string()).collect(),
            });
        }
        let mut problems = Vec::new();
        // Refused from revoked devices: one sentence per device, over all of its cases.
        let mut revoked: Vec<(Option<uuid::Uuid>, Option<String>, u64)> = Vec::new();
        for p in self.store.chain_problems()? {
            let user_name = match p.author {
                Some(a) => name(a)?,
                None => None,
            };
            if p.kind == "revoked_author" {
                match revoked.iter_mut().find(|r| r.0 == p.author) {
                    Some(r) => r.2 += p.count,
                    None => revoked.push((p.author, user_name.clone(), p.count)),
                }
            }
            problems.push(IntegrityProblem {
                kind: p.kind,
                device: p.author,
                user_name,
                count: p.count,
                last_at: p.last_at,
                detail: p.detail,
            });
        }
        for (_, user_name, count) in &revoked {
            message_ja.push_str(&format!(
                " 利用停止済みの{}の端末が停止後に書いた変更を受け付けませんでした（{}件）。",
                whose(user_name.as_deref()),
                count
            ));
        }
        if problems.iter().any(|p| p.kind != "replayed") {
            message_ja.push_str(
                " サーバーから届いた記録に不正な食い違いを検出しました（受け付けていません）。情報システム担当に連絡してください。",
            );
        } else if !problems.is_empty() {
            message_ja.push_str(
                " サーバーが同じ記録を重ねて送ってきました（二重には反映していません）。情報システム担当に連絡してください。",
            );
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
            missing_from,
            problems,
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
