//! The admin state directory: `admin.json` (server, pinned and own public keys, fingerprints;
//! no secret) and the two sealed key files `admin.key` and `org-recovery.key`
//! (`seal_with_passphrase`, mode 0600, never overwritten).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use tsunagi_crypto::CryptoError;
use tsunagi_crypto::identity::{
    KemKey, KemPublic, SigKey, SigPublic, fingerprint, open_with_passphrase, seal_with_passphrase,
};
use zeroize::Zeroizing;

use crate::error::AdminError;

/// The public state file.
pub const STATE_FILE: &str = "admin.json";
/// The sealed admin signing key.
pub const ADMIN_KEY_FILE: &str = "admin.key";
/// The sealed org recovery key.
pub const ORK_FILE: &str = "org-recovery.key";
/// The shortest passphrase `init` accepts, in characters.
pub const MIN_PASSPHRASE_CHARS: usize = 12;

/// IT's passphrase, zeroized on drop and never printed.
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// Any passphrase, to open existing key files. A trailing newline is not part of it.
    pub fn new(text: &str) -> Passphrase {
        Passphrase(Zeroizing::new(
            text.trim_end_matches(['\n', '\r']).to_owned(),
        ))
    }

    /// A passphrase for new key files: at least [`MIN_PASSPHRASE_CHARS`] characters.
    pub fn new_for_init(text: &str) -> Result<Passphrase, AdminError> {
        let p = Passphrase::new(text);
        if p.0.chars().count() < MIN_PASSPHRASE_CHARS {
            return Err(AdminError::PassphraseTooShort {
                min: MIN_PASSPHRASE_CHARS,
            });
        }
        Ok(p)
    }

    fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(..)")
    }
}

/// Fingerprints IT compares with what devices and the server show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprints {
    /// Org recovery key.
    pub org_recovery: String,
    /// Admin key.
    pub admin: String,
    /// Server identity key.
    pub server: String,
}

/// `admin.json`: everything public the admin needs; written once by `init`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminState {
    /// Format version (1).
    pub v: u32,
    /// The server's base URL.
    pub server_url: String,
    /// The server identity key pinned at bootstrap.
    #[serde(with = "tsunagi_protocol::b64")]
    pub server_pub: Vec<u8>,
    /// The admin Ed25519 public key.
    #[serde(with = "tsunagi_protocol::b64")]
    pub admin_pub: Vec<u8>,
    /// The ORK X25519 public key.
    #[serde(with = "tsunagi_protocol::b64")]
    pub org_recovery_pub: Vec<u8>,
    /// Fingerprints of the three keys.
    pub fingerprints: Fingerprints,
}

impl AdminState {
    /// The state of an org whose keys are `admin_pub` and `ork_pub`, on the server at
    /// `server_url` with identity `server_pub`.
    pub fn new(
        server_url: &str,
        server_pub: &SigPublic,
        admin_pub: &SigPublic,
        ork_pub: &KemPublic,
    ) -> AdminState {
        AdminState {
            v: 1,
            server_url: server_url.to_owned(),
            server_pub: server_pub.as_bytes().to_vec(),
            admin_pub: admin_pub.as_bytes().to_vec(),
            org_recovery_pub: ork_pub.as_bytes().to_vec(),
            fingerprints: Fingerprints {
                org_recovery: fingerprint(ork_pub.as_bytes()),
                admin: fingerprint(admin_pub.as_bytes()),
                server: fingerprint(server_pub.as_bytes()),
            },
        }
    }

