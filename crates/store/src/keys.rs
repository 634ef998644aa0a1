//! The local key vault: the store key (LDK) kept in the OS keystore through `keyring`
//! (Secret Service on Linux), optionally wrapped under the app PIN, with counted wrong
//! attempts and a lock that only an IT recovery code lifts — never by deleting data.
//!
//! One keystore entry per store holds the vault record, so every update (a failed attempt,
//! a lock, a new PIN) is a single atomic write. The attempt counter is also kept in a second,
//! MAC'd record in the device directory (see [`Vault::new`]): restoring an older copy of either
//! one alone does not give back attempts, since the higher count of the two is the one that
//! counts. The entry also holds the offline key lease: when the device last reached its server.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use thiserror::Error;
use tsunagi_crypto::{
    CryptoError, PinParams, RecoveryCode, StoreKey, derive_pin_kek, derive_recovery_kek,
    random_array, record_mac, unwrap_store_key, verify_record_mac, wrap_store_key,
};
use zeroize::{Zeroize, Zeroizing};

/// Wrong PIN attempts allowed before the store locks.
pub const MAX_PIN_ATTEMPTS: u32 = 5;

/// The keystore service name under which Tsunagi keeps its entries.
pub const KEYSTORE_SERVICE: &str = "tsunagi";

/// Days a device may go without reaching its server when IT set no other period.
pub const DEFAULT_LEASE_DAYS: u32 = 14;

/// The name of the attempt counter's second record in the device directory.
pub const ATTEMPTS_FILE: &str = "pin-attempts.json";

const ATTEMPTS_LABEL: &str = "tsunagi/pin-attempts/v1";

/// Serializes this process's read-modify-write of vault entries (the app's unlock and PIN change
/// on one thread, the background sync renewing the lease on another).
static VAULT_WRITES: Mutex<()> = Mutex::new(());

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
    /// The device has not reached its server for longer than the lease IT set (or the clock
    /// was turned back before the last check-in): the store stays closed until a check-in.
    /// The PIN was right (the counter is reset) and nothing was deleted.
    #[error(
        "the device has not reached its server for more than {days} days{}: check in first (nothing was deleted)",
        if *clock_turned_back { " (the clock is earlier than the last check-in)" } else { "" }
    )]
    LeaseExpired {
        /// The lease period.
        days: u32,
        /// The clock is earlier than the last check-in (turned back).
        clock_turned_back: bool,
        /// The last check-in (Unix milliseconds).
        last_ms: i64,
    },
    /// The attempt counter's second record cannot be written (the device directory).
    #[error("the attempt record {path} cannot be written: {detail}")]
    AttemptsIo {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
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
            KeyError::LeaseExpired { .. } => "lease_expired",
            KeyError::AttemptsIo { .. } => "attempts_io",
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
    /// Bumped by every write of the counter (attempt, success, lock): the second record carries
    /// the same generation, so the copy that is behind can be told.
    #[serde(default)]
    generation: u64,
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
    /// The key of the attempt record's MAC (base64): made once with the vault and never
    /// changed, so an older copy of the entry still checks the current record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    attempts_key: Option<String>,
    /// The offline key lease, once the device has enrolled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lease: Option<LeaseRecord>,
    /// IT's shortest PIN for this device (from its enrollment), readable before unlocking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pin_min_digits: Option<u32>,
}

#[derive(Serialize, Deserialize, Clone, Copy)]
struct LeaseRecord {
    /// The last successful signed exchange with the server (Unix milliseconds).
    last_ms: i64,
    /// Days the device may stay offline.
    days: u32,
}

/// The counter's second record, in the device directory: the same counter as the entry's,
/// MAC'd under the entry's `attempts_key` (bound to the store id), so it can be restored but
/// not forged.
#[derive(Serialize, Deserialize)]
struct AttemptsRecord {
    v: u32,
    generation: u64,
    failures: u32,
    locked: bool,
    /// HMAC-SHA256 (base64).
    mac: String,
}

