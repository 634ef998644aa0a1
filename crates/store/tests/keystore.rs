//! The key vault against the real OS keystore (Secret Service over D-Bus): PIN, counted wrong
//! attempts, lock, IT recovery. Run through `scripts/test`, which provides a private session
//! bus with an unlocked gnome-keyring and sets `TSUNAGI_TEST_KEYSTORE=1`.

use tsunagi_crypto::RecoveryCode;
use tsunagi_store::keys::{
    ATTEMPTS_FILE, KeyError, Keystore, Lease, MAX_PIN_ATTEMPTS, OsKeystore, Pin, Vault,
};

/// One store's vault in the real keystore under a fresh id, with a fresh device directory for
/// the counter's second record; its entry is removed when the fixture is dropped, so a failing
/// test leaves nothing behind either.
struct Fixture {
    keystore: OsKeystore,
    store_id: String,
    dir: tempfile::TempDir,
}

impl Fixture {
    /// Fails (never skips) when no keystore session was set up: a test that cannot run here
    /// must not pass.
    fn new() -> Fixture {
        if std::env::var("TSUNAGI_TEST_KEYSTORE").as_deref() != Ok("1") {
            panic!(
                "these tests need the real OS keystore: run them through `scripts/test` \
                 (a private D-Bus session with an unlocked gnome-keyring, \
                 TSUNAGI_TEST_KEYSTORE=1), not plain `cargo test`; only these: \
                 `TSUNAGI_TEST_KEYSTORE=1 scripts/lib/with-keystore \
                 cargo test -p tsunagi-store --test keystore`"
            );
        }
        Fixture {
            keystore: OsKeystore::new(),
            store_id: format!("test-{}", uuid::Uuid::now_v7()),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn vault(&self) -> Vault<'_, OsKeystore> {
        Vault::new(&self.keystore, &self.store_id, self.dir.path())
    }

    /// The raw bytes of the vault's keystore entry, as a backup of the keystore would hold them.
    fn entry_bytes(&self) -> Vec<u8> {
        self.keystore
            .get(&format!("store/{}", self.store_id))
            .unwrap()
            .expect("the entry exists")
            .to_vec()
    }

    /// Writes entry bytes back, as restoring that backup would.
    fn restore_entry(&self, bytes: &[u8]) {
        self.keystore
            .set(&format!("store/{}", self.store_id), bytes)
            .unwrap();
    }

    fn attempts_path(&self) -> std::path::PathBuf {
        self.dir.path().join(ATTEMPTS_FILE)
    }

    /// Removes the entry and checks that it is gone.
    fn destroy(self) {
        self.vault().destroy().unwrap();
        assert!(matches!(self.vault().status(), Err(KeyError::Missing)));
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.vault().destroy();
    }
}

fn pin(s: &str) -> Pin {
    Pin::parse(s).unwrap()
}

#[test]
fn create_without_pin_then_unlock_gives_the_same_key() {
    let f = Fixture::new();
    let vault = f.vault();
    let (key, _code) = vault.create(None).unwrap();
    let status = vault.status().unwrap();
    assert!(!status.has_pin && !status.locked && status.failures == 0);
    assert_eq!(vault.unlock(None).unwrap(), key);
    // A second vault object (as after a restart) reads the same entry.
    assert_eq!(f.vault().unlock(None).unwrap(), key);
    // Creating again must never replace an existing key: that would orphan the store.
    assert!(matches!(vault.create(None), Err(KeyError::Corrupt(_))));
    assert_eq!(vault.unlock(None).unwrap(), key);
    f.destroy();
}

#[test]
fn create_with_pin_then_unlock_with_the_right_pin() {
    let f = Fixture::new();
    let vault = f.vault();
    let (key, _code) = vault.create(Some(&pin("246810"))).unwrap();
    assert!(vault.status().unwrap().has_pin);
    // No PIN given: refused without counting an attempt.
    assert!(matches!(vault.unlock(None), Err(KeyError::PinRequired)));
    assert_eq!(vault.status().unwrap().failures, 0);
    assert_eq!(vault.unlock(Some(&pin("246810"))).unwrap(), key);
    f.destroy();
}

#[test]
fn wrong_pin_counts_down_and_the_right_pin_resets_the_counter() {
    let f = Fixture::new();
    let vault = f.vault();
    let (key, _code) = vault.create(Some(&pin("246810"))).unwrap();
    assert!(matches!(
        vault.unlock(Some(&pin("135790"))),
        Err(KeyError::WrongPin { remaining }) if remaining == MAX_PIN_ATTEMPTS - 1
    ));
    assert_eq!(vault.status().unwrap().failures, 1);
    assert_eq!(vault.unlock(Some(&pin("246810"))).unwrap(), key);
    assert_eq!(vault.status().unwrap().failures, 0);
    assert!(matches!(
        vault.unlock(Some(&pin("135790"))),
        Err(KeyError::WrongPin { remaining }) if remaining == MAX_PIN_ATTEMPTS - 1
    ));
    f.destroy();
}

#[test]
fn too_many_wrong_pins_lock_until_the_recovery_code_re_enables() {
    let f = Fixture::new();
    let vault = f.vault();
    let (key, code) = vault.create(Some(&pin("246810"))).unwrap();
    let wrong = pin("135790");
    for attempt in 1..MAX_PIN_ATTEMPTS {
        match vault.unlock(Some(&wrong)) {
            Err(KeyError::WrongPin { remaining }) => {
                assert_eq!(remaining, MAX_PIN_ATTEMPTS - attempt)
            }
            other => panic!("attempt {attempt}: expected WrongPin, got {other:?}"),
        }
    }
    assert!(matches!(vault.unlock(Some(&wrong)), Err(KeyError::Locked)));
    let status = vault.status().unwrap();
    assert!(status.locked);
    assert_eq!(status.failures, MAX_PIN_ATTEMPTS);
    // Locked means locked: the right PIN is refused too (and no derivation is spent on it).
    assert!(matches!(
        vault.unlock(Some(&pin("246810"))),
        Err(KeyError::Locked)
    ));

    // IT types the code as shown.
    let typed = RecoveryCode::parse(&code.display().to_lowercase()).unwrap();
    assert_eq!(vault.recover(&typed, Some(&pin("975310"))).unwrap(), key);
    let status = vault.status().unwrap();
    assert!(status.has_pin && !status.locked && status.failures == 0);
    assert_eq!(vault.unlock(Some(&pin("975310"))).unwrap(), key);
    // The old PIN no longer opens it, and the counter starts afresh.
    assert!(matches!(
        vault.unlock(Some(&pin("246810"))),
        Err(KeyError::WrongPin { remaining }) if remaining == MAX_PIN_ATTEMPTS - 1
    ));
    f.destroy();
}

#[test]
fn a_wrong_recovery_code_is_refused_and_changes_nothing() {
    let f = Fixture::new();
    let vault = f.vault();
    let (key, code) = vault.create(Some(&pin("246810"))).unwrap();
    let other = RecoveryCode::generate().unwrap();
    assert!(matches!(
        vault.recover(&other, Some(&pin("975310"))),
        Err(KeyError::WrongRecoveryCode)
    ));
    assert!(matches!(
        vault.recover(&other, None),
        Err(KeyError::WrongRecoveryCode)
    ));
    assert_eq!(vault.unlock(Some(&pin("246810"))).unwrap(), key);
    // The right code with no new PIN removes the PIN.
    assert_eq!(vault.recover(&code, None).unwrap(), key);
    assert!(!vault.status().unwrap().has_pin);
    assert_eq!(vault.unlock(None).unwrap(), key);
    f.destroy();
}

#[test]
fn a_store_without_an_entry_is_missing() {
    let f = Fixture::new();
    let vault = f.vault();
    assert!(matches!(vault.status(), Err(KeyError::Missing)));
    assert!(matches!(vault.unlock(None), Err(KeyError::Missing)));
    assert!(matches!(
        vault.unlock(Some(&pin("246810"))),
        Err(KeyError::Missing)
    ));
    let code = RecoveryCode::generate().unwrap();
    assert!(matches!(vault.recover(&code, None), Err(KeyError::Missing)));
    assert_eq!(KeyError::Missing.code(), "key_missing");
    // Removing what is not there is not an error.
    f.destroy();
}

#[test]
fn keys_of_two_stores_are_independent() {
    let a = Fixture::new();
    let b = Fixture::new();
    let (key_a, _) = a.vault().create(None).unwrap();
    let (key_b, _) = b.vault().create(None).unwrap();
    assert_ne!(key_a, key_b);
    a.destroy();
    assert_eq!(b.vault().unlock(None).unwrap(), key_b);
    b.destroy();
}

#[test]
fn pin_validation() {
    for (typed, why) in [
        ("", "empty"),
        ("123", "too short"),
        ("123456789012345678901234567890123", "too long (33)"),
        ("12a4", "letters"),
        ("12 34", "inner space"),
        ("１２３４", "full-width digits"),
        ("1111", "one repeated digit"),
        ("00000000", "one repeated digit"),
    ] {
        assert!(
            matches!(Pin::parse(typed), Err(KeyError::InvalidPin(_))),
            "{why}: {typed:?} was accepted"
        );
    }
    for typed in [
        "1234",
        "246810",
        " 246810\n",
        "12345678901234567890123456789012",
    ] {
        assert!(Pin::parse(typed).is_ok(), "{typed:?} was refused");
    }
    assert_eq!(format!("{:?}", pin("246810")), "Pin(..)");
}

fn fail(vault: &Vault<'_, OsKeystore>, times: u32) {
    for _ in 0..times {
        assert!(matches!(
            vault.unlock(Some(&pin("135790"))),
            Err(KeyError::WrongPin { .. })
        ));
    }
}

#[test]
fn a_restored_older_keystore_entry_does_not_give_back_attempts() {
    let f = Fixture::new();
    let vault = f.vault();
    let (key, code) = vault.create(Some(&pin("246810"))).unwrap();
    let backup = f.entry_bytes();
    fail(&vault, 3);
    f.restore_entry(&backup);
    // The entry says 0, the record in the device directory says 3: 3 it is.
    assert_eq!(vault.status().unwrap().failures, 3);
    assert!(matches!(
        vault.unlock(Some(&pin("135790"))),
        Err(KeyError::WrongPin { remaining: 1 })
    ));
    // Restoring again does not help either, nor does it after the lock.
    f.restore_entry(&backup);
    assert!(matches!(
        vault.unlock(Some(&pin("135790"))),
        Err(KeyError::Locked)
    ));
    f.restore_entry(&backup);
    let status = vault.status().unwrap();
    assert!(status.locked, "restoring the entry undid the lock");
    assert!(matches!(
        vault.unlock(Some(&pin("246810"))),
        Err(KeyError::Locked)
    ));
    // The lock is written back to the restored entry too.
    assert!(
        String::from_utf8(f.entry_bytes())
            .unwrap()
            .contains("\"locked\":true")
    );
    // The recovery code still re-enables it.
    assert_eq!(vault.recover(&code, Some(&pin("246810"))).unwrap(), key);
    assert!(!vault.status().unwrap().locked);
    f.destroy();
}

#[test]
fn a_restored_older_attempt_record_does_not_give_back_attempts() {
    let f = Fixture::new();
    let vault = f.vault();
    vault.create(Some(&pin("246810"))).unwrap();
    let backup = std::fs::read(f.attempts_path()).unwrap();
    fail(&vault, 4);
    std::fs::write(f.attempts_path(), &backup).unwrap();
    assert_eq!(vault.status().unwrap().failures, 4);
    assert!(matches!(
        vault.unlock(Some(&pin("135790"))),
        Err(KeyError::Locked)
    ));
    f.destroy();
}

#[test]
fn a_missing_or_forged_attempt_record_locks_the_vault() {
    // Deleted: the entry expects it, so this is tampering.
    let f = Fixture::new();
    let vault = f.vault();
    let (_key, code) = vault.create(Some(&pin("246810"))).unwrap();
    std::fs::remove_file(f.attempts_path()).unwrap();
    assert!(vault.status().unwrap().locked);
    assert!(matches!(
        vault.unlock(Some(&pin("246810"))),
        Err(KeyError::Locked)
    ));
    // Forged: a record saying 0 failures under a made-up MAC, after an entry restore.
    vault.recover(&code, Some(&pin("246810"))).unwrap();
    assert!(!vault.status().unwrap().locked);
    let backup = f.entry_bytes();
    fail(&vault, 3);
    f.restore_entry(&backup);
    let mut rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.attempts_path()).unwrap()).unwrap();
    rec["failures"] = 0.into();
    std::fs::write(f.attempts_path(), serde_json::to_vec(&rec).unwrap()).unwrap();
    assert!(vault.status().unwrap().locked);
    // Another store's record (a valid MAC, but not for this store) is no better.
    let g = Fixture::new();
    g.vault().create(Some(&pin("246810"))).unwrap();
    std::fs::copy(g.attempts_path(), f.attempts_path()).unwrap();
    assert!(vault.status().unwrap().locked);
    g.destroy();
    f.destroy();
}

