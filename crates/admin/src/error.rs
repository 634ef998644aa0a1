//! Errors of `tsunagi-admin`: each has a stable `code()` for `--json` and scripts, and says
//! whether it is the operator's input (exit 2) or a failure (exit 1).

use std::path::PathBuf;
use thiserror::Error;
use tsunagi_crypto::CryptoError;
use tsunagi_protocol::client::ClientError;

/// Why an admin operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AdminError {
    /// No passphrase given (`TSUNAGI_ADMIN_PASSPHRASE` or `--passphrase-stdin`).
    #[error("a passphrase is required: set TSUNAGI_ADMIN_PASSPHRASE or use --passphrase-stdin")]
    PassphraseRequired,
    /// A new passphrase shorter than the minimum.
    #[error("the passphrase must have at least {min} characters")]
    PassphraseTooShort {
        /// The minimum length in characters.
        min: usize,
    },
    /// The passphrase does not open the sealed key files (or they were altered).
    #[error("wrong passphrase (or the sealed key file {0} was altered)")]
    WrongPassphrase(PathBuf),
    /// The server URL is not an `http(s)://host[:port][/path]` URL.
    #[error("bad server URL {0:?}: expected http(s)://host[:port]")]
    BadServerUrl(String),
    /// A team id outside `[a-z0-9-]{1,64}`.
    #[error("bad team id {0:?}: lower-case letters, digits and '-', at most 64")]
    BadTeamId(String),
    /// An unknown role.
    #[error("bad role {0:?}: expected worker or lead")]
    BadRole(String),
    /// A value that should be a UUID.
    #[error("bad {what} id {value:?}: expected a UUID")]
    BadId {
        /// Which id.
        what: &'static str,
        /// The value given.
        value: String,
    },
    /// An enrollment validity outside 1..=720 hours.
    #[error("bad validity {0} h: expected 1 to 720 hours")]
    BadTtl(u32),
    /// A device policy (PIN length, lease) outside what the device accepts.
    #[error("bad device policy: {0}")]
    BadPolicy(String),
    /// The server knows no such team.
    #[error("unknown team {team}: {detail}")]
    UnknownTeam {
        /// The team id.
        team: String,
        /// The server's message.
        detail: String,
    },
    /// The server knows no such user.
    #[error("unknown user {user}: {detail}")]
    UnknownUser {
        /// The user id.
        user: String,
        /// The server's message.
        detail: String,
    },
    /// The server knows no such device.
    #[error("unknown device {device}: {detail}")]
    UnknownDevice {
        /// The device id.
        device: String,
        /// The server's message.
        detail: String,
    },
    /// Approval of a device that is not pending.
    #[error("device {device} is {state}, not pending: nothing to approve")]
    NotPending {
        /// The device.
        device: String,
        /// Its state.
        state: &'static str,
    },
    /// This directory already holds an initialized org.
    #[error("{0} already holds an initialized tsunagi-admin state; nothing was changed")]
    AlreadyInitialized(PathBuf),
    /// No initialized org in this directory.
    #[error("no tsunagi-admin state in {0} (run `tsunagi-admin init` first)")]
    NotInitialized(PathBuf),
    /// Only part of the key files exist: refuse to guess.
    #[error("{0} holds only one of admin.key and org-recovery.key; restore the other from backup")]
    IncompleteState(PathBuf),
    /// A file that must not be overwritten already exists.
    #[error("{0} already exists; refusing to overwrite it")]
    FileExists(PathBuf),
    /// `admin.json` does not parse.
    #[error("the state file {path} is unreadable: {detail}")]
    StateUnreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// A file could not be read or written.
    #[error("file error on {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The server could not be reached, refused, or answered outside the protocol.
    #[error(transparent)]
    Server(#[from] ClientError),
    /// The server answered with keys that contradict what was pinned or signed.
    #[error("the server's answer does not verify: {0}")]
    Untrusted(String),
    /// The device was revoked but the team key could not be rotated: run the revocation again
    /// (it is safe to repeat), or `team rotate-key`.
    #[error(
        "device {device} is revoked, but rotating the key of team {team} failed: {source}; run `tsunagi-admin device revoke {device}` again (safe to repeat) or `tsunagi-admin team rotate-key {team}`"
    )]
    RotationAfterRevoke {
        /// The revoked device.
        device: String,
        /// Its team.
        team: String,
        /// Why the rotation failed.
        source: Box<AdminError>,
    },
    /// The device code IT typed is not the one of the keys the server reports for the device:
    /// the server (or someone on the way) substituted a key, or the code was misread.
    #[error(
        "the device code does not match device {device}'s keys as the server reports them: compare again on the device's screen; if it still differs, do not approve (the keys may have been substituted)"
    )]
    CodeMismatch {
        /// The device.
        device: String,
    },
    /// The device code typed is malformed (too short, not hex).
    #[error("bad device code: {0}")]
    BadCode(String),
    /// The registry file of approved device keys cannot be read or written.
    #[error("the device registry {path} is unreadable: {detail}")]
    RegistryUnreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// A cryptographic operation failed (randomness, malformed key).
    #[error("cryptography failed: {0}")]
    Crypto(#[from] CryptoError),
    /// The QR code could not be made (bundle too large for a QR code).
    #[error("cannot make the QR code: {0}")]
    Qr(String),
}

