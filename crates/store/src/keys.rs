//! The local key vault: the store key (LDK) kept in the OS keystore through `keyring`
//! (Secret Service on Linux), optionally wrapped under the app PIN, with counted wrong
//! attempts and a lock that only an IT recovery code lifts — never by deleting data.
//!
//! One keystore entry per store holds the vault record, so every update (a failed attempt,
//! a lock, a new PIN) is a single atomic write.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;
use tsunagi_crypto::{
    CryptoError, PinParams, RecoveryCode, StoreKey, derive_pin_kek, derive_recovery_kek,
    random_array, unwrap_store_key, wrap_store_key,
};
use zeroize::{Zeroize, Zeroizing};

/// Wrong PIN attempts allowed before the store locks.
pub const MAX_PIN_ATTEMPTS: u32 = 5;

/// The keystore service name under which Tsunagi keeps its entries.
pub const KEYSTORE_SERVICE: &str = "tsunagi";

/// Why the vault could not give the key.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// No OS keystore is reachable (on Linux: no Secret Service on the session bus, or the
    /// keyring is locked).
    #[error("the OS keystore is not available: {0}")]
    KeystoreUnavailable(String),
    /// The keystore has no key for this store (another user or machine, or it was removed).
    #[error("the OS keystore holds no key for this store")]
    Missing,
    /// The store has a PIN and none was given.
    #[error("this store is protected by a PIN; give it (e.g. --pin-stdin)")]
    PinRequired,
    /// The PIN is wrong; `remaining` attempts are left before the store locks.
    #[error("wrong PIN ({remaining} attempts left before the store locks)")]
    WrongPin {
        /// Attempts left.
        remaining: u32,
    },
    /// Too many wrong PINs: locked until IT re-enables it with the recovery code.
    /// Nothing stored was deleted.
    #[error(
        "the store is locked after too many wrong PINs; IT must re-enable it with the recovery code (no data was deleted)"
    )]
    Locked,
    /// The recovery code does not open this store.
    #[error("the recovery code does not match this store")]
    WrongRecoveryCode,
    /// A PIN that is too weak or malformed.
    #[error("invalid PIN: {0}")]
    InvalidPin(String),
    /// The keystore entry exists but cannot be read (damaged).
    #[error("the keystore entry for this store is unreadable: {0}")]
    Corrupt(String),
    /// A cryptographic failure other than a wrong PIN.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

impl KeyError {
    /// A stable machine code for `--json` output and the UI.
    pub fn code(&self) -> &'static str {
        match self {
            KeyError::KeystoreUnavailable(_) => "keystore_unavailable",
            KeyError::Missing => "key_missing",
            KeyError::PinRequired => "pin_required",
            KeyError::WrongPin { .. } => "wrong_pin",
            KeyError::Locked => "locked",
            KeyError::WrongRecoveryCode => "wrong_recovery_code",
            KeyError::InvalidPin(_) => "invalid_pin",
            KeyError::Corrupt(_) => "keystore_corrupt",
            KeyError::Crypto(_) => "crypto",
        }
    }
}

/// Where secrets live. The OS keystore in the product ([`OsKeystore`]); the trait exists so that
/// tablets can plug the Android/Apple stores in the same way.
pub trait Keystore {
    /// Reads a secret; `None` when there is no such entry.
    fn get(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, KeyError>;
    /// Writes (replaces) a secret.
    fn set(&self, name: &str, secret: &[u8]) -> Result<(), KeyError>;
    /// Removes a secret (no error when absent).
    fn delete(&self, name: &str) -> Result<(), KeyError>;
}

#[cfg(not(any(target_os = "android", target_os = "ios")))]
/// The operating system's keystore through `keyring` (Secret Service on Linux, Keychain on
/// macOS, Credential Manager on Windows).
#[derive(Debug, Clone)]
pub struct OsKeystore {
    service: String,
}

#[cfg(not(any(target_os = "android", target_os = "ios")))]
impl OsKeystore {
    /// Entries under [`KEYSTORE_SERVICE`].
    pub fn new() -> OsKeystore {
        OsKeystore {
            service: KEYSTORE_SERVICE.to_owned(),
        }
    }

    fn entry(&self, name: &str) -> Result<keyring::Entry, KeyError> {
        keyring::Entry::new(&self.service, name).map_err(map_keyring)
    }
}

#[cfg(not(any(target_os = "android", target_os = "ios")))]
impl Default for OsKeystore {
    fn default() -> Self {
        OsKeystore::new()
    }
}

#[cfg(not(any(target_os = "android", target_os = "ios")))]
fn map_keyring(e: keyring::Error) -> KeyError {
    match e {
        keyring::Error::NoEntry => KeyError::Missing,
        keyring::Error::BadEncoding(_) => KeyError::Corrupt("not the expected encoding".into()),
        other => KeyError::KeystoreUnavailable(other.to_string()),
    }
}

#[cfg(not(any(target_os = "android", target_os = "ios")))]
impl Keystore for OsKeystore {
    fn get(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, KeyError> {
        match self.entry(name)?.get_secret() {
            Ok(s) => Ok(Some(Zeroizing::new(s))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_keyring(e)),
        }
    }

    fn set(&self, name: &str, secret: &[u8]) -> Result<(), KeyError> {
        self.entry(name)?.set_secret(secret).map_err(map_keyring)
    }

    fn delete(&self, name: &str) -> Result<(), KeyError> {
        match self.entry(name)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_keyring(e)),
        }
    }
}