    /// Reads `DIR/admin.json` and checks its keys parse.
    pub fn load(dir: &Path) -> Result<AdminState, AdminError> {
        let path = dir.join(STATE_FILE);
        let text = match fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(AdminError::NotInitialized(dir.to_owned()));
            }
            Err(e) => return Err(AdminError::io(&path, e)),
        };
        let unreadable = |detail: String| AdminError::StateUnreadable {
            path: path.clone(),
            detail,
        };
        let state: AdminState =
            serde_json::from_slice(&text).map_err(|e| unreadable(e.to_string()))?;
        if state.v != 1 {
            return Err(unreadable(format!("unknown version {}", state.v)));
        }
        state.admin_pub().map_err(|e| unreadable(e.to_string()))?;
        state.server_pub().map_err(|e| unreadable(e.to_string()))?;
        state.ork_pub().map_err(|e| unreadable(e.to_string()))?;
        Ok(state)
    }

    /// Writes `DIR/admin.json` (never over an existing one).
    pub fn save(&self, dir: &Path) -> Result<(), AdminError> {
        let text = serde_json::to_vec_pretty(self).map_err(|e| AdminError::StateUnreadable {
            path: dir.join(STATE_FILE),
            detail: e.to_string(),
        })?;
        write_new(&dir.join(STATE_FILE), &text, 0o644)
    }

    /// The pinned admin public key.
    pub fn admin_pub(&self) -> Result<SigPublic, CryptoError> {
        SigPublic::from_bytes(&self.admin_pub)
    }

    /// The pinned server identity key.
    pub fn server_pub(&self) -> Result<SigPublic, CryptoError> {
        SigPublic::from_bytes(&self.server_pub)
    }

    /// The ORK public key.
    pub fn ork_pub(&self) -> Result<KemPublic, CryptoError> {
        KemPublic::from_bytes(&self.org_recovery_pub)
    }
}

/// Checks a server base URL: `http://` or `https://`, a host, no spaces, no query.
pub fn check_server_url(url: &str) -> Result<String, AdminError> {
    let bad = || AdminError::BadServerUrl(url.to_owned());
    let trimmed = url.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .ok_or_else(bad)?;
    let host = rest.split('/').next().unwrap_or_default();
    let host_only =
        host.rsplit_once(':').map_or(
            host,
            |(h, port)| {
                if port.parse::<u16>().is_ok() { h } else { host }
            },
        );
    if host_only.is_empty()
        || host.contains('@')
        || rest
            .chars()
            .any(|c| c.is_whitespace() || c == '?' || c == '#')
        || !host_only
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'))
    {
        return Err(bad());
    }
    // Plain http:// only to this machine: the one rule devices follow too.
    tsunagi_protocol::client::check_server_url(trimmed).map_err(|e| match e {
        tsunagi_protocol::client::ClientError::InsecureUrl(_) => AdminError::Server(e),
        _ => bad(),
    })?;
    Ok(trimmed.to_owned())
}

/// Whether both key files exist (`true`) or neither (`false`); one alone is an error.
fn key_files_present(dir: &Path) -> Result<bool, AdminError> {
    match (
        dir.join(ADMIN_KEY_FILE).exists(),
        dir.join(ORK_FILE).exists(),
    ) {
        (true, true) => Ok(true),
        (false, false) => Ok(false),
        _ => Err(AdminError::IncompleteState(dir.to_owned())),
    }
}

/// The org's two private keys, opened from (or just written to) their sealed files.
#[derive(Debug)]
pub struct OrgKeys {
    /// The admin signing key.
    pub admin: SigKey,
    /// The org recovery key.
    pub ork: KemKey,
    /// Whether they were made now (`false`: an earlier `init` made them and stopped before
    /// the bootstrap finished).
    pub created: bool,
}

