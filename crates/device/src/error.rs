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
    /// The user or device may not do this.
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// A write to a case another team owns and shares with this team to read only.
    #[error("the case belongs to team {owner} and is shared with this team read-only")]
    ReadOnlyCase {
        /// The owning team.
        owner: String,
    },
    /// The server could not be reached or refused.
    #[error(transparent)]
    Server(#[from] tsunagi_protocol::client::ClientError),
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
            DeviceError::NotAllowed(_) => "not_allowed",
            DeviceError::ReadOnlyCase { .. } => "read_only_case",
            DeviceError::Server(e) => match e {
                tsunagi_protocol::client::ClientError::Unreachable(_) => "unreachable",
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
                | DeviceError::AlreadyEnrolled
                | DeviceError::NotEnrolled
                | DeviceError::Key(
                    KeyError::PinRequired
                        | KeyError::WrongPin { .. }
                        | KeyError::InvalidPin(_)
                        | KeyError::WrongRecoveryCode
                )
        )
    }

    /// The message in Japanese, for the app's screens. Domain details (which value, which
    /// choices) are appended as given, since they quote the user's own input.
    pub fn message_ja(&self) -> String {
        match self {
            DeviceError::Domain(e) => format!("入力内容に誤りがあります: {e}"),
            DeviceError::Instrument(e) => format!("評価票の回答に誤りがあります: {e}"),
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
            DeviceError::NotAllowed(why) if why.contains("not been approved") => {
                "この端末はまだ承認されていません。リーダーか情報システム担当の承認を待ってください。".into()
            }
            DeviceError::NotAllowed(why) if why.contains("has not published its key") => {
                "共有先チームの鍵がまだ公開されていません。相手チームの端末が一度同期してから再度お試しください。".into()
            }
            DeviceError::NotAllowed(_) => "この操作は許可されていません。".into(),
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
            DeviceError::Server(_) => "サーバーが要求を受け付けませんでした。".into(),
        }
    }
}
