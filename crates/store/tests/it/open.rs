//! Creating and opening the store file: the right key finds the data; a wrong key, a damaged,
//! truncated or empty file, a failed migration or a newer schema each give their own error and
//! leave the file byte for byte as it was.

use crate::{Device, Fixture, bytes, close, contact, files, person};
use tsunagi_core::ids::PersonId;
use tsunagi_crypto::StoreKey;
use tsunagi_store::migrate::{MIGRATIONS, Migration};
use tsunagi_store::{Encryption, Store, StoreError};

/// SQLCipher 4's page size.
const PAGE: usize = 4096;

/// A closed store holding one person and `contacts` contacts of theirs.
fn populated(fx: &Fixture, contacts: usize) -> PersonId {
    let mut store = fx.create();
    let mut dev = Device::new(1);
    let p = dev.add_person(&mut store, person("山田 花子", "やまだ はなこ"));
    for i in 0..contacts {
        let at = format!(
            "2026-11-01T{:02}:{:02}:{:02}+09:00",
            10 + i / 3600,
            i / 60 % 60,
            i % 60
        );
        let note = format!(
            "{i} 回目の訪問。玄関先で母親と話した。次回は民生委員と同行する。{}",
            "記録".repeat(40)
        );
        dev.add_contact(&mut store, contact(p, &at, &note));
    }
    close(store);
    p
}

fn open_with_check(fx: &Fixture, key: &StoreKey) -> Result<Store, StoreError> {
    Store::open(&fx.path, Encryption::Key(key), Some(&fx.key.check_value()))
}

fn open_without_check(fx: &Fixture, key: &StoreKey) -> Result<Store, StoreError> {
    Store::open(&fx.path, Encryption::Key(key), None)
}

/// Flips `len` bytes of the file starting at `offset`.
fn flip(fx: &Fixture, offset: usize, len: usize) -> Vec<u8> {
    let mut b = bytes(&fx.path);
    for x in &mut b[offset..offset + len] {
        *x ^= 0xa5;
    }
    std::fs::write(&fx.path, &b).expect("write damaged file");
    b
}

fn truncate(fx: &Fixture, len: usize) -> Vec<u8> {
    let mut b = bytes(&fx.path);
    b.truncate(len);
    std::fs::write(&fx.path, &b).expect("write truncated file");
    b
}

#[track_caller]
fn assert_damaged(r: Result<Store, StoreError>) {
    match r {
        Err(e @ StoreError::Damaged { .. }) => assert_eq!(e.code(), "store_damaged"),
        other => panic!("expected Damaged, got {other:?}"),
    }
}

#[test]
fn create_then_reopen_with_the_right_key_finds_the_data() {
    let fx = Fixture::new();
    let p = populated(&fx, 3);
    let store = fx.open();
    let row = store.caseload_row(p).unwrap().expect("person is there");
    assert_eq!(row.name, "山田 花子");
    assert_eq!(row.kana, "やまだ はなこ");
    assert_eq!(store.timeline(p, 10).unwrap().len(), 3);
    assert_eq!(store.outbox_len().unwrap(), 4);
    store.integrity_check().unwrap();
    drop(store);
    // Without the check value as well.
    let store = open_without_check(&fx, &fx.key).unwrap();
    assert_eq!(store.timeline(p, 10).unwrap().len(), 3);
}

#[test]
fn create_refuses_an_existing_file() {
    let fx = Fixture::new();
    populated(&fx, 1);
    let before = bytes(&fx.path);
    let err = Store::create(&fx.path, Encryption::Key(&fx.key)).unwrap_err();
    assert!(
        matches!(err, StoreError::AlreadyExists(ref p) if *p == fx.path),
        "{err:?}"
    );
    assert_eq!(err.code(), "store_exists");
    assert_eq!(bytes(&fx.path), before);
    // Not even over an empty file someone else put there.
    let other = fx.dir.path().join("empty");
    std::fs::write(&other, b"").unwrap();
    assert!(matches!(
        Store::create(&other, Encryption::Key(&fx.key)),
        Err(StoreError::AlreadyExists(_))
    ));
}

#[test]
fn a_missing_file_is_not_found() {
    let fx = Fixture::new();
    let err = open_with_check(&fx, &fx.key).unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    assert!(!fx.path.exists(), "opening must not create the file");
}