/// The app PIN: 4 to 32 digits (a tablet's number pad). Zeroized on drop.
pub struct Pin(Zeroizing<String>);

impl Pin {
    /// Validates a PIN as typed (surrounding whitespace and a trailing newline ignored).
    pub fn parse(s: &str) -> Result<Pin, KeyError> {
        let t = s.trim();
        let n = t.chars().count();
        if !(4..=32).contains(&n) {
            return Err(KeyError::InvalidPin(format!(
                "a PIN has 4 to 32 digits, not {n}"
            )));
        }
        if !t.chars().all(|c| c.is_ascii_digit()) {
            return Err(KeyError::InvalidPin("a PIN has digits only".into()));
        }
        let first = t.chars().next();
        if t.chars().all(|c| Some(c) == first) {
            return Err(KeyError::InvalidPin(
                "a PIN of one repeated digit is too easy to guess".into(),
            ));
        }
        Ok(Pin(Zeroizing::new(t.to_owned())))
    }

    fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(..)")
    }
}

#[derive(Serialize, Deserialize)]
struct PinRecord {
    params: PinParams,
    /// Keystore-held secret combined with the PIN (base64).
    pepper: String,
    /// LDK wrapped under the PIN KEK (base64).
    wrapped: String,
    failures: u32,
    locked: bool,
}

#[derive(Serialize, Deserialize)]
struct RecoveryRecord {
    salt: [u8; 16],
    /// LDK wrapped under the recovery KEK (base64).
    wrapped: String,
}

#[derive(Serialize, Deserialize)]
struct VaultRecord {
    v: u32,
    /// The LDK itself (base64) when the store has no PIN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ldk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pin: Option<PinRecord>,
    recovery: RecoveryRecord,
}

impl Drop for VaultRecord {
    fn drop(&mut self) {
        if let Some(k) = &mut self.ldk {
            k.zeroize();
        }
        if let Some(p) = &mut self.pin {
            p.pepper.zeroize();
        }
    }
}

/// What the vault can say without the PIN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VaultStatus {
    /// Whether a PIN protects the key.
    pub has_pin: bool,
    /// Wrong attempts since the last success.
    pub failures: u32,
    /// Locked after too many wrong attempts.
    pub locked: bool,
}

/// The key vault of one store.
#[derive(Debug)]
pub struct Vault<'k, K: Keystore> {
    keystore: &'k K,
    store_id: String,
}

fn b64_decode(s: &str, what: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    B64.decode(s)
        .map(Zeroizing::new)
        .map_err(|_| KeyError::Corrupt(format!("{what} is not base64")))
}

impl<'k, K: Keystore> Vault<'k, K> {
    /// The vault of the store with this id.
    pub fn new(keystore: &'k K, store_id: &str) -> Self {
        Vault {
            keystore,
            store_id: store_id.to_owned(),
        }
    }

    fn entry_name(&self) -> String {
        format!("store/{}", self.store_id)
    }

    fn aad(&self) -> Vec<u8> {
        format!("tsunagi/ldk/v1/{}", self.store_id).into_bytes()
    }

    fn load(&self) -> Result<VaultRecord, KeyError> {
        let raw = self
            .keystore
            .get(&self.entry_name())?
            .ok_or(KeyError::Missing)?;
        serde_json::from_slice(&raw).map_err(|e| KeyError::Corrupt(e.to_string()))
    }

    fn save(&self, rec: &VaultRecord) -> Result<(), KeyError> {
        let json =
            Zeroizing::new(serde_json::to_vec(rec).map_err(|e| KeyError::Corrupt(e.to_string()))?);
        self.keystore.set(&self.entry_name(), &json)
    }

    /// Generates the store key and keeps it in the keystore, wrapped under `pin` if given.
    /// Returns the key and the one-time recovery code for IT.
    pub fn create(&self, pin: Option<&Pin>) -> Result<(StoreKey, RecoveryCode), KeyError> {
        if self.keystore.get(&self.entry_name())?.is_some() {
            return Err(KeyError::Corrupt(
                "a key for this store already exists".into(),
            ));
        }
        let key = StoreKey::generate()?;
        let code = RecoveryCode::generate()?;
        let salt: [u8; 16] = random_array()?;
        let recovery = RecoveryRecord {
            salt,
            wrapped: B64.encode(wrap_store_key(
                &derive_recovery_kek(&code, &salt),
                &key,
                &self.aad(),
            )?),
        };
        let rec = match pin {
            None => VaultRecord {
                v: 1,
                ldk: Some(B64.encode(key.as_bytes())),
                pin: None,
                recovery,
            },
            Some(pin) => VaultRecord {
                v: 1,
                ldk: None,
                pin: Some(self.pin_record(&key, pin)?),
                recovery,
            },
        };
        self.save(&rec)?;
        Ok((key, code))
    }

