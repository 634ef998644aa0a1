//! Errors of the device use cases: every failure has a stable code (for the UI and `--json`),
//! an English message (CLI, logs) and a Japanese message (the app).

use std::path::PathBuf;
use thiserror::Error;
use tsunagi_core::DomainError;
use tsunagi_core::instrument::InstrumentError;
use tsunagi_store::StoreError;
use tsunagi_store::keys::KeyError;

/// Why a use case failed. Nothing stored is lost by any of these.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// Bad input: a value the domain refuses.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// Bad assessment input, or an unknown instrument.
    #[error(transparent)]
    Instrument(#[from] InstrumentError),
    /// The store failed (wrong key, damaged file, newer schema, ...).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The key vault refused (PIN, lock, keystore).
    #[error(transparent)]
    Key(#[from] KeyError),
    /// No device was initialized in this directory.
    #[error("no Tsunagi device in {0} (run `init` first)")]
    NotInitialized(PathBuf),
    /// A device already exists in this directory.
    #[error("a Tsunagi device already exists in {0}")]
    AlreadyInitialized(PathBuf),
    /// The person does not exist on this device.
    #[error("no person with id {0} on this device")]
    UnknownPerson(String),
    /// A record named by id does not exist on this device.
    #[error("not found on this device: {0}")]
    NotFound(String),
    /// The device's settings file is unreadable.
    #[error("the device settings file {path} is unreadable: {detail}")]
    Settings {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// The device has not enrolled with a server yet.
    #[error("this device is not enrolled with a server (run `enroll BUNDLE` first)")]
    NotEnrolled,
    /// The device is already enrolled.
    #[error("this device is already enrolled")]
    AlreadyEnrolled,
    /// An enrollment bundle (or stored enrollment) that cannot be used.
    #[error("enrollment bundle: {0}")]
    Bundle(String),
    /// Something the server sent does not verify against the pinned keys: refused.
    #[error("refused, does not verify: {0}")]
    Untrusted(String),
    /// The user or device may not do this (one variant per reason, each with its own code).
    #[error(transparent)]
    NotAllowed(#[from] Refusal),
    /// A write to a case another team owns and shares with this team to read only.
    #[error("the case belongs to team {owner} and is shared with this team read-only")]
    ReadOnlyCase {
        /// The owning team.
        owner: String,
    },
    /// The server could not be reached or refused.
    #[error(transparent)]
    Server(#[from] tsunagi_protocol::client::ClientError),
    /// A plan step that waits for a meeting was asked for, but none waits.
    #[error("no step of this plan is waiting for a meeting")]
    NothingPending,
    /// A conflict resolution for a field that has no conflict (resolved elsewhere already).
    #[error("the field {field} has no conflicting values (already resolved?)")]
    NoConflict {
        /// The field.
        field: String,
    },
    /// A draft whose body is not JSON.
    #[error("the draft is not JSON: {0}")]
    BadDraft(String),
    /// A value that does not fit the record's field.
    #[error("the value does not fit the record: {0}")]
    BadValue(String),
    /// A file could not be read or written.
    #[error("file error on {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl From<tsunagi_crypto::CryptoError> for DeviceError {
    fn from(e: tsunagi_crypto::CryptoError) -> DeviceError {
        DeviceError::Key(KeyError::Crypto(e))
    }
}

impl DeviceError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            DeviceError::Domain(e) => e.code(),
            DeviceError::Instrument(e) => e.code(),
            DeviceError::Store(e) => e.code(),
            DeviceError::Key(e) => e.code(),
            DeviceError::NotInitialized(_) => "not_initialized",
            DeviceError::AlreadyInitialized(_) => "already_initialized",
            DeviceError::UnknownPerson(_) => "unknown_person",
            DeviceError::NotFound(_) => "not_found",
            DeviceError::Settings { .. } => "settings_unreadable",
            DeviceError::Io { .. } => "io",
            DeviceError::NotEnrolled => "not_enrolled",
            DeviceError::AlreadyEnrolled => "already_enrolled",
            DeviceError::Bundle(_) => "bad_bundle",
            DeviceError::Untrusted(_) => "untrusted",
            DeviceError::NotAllowed(r) => r.code(),
            DeviceError::ReadOnlyCase { .. } => "read_only_case",
            DeviceError::NothingPending => "nothing_pending",
            DeviceError::NoConflict { .. } => "no_conflict",
            DeviceError::BadDraft(_) => "bad_draft",
            DeviceError::BadValue(_) => "bad_value",
            DeviceError::Server(e) => match e {
                tsunagi_protocol::client::ClientError::Unreachable(_) => "unreachable",
                tsunagi_protocol::client::ClientError::InsecureUrl(_) => "insecure_url",
                _ => "server_refused",
            },
        }
    }

    /// Whether the error is the user's input (exit code 2 in the CLI) rather than the system.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            DeviceError::Domain(_)
                | DeviceError::Instrument(_)
                | DeviceError::UnknownPerson(_)
                | DeviceError::NotFound(_)
                | DeviceError::Bundle(_)
                | DeviceError::NotAllowed(_)
                | DeviceError::ReadOnlyCase { .. }
                | DeviceError::NothingPending
                | DeviceError::NoConflict { .. }
                | DeviceError::BadDraft(_)
                | DeviceError::BadValue(_)
                | DeviceError::AlreadyEnrolled
                | DeviceError::NotEnrolled
                | DeviceError::Server(tsunagi_protocol::client::ClientError::InsecureUrl(_))
                | DeviceError::Key(
                    KeyError::PinRequired
                        | KeyError::WrongPin { .. }
                        | KeyError::InvalidPin(_)
                        | KeyError::WrongRecoveryCode
                )
        )
    }

    /// The input field a bad-input error concerns (`"name"`, `"next_due"`, `"answers"`, ...),
    /// so a form can mark it; `None` for everything else.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            DeviceError::Domain(e) => e.field(),
            DeviceError::Instrument(e) => e.field(),
            DeviceError::UnknownPerson(_) => Some("person"),
            DeviceError::Key(KeyError::WrongPin { .. } | KeyError::InvalidPin(_)) => Some("pin"),
            _ => None,
        }
    }

    /// The message in Japanese, for the app's screens.
    pub fn message_ja(&self) -> String {
        match self {
            DeviceError::Domain(e) => e.message_ja(),
            DeviceError::Instrument(e) => e.message_ja(),
            DeviceError::Store(StoreError::WrongKey) => {
                "鍵が一致しないため、データを開けません。".into()
            }
            DeviceError::Store(StoreError::Damaged { .. }) => {
                "データファイルが破損しています。ファイルはそのまま残してあります。情報システム担当に連絡してください。".into()
            }
            DeviceError::Store(StoreError::NewerSchema { .. }) => {
                "このデータは新しいバージョンのつなぎで作成されています。アプリを更新してください。".into()
            }
            DeviceError::Store(e) => format!("データの読み書きに失敗しました（{}）。", e.code()),
            DeviceError::Key(KeyError::PinRequired) => "PINを入力してください。".into(),
            DeviceError::Key(KeyError::WrongPin { remaining }) => {
                format!("PINが違います。あと{remaining}回間違えるとロックされます。")
            }
            DeviceError::Key(KeyError::Locked) => {
                "PINの誤りが続いたためロックされました。情報システム担当が回復コードで解除します（データは消えていません）。".into()
            }
            DeviceError::Key(KeyError::InvalidPin(_)) => {
                "PINは4〜32桁の数字です（同じ数字の繰り返しは使えません）。".into()
            }
            DeviceError::Key(KeyError::WrongRecoveryCode) => "回復コードが一致しません。".into(),
            DeviceError::Key(KeyError::KeystoreUnavailable(_)) => {
                "端末の鍵保管庫（キーストア）に接続できません。".into()
            }
            DeviceError::Key(KeyError::Missing) => {
                "この端末の鍵保管庫にデータの鍵がありません。情報システム担当に連絡してください。".into()
            }
            DeviceError::Key(KeyError::LeaseExpired {
                clock_turned_back: true,
                ..
            }) => {
                "端末の時計が最後にサーバーと接続した時刻より前になっているため、記録を開けません。時計を確認してからネットワークにつなぎ、「サーバーに接続して確認」を押してください（記録は端末に残っています）。".into()
            }
            DeviceError::Key(KeyError::LeaseExpired { days, .. }) => format!(
                "最後にサーバーと接続してから{days}日が過ぎたため、記録を開けません。ネットワークにつないで「サーバーに接続して確認」を押してください（記録は端末に残っています）。"
            ),
            DeviceError::Key(KeyError::AttemptsIo { .. }) => {
                "PINの試行回数の記録を保存できません。端末の空き容量を確認してください。".into()
            }
            DeviceError::Key(e) => format!("鍵の処理に失敗しました（{}）。", e.code()),
            DeviceError::NotInitialized(_) => "この端末はまだ設定されていません。".into(),
            DeviceError::AlreadyInitialized(_) => "この端末はすでに設定されています。".into(),
            DeviceError::UnknownPerson(_) => "指定された対象者が見つかりません。".into(),
            DeviceError::NotFound(_) => "指定された記録がこの端末にありません。".into(),
            DeviceError::Settings { .. } => "端末の設定ファイルが読めません。".into(),
            DeviceError::Io { .. } => "ファイルの読み書きに失敗しました。".into(),
            DeviceError::NotEnrolled => "この端末はまだサーバーに登録されていません。".into(),
            DeviceError::AlreadyEnrolled => "この端末はすでにサーバーに登録されています。".into(),
            DeviceError::Bundle(_) => "登録用データ（バンドル）が正しくありません。".into(),
            DeviceError::Untrusted(_) => {
                "サーバーから受け取った情報の署名を確認できないため、受け付けませんでした。情報システム担当に連絡してください。".into()
            }
            DeviceError::NotAllowed(r) => r.message_ja(),
            DeviceError::ReadOnlyCase { owner } => format!(
                "このケースは他のチーム（{owner}）から閲覧のみで共有されているため、記録の追加や変更はできません。担当チームに連絡してください。"
            ),
            DeviceError::Server(tsunagi_protocol::client::ClientError::Unreachable(_)) => {
                "サーバーに接続できません。電波の届く場所で再度お試しください（記録は端末に保存されています）。".into()
            }
            DeviceError::Server(tsunagi_protocol::client::ClientError::Refused { code, .. })
                if code == "revoked" || code == "device_revoked" =>
            {
                "この端末は無効化されています。情報システム担当に連絡してください（未送信の記録は端末に残っています）。".into()
            }
            DeviceError::Server(tsunagi_protocol::client::ClientError::InsecureUrl(_)) => {
                "サーバーのアドレスが暗号化されない「http://」のため、接続しませんでした。「https://」で始まるアドレスを情報システム担当に確認してください。".into()
            }
            DeviceError::Server(_) => "サーバーが要求を受け付けませんでした。".into(),
            DeviceError::NothingPending => {
                "このプランに会議の記録を待っている段階はありません。".into()
            }
            DeviceError::NoConflict { .. } => {
                "この項目の食い違いはすでに解消されています。画面を開き直してください。".into()
            }
            DeviceError::BadDraft(_) => "下書きを保存できませんでした（形式が正しくありません）。".into(),
            DeviceError::BadValue(_) => "選んだ値はこの記録に使えません。".into(),
        }
    }
}