impl AdminError {
    /// Stable machine code. For a server refusal, the server's own code.
    pub fn code(&self) -> &str {
        match self {
            AdminError::PassphraseRequired => "passphrase_required",
            AdminError::PassphraseTooShort { .. } => "passphrase_too_short",
            AdminError::WrongPassphrase(_) => "wrong_passphrase",
            AdminError::BadServerUrl(_) => "bad_server_url",
            AdminError::BadTeamId(_) => "bad_team_id",
            AdminError::BadRole(_) => "bad_role",
            AdminError::BadId { .. } => "bad_id",
            AdminError::BadTtl(_) => "bad_ttl",
            AdminError::BadPolicy(_) => "bad_policy",
            AdminError::UnknownTeam { .. } => "unknown_team",
            AdminError::UnknownUser { .. } => "unknown_user",
            AdminError::UnknownDevice { .. } => "unknown_device",
            AdminError::NotPending { .. } => "not_pending",
            AdminError::AlreadyInitialized(_) => "already_initialized",
            AdminError::NotInitialized(_) => "not_initialized",
            AdminError::IncompleteState(_) => "incomplete_state",
            AdminError::FileExists(_) => "file_exists",
            AdminError::StateUnreadable { .. } => "state_unreadable",
            AdminError::Io { .. } => "io",
            AdminError::Server(e) => e.code(),
            AdminError::Untrusted(_) => "untrusted_answer",
            AdminError::RotationAfterRevoke { .. } => "rotation_failed",
            AdminError::CodeMismatch { .. } => "code_mismatch",
            AdminError::BadCode(_) => "bad_code",
            AdminError::RegistryUnreadable { .. } => "registry_unreadable",
            AdminError::Crypto(_) => "crypto",
            AdminError::Qr(_) => "qr",
        }
    }

    /// Whether this is the operator's input (exit 2) rather than a failure (exit 1).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            AdminError::PassphraseRequired
                | AdminError::PassphraseTooShort { .. }
                | AdminError::WrongPassphrase(_)
                | AdminError::BadServerUrl(_)
                | AdminError::BadTeamId(_)
                | AdminError::BadRole(_)
                | AdminError::BadId { .. }
                | AdminError::BadTtl(_)
                | AdminError::BadPolicy(_)
                | AdminError::UnknownTeam { .. }
                | AdminError::UnknownUser { .. }
                | AdminError::UnknownDevice { .. }
                | AdminError::NotPending { .. }
                | AdminError::CodeMismatch { .. }
                | AdminError::BadCode(_)
                | AdminError::AlreadyInitialized(_)
                | AdminError::NotInitialized(_)
                | AdminError::FileExists(_)
                | AdminError::Server(ClientError::InsecureUrl(_))
        )
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> AdminError {
        AdminError::Io {
            path: path.to_owned(),
            source,
        }
    }
}
