//! Plaintext never reaches the disk: names and notes (and their search index) are only in the
//! encrypted file and its encrypted write-ahead log; without the key the file reads as nothing.

use crate::{Device, Fixture, close, contact, person};
use std::path::Path;
use tsunagi_store::search::normalize;
use tsunagi_store::{Encryption, Store};

const ASCII_MARKER: &str = "MARKER-7f3a";
const JAPANESE_MARKER: &str = "秘密の目印テキスト";
const NAME_MARKER: &str = "目印太郎NAME-c41d";

/// Every byte string that would betray the records: as written, as normalized for the index,
/// and as the index's key for the marker's first two characters (an integer, which SQLite
/// writes big-endian in 6 bytes, or 8 for larger values).
fn markers() -> Vec<Vec<u8>> {
    let mut m: Vec<Vec<u8>> = [ASCII_MARKER, JAPANESE_MARKER, NAME_MARKER, "c41d"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    m.push(normalize(ASCII_MARKER).into_bytes());
    let normalized = normalize(JAPANESE_MARKER);
    let mut chars = normalized.chars();
    let (a, b) = (chars.next().unwrap(), chars.next().unwrap());
    let key = ((u64::from(a) << 32) | u64::from(b)).to_be_bytes();
    m.push(key[2..].to_vec());
    m.push(key.to_vec());
    m
}

/// Writes a person and a contact carrying the markers, leaving the store open.
fn write_markers(store: &mut Store) {
    let mut dev = Device::new(1);
    let p = dev.add_person(store, person(NAME_MARKER, "めじるし たろう"));
    dev.add_contact(
        store,
        contact(
            p,
            "2026-11-01T10:00:00+09:00",
            &format!("玄関先で {ASCII_MARKER} を確認。{JAPANESE_MARKER}。"),
        ),
    );
    // The search index must have taken the note in as well.
    assert_eq!(store.search(JAPANESE_MARKER, 10).unwrap().contact_total, 1);
}

/// (file name, marker) for every marker found in every file of the directory.
fn found(dir: &Path) -> Vec<(String, String)> {
    let mut hits = Vec::new();
    let mut files = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let data = std::fs::read(entry.path()).unwrap();
        files += 1;
        for m in markers() {
            if data.windows(m.len()).any(|w| w == m.as_slice()) {
                hits.push((
                    entry.file_name().to_string_lossy().into_owned(),
                    String::from_utf8_lossy(&m).into_owned(),
                ));
            }
        }
    }
    assert!(files > 0, "no files in {}", dir.display());
    hits
}

#[test]
fn markers_are_nowhere_on_disk_while_open_nor_after_close() {
    let fx = Fixture::new();
    let mut store = fx.create();
    write_markers(&mut store);
    // While open, the pages are in the write-ahead log.
    let wal = fx.dir.path().join("device.tsunagi-wal");
    assert!(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) > 0);
    assert_eq!(found(fx.dir.path()), Vec::<(String, String)>::new());
    close(store);
    assert_eq!(found(fx.dir.path()), Vec::<(String, String)>::new());
}

#[test]
fn without_the_key_the_file_cannot_be_read() {
    let fx = Fixture::new();
    let mut store = fx.create();
    write_markers(&mut store);
    close(store);
    let raw = rusqlite::Connection::open(&fx.path).unwrap();
    let r = raw.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
        r.get::<_, i64>(0)
    });
    assert!(r.is_err(), "read without key: {r:?}");
    let r = raw.query_row("SELECT count(*) FROM persons", [], |r| r.get::<_, i64>(0));
    assert!(r.is_err(), "read without key: {r:?}");
}

/// Control: the same records in an unencrypted file are found by the same search, so the
/// search above would have seen a leak. Notes and merge states are stored compressed
/// (store::codec), so the canary is the person's name, which the caseload projection keeps
/// verbatim on a page like any other: SQLCipher encrypts every page alike, so a page leaking
/// the name would leak notes just the same.
#[test]
fn control_plain_file_does_contain_the_markers() {
    let fx = Fixture::new();
    let mut store = Store::create(&fx.path, Encryption::Plain).unwrap();
    write_markers(&mut store);
    close(store);
    let hits = found(fx.dir.path());
    assert!(
        hits.iter().any(|(_, h)| h == NAME_MARKER),
        "{NAME_MARKER} not found in plain file: {hits:?}"
    );
}
