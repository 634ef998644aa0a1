//! The device directory's settings file (`device.json`): identifiers and the key check value,
//! no secret and no personal data. Written atomically (temp file + rename).

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tsunagi_core::ids::DeviceId;

use crate::DeviceError;

/// Format version of `device.json`.
pub const SETTINGS_FORMAT: u32 = 1;

/// What a device directory records about itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    /// Format version of this file.
    pub format: u32,
    /// This device (author of its change sets).
    pub device_id: DeviceId,
    /// The store's id (names its key in the OS keystore).
    pub store_id: String,
    /// HMAC commitment to the store key (hex): tells a wrong key from a damaged file.
    pub key_check: String,
    /// The store file's first 16 bytes (SQLCipher's random per-file salt, hex): tells another
    /// store file put in this one's place apart from a damaged one.
    #[serde(default)]
    pub file_salt: Option<String>,
    /// Who uses this device (recorded in the access log).
    pub actor: String,
    /// When the device was initialized (RFC 3339).
    pub created_at: String,
}

impl Settings {
    /// `DIR/device.json`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("device.json")
    }

    /// `DIR/store.db`.
    pub fn store_path(dir: &Path) -> PathBuf {
        dir.join("store.db")
    }

    /// Reads the settings; a missing file means the directory holds no device.
    pub fn load(dir: &Path) -> Result<Settings, DeviceError> {
        let path = Settings::path(dir);
        let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => DeviceError::NotInitialized(dir.to_owned()),
            _ => DeviceError::Io {
                path: path.clone(),
                source: e,
            },
        })?;
        let s: Settings = serde_json::from_slice(&bytes).map_err(|e| DeviceError::Settings {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        if s.format > SETTINGS_FORMAT {
            return Err(DeviceError::Settings {
                path,
                detail: format!(
                    "format {} is newer than this program ({SETTINGS_FORMAT})",
                    s.format
                ),
            });
        }
        Ok(s)
    }

    /// Writes the settings atomically.
    pub fn save(&self, dir: &Path) -> Result<(), DeviceError> {
        let path = Settings::path(dir);
        let tmp = dir.join(".device.json.tmp");
        let json = serde_json::to_vec_pretty(self).map_err(|e| DeviceError::Settings {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        std::fs::write(&tmp, json).map_err(|e| DeviceError::Io {
            path: tmp.clone(),
            source: e,
        })?;
        std::fs::rename(&tmp, &path).map_err(|e| DeviceError::Io { path, source: e })
    }

    /// The key check value as bytes.
    pub fn key_check_bytes(&self) -> Option<[u8; 32]> {
        let mut out = [0u8; 32];
        if self.key_check.len() != 64 {
            return None;
        }
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(self.key_check.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(out)
    }
}

/// The first 16 bytes of the store file, hex (`None` if it is shorter).
pub(crate) fn read_file_salt(path: &Path) -> Result<Option<String>, DeviceError> {
    use std::io::Read;
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(DeviceError::Io {
                path: path.to_owned(),
                source: e,
            });
        }
    };
    let mut salt = [0u8; 16];
    match f.read_exact(&mut salt) {
        Ok(()) => Ok(Some(hex(&salt))),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(DeviceError::Io {
            path: path.to_owned(),
            source: e,
        }),
    }
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