/// The counter as the vault believes it after reading both records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Attempts {
    generation: u64,
    failures: u32,
    locked: bool,
}

/// The offline key lease as the vault holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Lease {
    /// The last successful signed exchange with the server (Unix milliseconds).
    pub last_ms: i64,
    /// Days the device may stay offline.
    pub days: u32,
}

impl Lease {
    /// When the lease runs out (Unix milliseconds).
    pub fn until_ms(&self) -> i64 {
        self.last_ms
            .saturating_add(i64::from(self.days).saturating_mul(86_400_000))
    }

    /// `Err(LeaseExpired)` when, at `now_ms`, the lease has run out or the clock is earlier
    /// than the last check-in (a clock turned back must not stretch the lease).
    pub fn check(&self, now_ms: i64) -> Result<(), KeyError> {
        let back = now_ms < self.last_ms;
        if back || now_ms > self.until_ms() {
            return Err(KeyError::LeaseExpired {
                days: self.days,
                clock_turned_back: back,
                last_ms: self.last_ms,
            });
        }
        Ok(())
    }
}

impl Drop for VaultRecord {
    fn drop(&mut self) {
        if let Some(k) = &mut self.ldk {
            k.zeroize();
        }
        if let Some(p) = &mut self.pin {
            p.pepper.zeroize();
        }
        if let Some(k) = &mut self.attempts_key {
            k.zeroize();
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
    /// The offline key lease (once enrolled).
    pub lease: Option<Lease>,
    /// IT's shortest PIN (once enrolled).
    pub pin_min_digits: Option<u32>,
}

/// The key vault of one store.
#[derive(Debug)]
pub struct Vault<'k, K: Keystore> {
    keystore: &'k K,
    store_id: String,
    attempts_path: PathBuf,
}

fn b64_decode(s: &str, what: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    B64.decode(s)
        .map(Zeroizing::new)
        .map_err(|_| KeyError::Corrupt(format!("{what} is not base64")))
}

impl<'k, K: Keystore> Vault<'k, K> {
    /// The vault of the store with this id, whose device directory is `dir` (where the
    /// attempt counter's second record, [`ATTEMPTS_FILE`], is kept).
    pub fn new(keystore: &'k K, store_id: &str, dir: &Path) -> Self {
        Vault {
            keystore,
            store_id: store_id.to_owned(),
            attempts_path: dir.join(ATTEMPTS_FILE),
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
        let _w = writes();
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
        let attempts_key: Zeroizing<[u8; 32]> = Zeroizing::new(random_array()?);
        let mut rec = VaultRecord {
            v: 1,
            ldk: None,
            pin: None,
            recovery,
            attempts_key: Some(B64.encode(attempts_key.as_ref())),
            lease: None,
            pin_min_digits: None,
        };
        match pin {
            None => rec.ldk = Some(B64.encode(key.as_bytes())),
            Some(pin) => {
                let p = self.pin_record(&key, pin, 1)?;
                // The second record first: an entry never exists without it.
                self.write_attempts(&attempts_key, &Attempts::of(&p))?;
                rec.pin = Some(p);
            }
        }
        self.save(&rec)?;
        Ok((key, code))
    }

    fn pin_record(
        &self,
        key: &StoreKey,
        pin: &Pin,
        generation: u64,
    ) -> Result<PinRecord, KeyError> {
        let params = PinParams::recommended()?;
        let pepper: Zeroizing<[u8; 32]> = Zeroizing::new(random_array()?);
        let kek = derive_pin_kek(pin.bytes(), &pepper, &params)?;
        Ok(PinRecord {
            params,
            pepper: B64.encode(pepper.as_ref()),
            wrapped: B64.encode(wrap_store_key(&kek, key, &self.aad())?),
            failures: 0,
            locked: false,
            generation,
        })
    }

    // ---- the attempt counter's second record --------------------------------------------

    fn attempts_msg(&self, a: &Attempts) -> Vec<u8> {
        format!(
            "{}\n{}\n{}\n{}",
            self.store_id, a.generation, a.failures, a.locked
        )
        .into_bytes()
    }

    /// The second record as written, `None` when there is none; `Some(Err)` when it is not one
    /// this vault wrote (forged, another store's, damaged).
    fn read_attempts(&self, key: &[u8; 32]) -> Result<Option<Result<Attempts, ()>>, KeyError> {
        let bytes = match std::fs::read(&self.attempts_path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(KeyError::AttemptsIo {
                    path: self.attempts_path.clone(),
                    detail: e.to_string(),
                });
            }
        };
        let Ok(r) = serde_json::from_slice::<AttemptsRecord>(&bytes) else {
            return Ok(Some(Err(())));
        };
        let a = Attempts {
            generation: r.generation,
            failures: r.failures,
            locked: r.locked,
        };
        let ok = r.v == 1
            && B64.decode(&r.mac).is_ok_and(|tag| {
                verify_record_mac(key, ATTEMPTS_LABEL, &self.attempts_msg(&a), &tag)
            });
        Ok(Some(if ok { Ok(a) } else { Err(()) }))
    }

