//! The key vault against the real OS keystore (Secret Service over D-Bus): PIN, counted wrong
//! attempts, lock, IT recovery. Run through `scripts/test`, which provides a private session
//! bus with an unlocked gnome-keyring and sets `TSUNAGI_TEST_KEYSTORE=1`.

use tsunagi_crypto::RecoveryCode;
use tsunagi_store::keys::{KeyError, MAX_PIN_ATTEMPTS, OsKeystore, Pin, Vault};

/// One store's vault in the real keystore under a fresh id; its entry is removed when the
/// fixture is dropped, so a failing test leaves nothing behind either.
struct Fixture {
    keystore: OsKeystore,
    store_id: String,
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
        }
    }

    fn vault(&self) -> Vault<'_, OsKeystore> {
        Vault::new(&self.keystore, &self.store_id)
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