    fn pin_record(&self, key: &StoreKey, pin: &Pin) -> Result<PinRecord, KeyError> {
        let params = PinParams::recommended()?;
        let pepper: Zeroizing<[u8; 32]> = Zeroizing::new(random_array()?);
        let kek = derive_pin_kek(pin.bytes(), &pepper, &params)?;
        Ok(PinRecord {
            params,
            pepper: B64.encode(pepper.as_ref()),
            wrapped: B64.encode(wrap_store_key(&kek, key, &self.aad())?),
            failures: 0,
            locked: false,
        })
    }

    /// Whether a PIN is needed, and the attempt counter.
    pub fn status(&self) -> Result<VaultStatus, KeyError> {
        let rec = self.load()?;
        Ok(match &rec.pin {
            None => VaultStatus {
                has_pin: false,
                failures: 0,
                locked: false,
            },
            Some(p) => VaultStatus {
                has_pin: true,
                failures: p.failures,
                locked: p.locked,
            },
        })
    }

    /// The store key. With a PIN, a wrong one is counted *before* it is checked (killing the
    /// process mid-check does not give a free attempt); after [`MAX_PIN_ATTEMPTS`] the vault
    /// locks.
    pub fn unlock(&self, pin: Option<&Pin>) -> Result<StoreKey, KeyError> {
        let mut rec = self.load()?;
        if let Some(ldk) = &rec.ldk {
            return Ok(StoreKey::from_slice(&b64_decode(ldk, "store key")?)?);
        }
        let aad = self.aad();
        let p = rec
            .pin
            .as_mut()
            .ok_or_else(|| KeyError::Corrupt("neither key nor PIN".into()))?;
        if p.locked {
            return Err(KeyError::Locked);
        }
        let pin = pin.ok_or(KeyError::PinRequired)?;
        p.failures += 1;
        let failures = p.failures;
        let pepper: [u8; 32] = b64_decode(&p.pepper, "pepper")?
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::Corrupt("pepper length".into()))?;
        let pepper = Zeroizing::new(pepper);
        let wrapped = b64_decode(&p.wrapped, "wrapped key")?;
        let params = p.params.clone();
        self.save(&rec)?;
        let kek = derive_pin_kek(pin.bytes(), &pepper, &params)?;
        let p = rec
            .pin
            .as_mut()
            .ok_or_else(|| KeyError::Corrupt("PIN record vanished".into()))?;
        match unwrap_store_key(&kek, &wrapped, &aad) {
            Ok(key) => {
                p.failures = 0;
                self.save(&rec)?;
                Ok(key)
            }
            Err(CryptoError::DecryptionFailed) => {
                if failures >= MAX_PIN_ATTEMPTS {
                    p.locked = true;
                    self.save(&rec)?;
                    Err(KeyError::Locked)
                } else {
                    Err(KeyError::WrongPin {
                        remaining: MAX_PIN_ATTEMPTS - failures,
                    })
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// IT's re-enable: the recovery code opens the key, the counter and lock are cleared and
    /// the PIN is replaced by `new_pin` (or removed). Nothing stored is touched.
    pub fn recover(
        &self,
        code: &RecoveryCode,
        new_pin: Option<&Pin>,
    ) -> Result<StoreKey, KeyError> {
        let mut rec = self.load()?;
        let kek = derive_recovery_kek(code, &rec.recovery.salt);
        let wrapped = b64_decode(&rec.recovery.wrapped, "recovery key")?;
        let key = unwrap_store_key(&kek, &wrapped, &self.aad())
            .map_err(|_| KeyError::WrongRecoveryCode)?;
        match new_pin {
            Some(pin) => {
                rec.pin = Some(self.pin_record(&key, pin)?);
                rec.ldk = None;
            }
            None => {
                rec.pin = None;
                rec.ldk = Some(B64.encode(key.as_bytes()));
            }
        }
        self.save(&rec)?;
        Ok(key)
    }

    /// Changes the PIN (the current key is needed, i.e. the store was unlocked).
    pub fn set_pin(&self, key: &StoreKey, new_pin: Option<&Pin>) -> Result<(), KeyError> {
        let mut rec = self.load()?;
        match new_pin {
            Some(pin) => {
                rec.pin = Some(self.pin_record(key, pin)?);
                rec.ldk = None;
            }
            None => {
                rec.pin = None;
                rec.ldk = Some(B64.encode(key.as_bytes()));
            }
        }
        self.save(&rec)
    }

    /// Removes this store's key from the keystore (when the store itself is removed).
    pub fn destroy(&self) -> Result<(), KeyError> {
        self.keystore.delete(&self.entry_name())
    }
}