/// The limit, written down as a test: whoever restores *both* records to an older state
/// together gets the older count back. Only a hardware monotonic counter defeats that
/// (docs/mobile.md); this test fails if that ever changes, so that the docs are updated.
#[test]
fn restoring_every_copy_together_is_the_documented_limit() {
    let f = Fixture::new();
    let vault = f.vault();
    vault.create(Some(&pin("246810"))).unwrap();
    let entry = f.entry_bytes();
    let record = std::fs::read(f.attempts_path()).unwrap();
    fail(&vault, 4);
    f.restore_entry(&entry);
    std::fs::write(f.attempts_path(), &record).unwrap();
    assert_eq!(vault.status().unwrap().failures, 0);
    f.destroy();
}

#[test]
fn an_entry_from_before_the_second_record_gets_one() {
    let f = Fixture::new();
    let vault = f.vault();
    let (key, _) = vault.create(Some(&pin("246810"))).unwrap();
    fail(&vault, 2);
    // What the previous version wrote: no MAC key, no generation, no record on disk.
    let mut old: serde_json::Value = serde_json::from_slice(&f.entry_bytes()).unwrap();
    old.as_object_mut().unwrap().remove("attempts_key");
    old["pin"].as_object_mut().unwrap().remove("generation");
    f.restore_entry(&serde_json::to_vec(&old).unwrap());
    std::fs::remove_file(f.attempts_path()).unwrap();
    let status = vault.status().unwrap();
    assert!(!status.locked);
    assert_eq!(status.failures, 2);
    assert!(f.attempts_path().exists());
    assert_eq!(vault.unlock(Some(&pin("246810"))).unwrap(), key);
    f.destroy();
}