/// Why the device or its user may not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The device holds no team key: IT or a lead has not approved it yet.
    #[error("this device holds no team key yet: it has not been approved")]
    NotApproved,
    /// Only a team lead's device approves devices.
    #[error("only a team lead's device can approve devices")]
    NotLead,
    /// The device to approve belongs to another team.
    #[error("device {device} belongs to team {team}, not this team")]
    OtherTeamsDevice {
        /// The device.
        device: String,
        /// Its team.
        team: String,
    },
    /// A lead approves worker devices only; IT approves leads.
    #[error("a lead approves worker devices only; IT approves leads")]
    LeadApprovesWorkersOnly,
    /// The device to approve is not waiting for approval.
    #[error("device {device} is {state}, not pending")]
    NotPending {
        /// The device.
        device: String,
        /// Its state.
        state: String,
    },
    /// The team has no key yet: IT approves its first device.
    #[error("the team has no key yet; IT approves the first device")]
    TeamHasNoKey,
    /// This device lacks the team key of an epoch it needs.
    #[error("this device does not hold the team key of epoch {epoch}")]
    TeamKeyNotHeld {
        /// The epoch.
        epoch: u32,
    },
    /// The receiving team has not published its key: none of its devices synced yet.
    #[error(
        "team {team} has not published its key yet (none of its devices has synced since its key was made)"
    )]
    TeamKeyNotPublished {
        /// The team.
        team: String,
    },
    /// Sharing a case with the team that owns it.
    #[error("the case already belongs to this team")]
    ShareWithOwnTeam,
    /// Sharing a case that another team owns.
    #[error("this case belongs to another team and cannot be shared from here")]
    NotOwnCase,
    /// Records of this kind are corrected by a new record, never edited.
    #[error("{kind} records are corrected by a new record, not edited")]
    NotEditable {
        /// The kind.
        kind: String,
    },
}