/// For `init`: refuses a directory with `admin.json`; opens the key files an interrupted
/// `init` left (same passphrase), or makes and seals new keys into new 0600 files.
pub fn create_or_resume_keys(dir: &Path, passphrase: &Passphrase) -> Result<OrgKeys, AdminError> {
    if dir.join(STATE_FILE).exists() {
        return Err(AdminError::AlreadyInitialized(dir.to_owned()));
    }
    if key_files_present(dir)? {
        return Ok(OrgKeys {
            admin: open_admin_key(dir, passphrase)?,
            ork: open_ork(dir, passphrase)?,
            created: false,
        });
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| AdminError::io(dir, e))?;
    let admin = SigKey::generate()?;
    let ork = KemKey::generate()?;
    let sealed_admin = seal_with_passphrase(admin.seed().as_ref(), passphrase.bytes())?;
    let sealed_ork = seal_with_passphrase(ork.secret().as_ref(), passphrase.bytes())?;
    write_new(&dir.join(ADMIN_KEY_FILE), &sealed_admin, 0o600)?;
    write_new(&dir.join(ORK_FILE), &sealed_ork, 0o600)?;
    Ok(OrgKeys {
        admin,
        ork,
        created: true,
    })
}

fn open_sealed(path: &Path, passphrase: &Passphrase) -> Result<Zeroizing<Vec<u8>>, AdminError> {
    let sealed = match fs::read(path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(AdminError::NotInitialized(
                path.parent().unwrap_or(Path::new(".")).to_owned(),
            ));
        }
        Err(e) => return Err(AdminError::io(path, e)),
    };
    open_with_passphrase(&sealed, passphrase.bytes()).map_err(|e| match e {
        CryptoError::DecryptionFailed => AdminError::WrongPassphrase(path.to_owned()),
        other => AdminError::StateUnreadable {
            path: path.to_owned(),
            detail: other.to_string(),
        },
    })
}

/// Opens `admin.key`.
pub fn open_admin_key(dir: &Path, passphrase: &Passphrase) -> Result<SigKey, AdminError> {
    let seed = open_sealed(&dir.join(ADMIN_KEY_FILE), passphrase)?;
    Ok(SigKey::from_seed(&seed)?)
}

/// Opens `org-recovery.key`.
pub fn open_ork(dir: &Path, passphrase: &Passphrase) -> Result<KemKey, AdminError> {
    let secret = open_sealed(&dir.join(ORK_FILE), passphrase)?;
    Ok(KemKey::from_secret(&secret)?)
}

/// Writes a new file with `mode` (refusing to replace one) and flushes it and its directory
/// to disk: a key file that is lost after the bootstrap cannot be made again.
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), AdminError> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                AdminError::FileExists(path.to_owned())
            } else {
                AdminError::io(path, e)
            }
        })?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| AdminError::io(path, e))?;
    let parent: PathBuf = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    fs::File::open(&parent)
        .and_then(|d| d.sync_all())
        .map_err(|e| AdminError::io(&parent, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls() {
        for ok in [
            "http://127.0.0.1:8080",
            "https://tsunagi.example.lg.jp/",
            "https://h/base",
        ] {
            assert!(check_server_url(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            check_server_url("https://tsunagi.example.lg.jp/").unwrap(),
            "https://tsunagi.example.lg.jp"
        );
        for insecure in [
            "http://example.org",
            "http://tsunagi.example.lg.jp:8443/",
            "http://10.1.2.3",
        ] {
            let e = check_server_url(insecure).unwrap_err();
            assert_eq!(e.code(), "insecure_url", "{insecure}");
            assert!(e.is_bad_input());
        }
        for ok in ["http://[::1]:8443", "http://localhost:8443"] {
            assert!(check_server_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "tsunagi.example",
            "ftp://x",
            "http://",
            "http://a b",
            "http://u@h",
            "http://h?x=1",
        ] {
            assert!(
                matches!(check_server_url(bad), Err(AdminError::BadServerUrl(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn passphrase_length_counts_characters() {
        assert!(Passphrase::new_for_init("short").is_err());
        // 12 characters of 3 bytes each: counted as 12, accepted.
        assert!(Passphrase::new_for_init("つなぎつなぎつなぎつなぎ").is_ok());
        assert!(Passphrase::new_for_init("elevenchars\n").is_err());
        assert_eq!(format!("{:?}", Passphrase::new("secret")), "Passphrase(..)");
    }
}