#[test]
fn wrong_key_with_check_value_is_wrong_key_and_the_file_is_unchanged() {
    let fx = Fixture::new();
    populated(&fx, 2);
    let before = bytes(&fx.path);
    let wrong = StoreKey::from_bytes([0x11; 32]);
    let err = open_with_check(&fx, &wrong).unwrap_err();
    assert!(matches!(err, StoreError::WrongKey), "{err:?}");
    assert_eq!(err.code(), "wrong_key");
    assert_eq!(bytes(&fx.path), before);
    assert_eq!(files(&fx), vec!["device.tsunagi"], "no journal left behind");
    fx.open();
}

#[test]
fn wrong_key_without_check_value_is_wrong_key_and_the_file_is_unchanged() {
    let fx = Fixture::new();
    populated(&fx, 2);
    let before = bytes(&fx.path);
    let wrong = StoreKey::from_bytes([0x11; 32]);
    let err = open_without_check(&fx, &wrong).unwrap_err();
    assert!(matches!(err, StoreError::WrongKey), "{err:?}");
    assert_eq!(bytes(&fx.path), before);
    // A key differing in one bit only.
    let mut near = *fx.key.as_bytes();
    near[31] ^= 1;
    let err = open_without_check(&fx, &StoreKey::from_bytes(near)).unwrap_err();
    assert!(matches!(err, StoreError::WrongKey), "{err:?}");
    assert_eq!(bytes(&fx.path), before);
    assert_eq!(files(&fx), vec!["device.tsunagi"], "no journal left behind");
    fx.open();
}

#[test]
fn damaged_page_one_is_damaged_and_left_as_it_was() {
    let fx = Fixture::new();
    populated(&fx, 2);
    // Past SQLCipher's 16-byte salt, inside the encrypted part of page 1.
    let damaged = flip(&fx, 200, 16);
    assert_damaged(open_with_check(&fx, &fx.key));
    assert_eq!(bytes(&fx.path), damaged);
    // Without the check value a damaged page 1 cannot be told from a wrong key (both fail
    // page 1's authentication); the store says so rather than guessing "damaged".
    let err = open_without_check(&fx, &fx.key).unwrap_err();
    assert!(matches!(err, StoreError::WrongKey), "{err:?}");
    assert_eq!(bytes(&fx.path), damaged);
}

#[test]
fn damaged_salt_of_page_one_is_damaged() {
    let fx = Fixture::new();
    populated(&fx, 1);
    let damaged = flip(&fx, 0, 4);
    assert_damaged(open_with_check(&fx, &fx.key));
    assert_eq!(bytes(&fx.path), damaged);
}