    /// Writes the second record atomically (temporary file, fsync, rename).
    fn write_attempts(&self, key: &[u8; 32], a: &Attempts) -> Result<(), KeyError> {
        let rec = AttemptsRecord {
            v: 1,
            generation: a.generation,
            failures: a.failures,
            locked: a.locked,
            mac: B64.encode(record_mac(key, ATTEMPTS_LABEL, &self.attempts_msg(a))),
        };
        let io = |e: std::io::Error| KeyError::AttemptsIo {
            path: self.attempts_path.clone(),
            detail: e.to_string(),
        };
        let json = serde_json::to_vec(&rec).map_err(|e| KeyError::Corrupt(e.to_string()))?;
        let tmp = self.attempts_path.with_extension("json.tmp");
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(&json).map_err(io)?;
        f.sync_all().map_err(io)?;
        drop(f);
        std::fs::rename(&tmp, &self.attempts_path).map_err(io)?;
        Ok(())
    }

    fn attempts_key(rec: &VaultRecord) -> Result<Option<Zeroizing<[u8; 32]>>, KeyError> {
        let Some(k) = &rec.attempts_key else {
            return Ok(None);
        };
        let raw = b64_decode(k, "attempts key")?;
        let arr: [u8; 32] = raw
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::Corrupt("attempts key length".into()))?;
        Ok(Some(Zeroizing::new(arr)))
    }

    /// The counter from both records: the higher count and generation, locked when either
    /// says so. A second record that is missing or does not verify while the entry expects
    /// one is tampering: the vault counts as locked. An entry from before the second record
    /// existed gets its key and record now.
    fn merged(&self, rec: &mut VaultRecord) -> Result<Attempts, KeyError> {
        let Some(p) = &rec.pin else {
            return Err(KeyError::Corrupt("no PIN record".into()));
        };
        let entry = Attempts::of(p);
        let key = match Vault::<K>::attempts_key(rec)? {
            Some(k) => k,
            None => {
                // Written by a version without the second record: start it from the entry.
                let k: Zeroizing<[u8; 32]> = Zeroizing::new(random_array()?);
                self.write_attempts(&k, &entry)?;
                rec.attempts_key = Some(B64.encode(k.as_ref()));
                self.save(rec)?;
                return Ok(entry);
            }
        };
        Ok(match self.read_attempts(&key)? {
            Some(Ok(file)) => Attempts {
                generation: entry.generation.max(file.generation),
                failures: entry.failures.max(file.failures),
                locked: entry.locked
                    || file.locked
                    || entry.failures.max(file.failures) >= MAX_PIN_ATTEMPTS,
            },
            None | Some(Err(())) => Attempts {
                generation: entry.generation,
                failures: entry.failures.max(MAX_PIN_ATTEMPTS),
                locked: true,
            },
        })
    }