impl Refusal {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::NotApproved => "not_approved",
            Refusal::NotLead => "not_lead",
            Refusal::OtherTeamsDevice { .. } => "other_teams_device",
            Refusal::LeadApprovesWorkersOnly => "lead_approves_workers_only",
            Refusal::NotPending { .. } => "device_not_pending",
            Refusal::TeamHasNoKey => "team_has_no_key",
            Refusal::TeamKeyNotHeld { .. } => "team_key_not_held",
            Refusal::TeamKeyNotPublished { .. } => "team_key_not_published",
            Refusal::ShareWithOwnTeam => "share_with_own_team",
            Refusal::NotOwnCase => "not_own_case",
            Refusal::NotEditable { .. } => "not_editable",
        }
    }

    /// The reason in Japanese.
    pub fn message_ja(&self) -> String {
        match self {
            Refusal::NotApproved => {
                "この端末はまだ承認されていません。リーダーか情報システム担当の承認を待ってください。".into()
            }
            Refusal::NotLead => "端末の承認はチームリーダーの端末からだけ行えます。".into(),
            Refusal::OtherTeamsDevice { team, .. } => {
                format!("この端末は他のチーム（「{team}」）の端末のため、承認できません。")
            }
            Refusal::LeadApprovesWorkersOnly => {
                "リーダーが承認できるのは担当者の端末だけです。リーダーの端末は情報システム担当が承認します。".into()
            }
            Refusal::NotPending { .. } => "この端末は承認待ちではありません。".into(),
            Refusal::TeamHasNoKey => {
                "チームの鍵がまだありません。最初の端末は情報システム担当が承認します。".into()
            }
            Refusal::TeamKeyNotHeld { .. } => {
                "この端末はチームの最新の鍵を持っていません。同期してから再度お試しください。".into()
            }
            Refusal::TeamKeyNotPublished { team } => format!(
                "共有先のチーム（「{team}」）の鍵がまだ公開されていません。相手チームの端末が一度同期してから再度お試しください。"
            ),
            Refusal::ShareWithOwnTeam => "このケースはすでに自分のチームのケースです。".into(),
            Refusal::NotOwnCase => {
                "このケースは他のチームのケースのため、ここから共有することはできません。".into()
            }
            Refusal::NotEditable { .. } => {
                "この記録は書き換えられません。訂正は新しい記録として残してください。".into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_names_its_field_and_keeps_the_domains_japanese() {
        let e = DeviceError::from(tsunagi_core::person::Kana::parse("Aやまだ").unwrap_err());
        assert_eq!(e.code(), "not_kana");
        assert_eq!(e.field(), Some("kana"));
        assert_eq!(
            e.message_ja(),
            "ふりがなはひらがなかカタカナで入力してください（「A」は使えません）。"
        );
        let e = DeviceError::from(InstrumentError::WrongAnswerCount {
            expected: 10,
            got: 3,
        });
        assert_eq!(e.field(), Some("answers"));
        assert!(e.message_ja().starts_with("回答の数が違います"));
        assert_eq!(DeviceError::NotEnrolled.field(), None);
    }
}