#[test]
fn damaged_later_page_is_store_damaged_when_read_and_left_as_it_was() {
    let fx = Fixture::new();
    let p = populated(&fx, 300);
    // A leaf page of the entities table (every contact's state is read by the timeline).
    let page: i64 = fx
        .raw()
        .query_row(
            "SELECT pageno FROM dbstat WHERE name = 'entities' AND pagetype = 'leaf'
             ORDER BY pageno DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(page > 1);
    let len = bytes(&fx.path).len();
    assert!((page as usize) * PAGE <= len);
    let damaged = flip(&fx, (page as usize - 1) * PAGE + 1000, 32);

    // Page 1 is intact: the store opens; reading the damaged page fails as damage.
    let store = fx.open();
    let err = store.timeline(p, 10_000).unwrap_err();
    assert_eq!(err.code(), "store_damaged", "{err:?}");
    let err = store.integrity_check().unwrap_err();
    assert_eq!(err.code(), "store_damaged", "{err:?}");
    drop(store);
    assert_eq!(bytes(&fx.path), damaged);
}

#[test]
fn file_cut_to_half_is_damaged_and_left_as_it_was() {
    let fx = Fixture::new();
    populated(&fx, 200);
    let len = bytes(&fx.path).len();
    assert!(len >= 8 * PAGE, "enough pages to cut: {len}");
    let cut = truncate(&fx, len / 2);
    assert_damaged(open_with_check(&fx, &fx.key));
    assert_eq!(bytes(&fx.path), cut);
    assert_eq!(files(&fx), vec!["device.tsunagi"], "no journal left behind");
}

/// Regression: a truncated file opened without a check value was reported as a wrong key,
/// though page 1 had authenticated with the key (SQLite said "corrupt", not "not a database").
#[test]
fn file_cut_to_half_without_check_value_is_damaged_not_wrong_key() {
    let fx = Fixture::new();
    populated(&fx, 200);
    let len = bytes(&fx.path).len();
    let cut = truncate(&fx, len / 2);
    assert_damaged(open_without_check(&fx, &fx.key));
    assert_eq!(bytes(&fx.path), cut);
}

#[test]
fn file_missing_its_last_bytes_is_damaged() {
    let fx = Fixture::new();
    populated(&fx, 50);
    let len = bytes(&fx.path).len();
    let cut = truncate(&fx, len - 10);
    assert_damaged(open_with_check(&fx, &fx.key));
    assert_eq!(bytes(&fx.path), cut);
}

#[test]
fn file_cut_to_100_bytes_is_damaged_and_left_as_it_was() {
    let fx = Fixture::new();
    populated(&fx, 5);
    let cut = truncate(&fx, 100);
    assert_damaged(open_with_check(&fx, &fx.key));
    assert_eq!(bytes(&fx.path), cut);
}

#[test]
fn empty_file_is_damaged_and_left_as_it_was() {
    let fx = Fixture::new();
    std::fs::write(&fx.path, b"").unwrap();
    assert_damaged(open_with_check(&fx, &fx.key));
    assert_damaged(open_without_check(&fx, &fx.key));
    assert_damaged(Store::open(&fx.path, Encryption::Plain, None));
    assert_eq!(bytes(&fx.path), b"");
}

/// The schema this program writes; the test migrations come after it.
fn latest() -> i64 {
    tsunagi_store::migrate::latest_version(MIGRATIONS)
}

/// A migration after the real ones that fails on its second statement.
fn broken() -> Migration {
    Migration {
        version: latest() + 1,
        name: "9001_broken",
        sql: "CREATE TABLE x(a); CREATE TABLE x(a);",
    }
}

/// The real migrations followed by `extra`.
fn with(extra: &[Migration]) -> Vec<Migration> {
    MIGRATIONS.iter().chain(extra).copied().collect()
}

#[test]
fn migration_failing_halfway_is_rolled_back() {
    let fx = Fixture::new();
    let p = populated(&fx, 1);
    let err = Store::open_with(
        &fx.path,
        Encryption::Key(&fx.key),
        Some(&fx.key.check_value()),
        &with(&[broken()]),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Migration {
                version,
                name: "9001_broken",
                ..
            } if version == latest() + 1
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), "migration_failed");

    // The normal program opens it at its own version, without table x, with its data.
    let store = fx.open();
    assert!(store.caseload_row(p).unwrap().is_some());
    drop(store);
    let raw = fx.raw();
    let version: i64 = raw
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, latest());
    let x: i64 = raw
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name = 'x'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(x, 0);
}

#[test]
fn migration_failing_on_a_new_store_leaves_its_version() {
    let fx = Fixture::new();
    fx.create();
    // A later good migration after the broken one must not run either.
    let later = Migration {
        version: latest() + 2,
        name: "9002_later",
        sql: "CREATE TABLE y(a);",
    };
    let err = Store::open_with(
        &fx.path,
        Encryption::Key(&fx.key),
        None,
        &with(&[broken(), later]),
    )
    .unwrap_err();
    assert!(
        matches!(err, StoreError::Migration { version, .. } if version == latest() + 1),
        "{err:?}"
    );
    let n: i64 = fx
        .raw()
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name IN ('x', 'y')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 0);
}

#[test]
fn newer_schema_is_refused_and_left_as_it_was() {
    let fx = Fixture::new();
    let p = populated(&fx, 1);
    const FUTURE: Migration = Migration {
        version: 99,
        name: "0099_future",
        sql: "CREATE TABLE future(a);",
    };
    let store = Store::open_with(
        &fx.path,
        Encryption::Key(&fx.key),
        Some(&fx.key.check_value()),
        &with(&[FUTURE]),
    )
    .unwrap();
    assert!(store.caseload_row(p).unwrap().is_some());
    close(store);
    let before = bytes(&fx.path);

    let err = open_with_check(&fx, &fx.key).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NewerSchema {
                found: 99,
                supported
            } if supported == latest()
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), "store_newer");
    assert_eq!(bytes(&fx.path), before);
}