    /// Writes the counter to both records (the second first), with the next generation.
    fn store_attempts(&self, rec: &mut VaultRecord, a: Attempts) -> Result<Attempts, KeyError> {
        let key = Vault::<K>::attempts_key(rec)?
            .ok_or_else(|| KeyError::Corrupt("no attempts key".into()))?;
        let a = Attempts {
            generation: a.generation + 1,
            ..a
        };
        self.write_attempts(&key, &a)?;
        let p = rec
            .pin
            .as_mut()
            .ok_or_else(|| KeyError::Corrupt("no PIN record".into()))?;
        p.failures = a.failures;
        p.locked = a.locked;
        p.generation = a.generation;
        self.save(rec)?;
        Ok(a)
    }

    /// Whether a PIN is needed, the attempt counter (the higher of its two records) and the
    /// lease.
    pub fn status(&self) -> Result<VaultStatus, KeyError> {
        let _w = writes();
        let mut rec = self.load()?;
        let lease = rec.lease.map(Lease::from);
        let pin_min_digits = rec.pin_min_digits;
        Ok(match &rec.pin {
            None => VaultStatus {
                has_pin: false,
                failures: 0,
                locked: false,
                lease,
                pin_min_digits,
            },
            Some(_) => {
                let a = self.merged(&mut rec)?;
                VaultStatus {
                    has_pin: true,
                    failures: a.failures.min(MAX_PIN_ATTEMPTS),
                    locked: a.locked,
                    lease,
                    pin_min_digits,
                }
            }
        })
    }