#[test]
fn the_lease_runs_from_the_last_check_in_and_a_turned_back_clock_ends_it() {
    let f = Fixture::new();
    let vault = f.vault();
    vault.create(Some(&pin("246810"))).unwrap();
    assert_eq!(vault.lease().unwrap(), None);
    let day = 86_400_000_i64;
    let t0 = 1_800_000_000_000_i64;
    let lease = vault.renew_lease(t0, 14).unwrap();
    assert_eq!(
        lease,
        Lease {
            last_ms: t0,
            days: 14
        }
    );
    assert_eq!(vault.status().unwrap().lease, Some(lease));
    assert!(lease.check(t0 + 14 * day).is_ok());
    assert!(matches!(
        lease.check(t0 + 14 * day + 1),
        Err(KeyError::LeaseExpired {
            days: 14,
            clock_turned_back: false,
            ..
        })
    ));
    assert!(matches!(
        lease.check(t0 - 1),
        Err(KeyError::LeaseExpired {
            clock_turned_back: true,
            ..
        })
    ));
    // An older copy of the entry only brings an older check-in back: the lease ends sooner.
    let older = f.entry_bytes();
    vault.renew_lease(t0 + 10 * day, 14).unwrap();
    f.restore_entry(&older);
    assert_eq!(vault.lease().unwrap().unwrap().last_ms, t0);
    // A check-in with a clock set right again (earlier than the recorded one) starts afresh:
    // the server has just accepted the device.
    vault.renew_lease(t0 + 10 * day, 14).unwrap();
    assert_eq!(
        vault.renew_lease(t0, 7).unwrap(),
        Lease {
            last_ms: t0,
            days: 7
        }
    );
    assert_eq!(
        KeyError::LeaseExpired {
            days: 1,
            clock_turned_back: false,
            last_ms: 0
        }
        .code(),
        "lease_expired"
    );
    f.destroy();
}