    /// The store key. With a PIN, a wrong one is counted *before* it is checked (killing the
    /// process mid-check does not give a free attempt), in both records of the counter; after
    /// [`MAX_PIN_ATTEMPTS`] the vault locks.
    pub fn unlock(&self, pin: Option<&Pin>) -> Result<StoreKey, KeyError> {
        let _w = writes();
        let mut rec = self.load()?;
        if let Some(ldk) = &rec.ldk {
            return Ok(StoreKey::from_slice(&b64_decode(ldk, "store key")?)?);
        }
        let aad = self.aad();
        let now = self.merged(&mut rec)?;
        if now.locked {
            if !rec.pin.as_ref().is_some_and(|p| p.locked) {
                // One record was behind (restored) or missing: both say locked from now on.
                self.store_attempts(&mut rec, now)?;
            }
            return Err(KeyError::Locked);
        }
        let pin = pin.ok_or(KeyError::PinRequired)?;
        let counted = self.store_attempts(
            &mut rec,
            Attempts {
                failures: now.failures + 1,
                ..now
            },
        )?;
        let p = rec
            .pin
            .as_ref()
            .ok_or_else(|| KeyError::Corrupt("neither key nor PIN".into()))?;
        let pepper: [u8; 32] = b64_decode(&p.pepper, "pepper")?
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::Corrupt("pepper length".into()))?;
        let pepper = Zeroizing::new(pepper);
        let wrapped = b64_decode(&p.wrapped, "wrapped key")?;
        let kek = derive_pin_kek(pin.bytes(), &pepper, &p.params)?;
        match unwrap_store_key(&kek, &wrapped, &aad) {
            Ok(key) => {
                self.store_attempts(
                    &mut rec,
                    Attempts {
                        failures: 0,
                        ..counted
                    },
                )?;
                Ok(key)
            }
            Err(CryptoError::DecryptionFailed) => {
                if counted.failures >= MAX_PIN_ATTEMPTS {
                    self.store_attempts(
                        &mut rec,
                        Attempts {
                            locked: true,
                            ..counted
                        },
                    )?;
                    Err(KeyError::Locked)
                } else {
                    Err(KeyError::WrongPin {
                        remaining: MAX_PIN_ATTEMPTS - counted.failures,
                    })
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces the PIN record (or removes it), carrying the counter's generation on.
    fn replace_pin(
        &self,
        rec: &mut VaultRecord,
        key: &StoreKey,
        new_pin: Option<&Pin>,
    ) -> Result<(), KeyError> {
        let generation = match &rec.pin {
            Some(_) => self.merged(rec)?.generation,
            None => 0,
        };
        match new_pin {
            Some(pin) => {
                if rec.attempts_key.is_none() {
                    let k: Zeroizing<[u8; 32]> = Zeroizing::new(random_array()?);
                    rec.attempts_key = Some(B64.encode(k.as_ref()));
                }
                rec.pin = Some(self.pin_record(key, pin, generation)?);
                rec.ldk = None;
                let a = Attempts::of(rec.pin.as_ref().expect("just set"));
                self.store_attempts(rec, a)?;
                Ok(())
            }
            None => {
                rec.pin = None;
                rec.ldk = Some(B64.encode(key.as_bytes()));
                self.save(rec)
            }
        }
    }

    /// IT's re-enable: the recovery code opens the key, the counter and lock are cleared and
    /// the PIN is replaced by `new_pin` (or removed). Nothing stored is touched.
    pub fn recover(
        &self,
        code: &RecoveryCode,
        new_pin: Option<&Pin>,
    ) -> Result<StoreKey, KeyError> {
        let _w = writes();
        let mut rec = self.load()?;
        let kek = derive_recovery_kek(code, &rec.recovery.salt);
        let wrapped = b64_decode(&rec.recovery.wrapped, "recovery key")?;
        let key = unwrap_store_key(&kek, &wrapped, &self.aad())
            .map_err(|_| KeyError::WrongRecoveryCode)?;
        self.replace_pin(&mut rec, &key, new_pin)?;
        Ok(key)
    }

    /// Changes the PIN (the current key is needed, i.e. the store was unlocked).
    pub fn set_pin(&self, key: &StoreKey, new_pin: Option<&Pin>) -> Result<(), KeyError> {
        let _w = writes();
        let mut rec = self.load()?;
        self.replace_pin(&mut rec, key, new_pin)
    }

    // ---- the offline key lease ----------------------------------------------------------

    /// The lease, if the device has one (it gets one when it enrolls).
    pub fn lease(&self) -> Result<Option<Lease>, KeyError> {
        Ok(self.load()?.lease.map(Lease::from))
    }

    /// Records a successful signed exchange with the server at `now_ms`, with IT's lease
    /// period: the lease runs `days` from now. Now is taken as it is, also when earlier than
    /// the time recorded (a clock that was wrong and has been set right): the server has just
    /// accepted the device, and a clock turned back before a check-in only ends the lease
    /// sooner.
    pub fn renew_lease(&self, now_ms: i64, days: u32) -> Result<Lease, KeyError> {
        let _w = writes();
        let mut rec = self.load()?;
        let lease = LeaseRecord {
            last_ms: now_ms,
            days,
        };
        rec.lease = Some(lease);
        self.save(&rec)?;
        Ok(Lease::from(lease))
    }

    /// Keeps IT's shortest PIN for this device (checked before a PIN is tried, and when one is
    /// set).
    pub fn set_pin_min_digits(&self, digits: u32) -> Result<(), KeyError> {
        let _w = writes();
        let mut rec = self.load()?;
        rec.pin_min_digits = Some(digits);
        self.save(&rec)
    }

    /// Removes this store's key from the keystore, and the counter's second record (when the
    /// store itself is removed).
    pub fn destroy(&self) -> Result<(), KeyError> {
        let _w = writes();
        // The keystore entry first: an entry left without its second record would read as
        // tampered with (locked) if removing the file went wrong.
        self.keystore.delete(&self.entry_name())?;
        match std::fs::remove_file(&self.attempts_path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(KeyError::AttemptsIo {
                path: self.attempts_path.clone(),
                detail: e.to_string(),
            }),
        }
    }
}

impl Attempts {
    fn of(p: &PinRecord) -> Attempts {
        Attempts {
            generation: p.generation,
            failures: p.failures,
            locked: p.locked,
        }
    }
}

impl From<LeaseRecord> for Lease {
    fn from(l: LeaseRecord) -> Lease {
        Lease {
            last_ms: l.last_ms,
            days: l.days,
        }
    }
}

fn writes() -> std::sync::MutexGuard<'static, ()> {
    VAULT_WRITES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
