//! The hash-chained access log: entries with durations, verification, and tampering through a
//! raw SQLCipher connection with the store key (edit, delete, insert) each caught at its row.

use crate::{Device, Fixture, close, person};
use rusqlite::params;
use tsunagi_core::ids::PersonId;
use tsunagi_store::{AccessEvent, StoreError};

const T0: i64 = 1_793_500_000_000;

/// A closed store with two persons and three open/close pairs (six rows, seq 1..=6).
fn logged(fx: &Fixture) -> (PersonId, PersonId) {
    let mut store = fx.create();
    let mut dev = Device::new(1);
    let p = dev.add_person(&mut store, person("山田 花子", "やまだ はなこ"));
    let q = dev.add_person(&mut store, person("田中 太郎", "たなか たろう"));
    for (i, who) in [p, q, p].into_iter().enumerate() {
        let at = T0 + i as i64 * 600_000;
        let t = store.access_open(who, "worker-a", at).unwrap();
        store.access_close(t, "worker-a", at + 90_500).unwrap();
    }
    store.verify_access_log().unwrap();
    close(store);
    (p, q)
}

#[track_caller]
fn assert_tampered_at(fx: &Fixture, seq: i64) {
    let store = fx.open();
    match store.verify_access_log() {
        Err(e @ StoreError::AccessLogTampered { .. }) => {
            assert!(
                matches!(e, StoreError::AccessLogTampered { seq: s } if s == seq),
                "{e:?}"
            );
            assert_eq!(e.code(), "access_log_tampered");
        }
        other => panic!("expected tampering at {seq}, got {other:?}"),
    }
}

#[test]
fn open_and_close_are_logged_with_duration() {
    let fx = Fixture::new();
    let mut store = fx.create();
    let mut dev = Device::new(1);
    let p = dev.add_person(&mut store, person("山田 花子", "やまだ はなこ"));
    let q = dev.add_person(&mut store, person("田中 太郎", "たなか たろう"));
    assert_eq!(store.verify_access_log().unwrap().entries, 0);

    let t = store.access_open(p, "worker-a", T0).unwrap();
    // A crash before closing still leaves the open row.
    let log = store.access_log(None, 10).unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].event, AccessEvent::Open);
    assert_eq!(log[0].duration_ms, None);
    store.access_close(t, "worker-a", T0 + 90_500).unwrap();
    let u = store.access_open(q, "worker-b", T0 + 100_000).unwrap();
    store.access_close(u, "worker-b", T0 + 100_250).unwrap();

    let log = store.access_log(None, 10).unwrap();
    assert_eq!(
        log.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![4, 3, 2, 1]
    );
    assert_eq!(log[2].event, AccessEvent::Close);
    assert_eq!(log[2].person, p);
    assert_eq!(log[2].actor, "worker-a");
    assert_eq!(log[2].duration_ms, Some(90_500));
    assert_eq!(log[3].at, "2026-11-01T02:26:40.000Z");
    assert_eq!(log[2].at, "2026-11-01T02:28:10.500Z");
    assert_eq!(log[0].duration_ms, Some(250));

    let only_q = store.access_log(Some(q), 10).unwrap();
    assert_eq!(only_q.len(), 2);
    assert!(
        only_q
            .iter()
            .all(|e| e.person == q && e.actor == "worker-b")
    );
    assert_eq!(store.access_log(None, 1).unwrap().len(), 1);

    let report = store.verify_access_log().unwrap();
    assert_eq!(report.entries, 4);
    assert_eq!(report.head.len(), 64);
    assert!(report.head.chars().all(|c| c.is_ascii_hexdigit()));
    // The log survives reopening and still verifies to the same head.
    close(store);
    assert_eq!(fx.open().verify_access_log().unwrap(), report);
}

#[test]
fn an_edited_actor_is_caught_at_its_row() {
    let fx = Fixture::new();
    logged(&fx);
    let n = fx
        .raw()
        .execute(
            "UPDATE access_log SET actor = 'someone-else' WHERE seq = 3",
            [],
        )
        .unwrap();
    assert_eq!(n, 1);
    assert_tampered_at(&fx, 3);
}

#[test]
fn an_edited_duration_is_caught_at_its_row() {
    let fx = Fixture::new();
    logged(&fx);
    fx.raw()
        .execute("UPDATE access_log SET duration_ms = 1 WHERE seq = 4", [])
        .unwrap();
    assert_tampered_at(&fx, 4);
}

#[test]
fn an_edit_with_a_recomputed_hash_but_no_relink_is_caught_at_the_next_row() {
    // Rewriting a row together with its hash (copied from a valid row) breaks the link of the
    // row after it.
    let fx = Fixture::new();
    logged(&fx);
    fx.raw()
        .execute(
            "UPDATE access_log SET hash = (SELECT hash FROM access_log WHERE seq = 1) WHERE seq = 2",
            [],
        )
        .unwrap();
    assert_tampered_at(&fx, 2);
}

#[test]
fn a_deleted_row_is_caught_at_the_row_after_it() {
    let fx = Fixture::new();
    logged(&fx);
    fx.raw()
        .execute("DELETE FROM access_log WHERE seq = 3", [])
        .unwrap();
    assert_tampered_at(&fx, 4);
}

#[test]
fn a_deleted_first_row_is_caught() {
    let fx = Fixture::new();
    logged(&fx);
    fx.raw()
        .execute("DELETE FROM access_log WHERE seq = 1", [])
        .unwrap();
    assert_tampered_at(&fx, 2);
}

#[test]
fn an_inserted_row_is_caught_at_its_seq() {
    let fx = Fixture::new();
    let (p, _) = logged(&fx);
    let raw = fx.raw();
    let prev: Vec<u8> = raw
        .query_row("SELECT hash FROM access_log WHERE seq = 6", [], |r| {
            r.get(0)
        })
        .unwrap();
    raw.execute(
        "INSERT INTO access_log (seq, event, person, actor, at, opened_seq, duration_ms, prev_hash, hash)
         VALUES (7, 'open', ?1, 'worker-a', '2026-11-01T09:00:00.000Z', NULL, NULL, ?2, ?3)",
        params![p.as_uuid().as_bytes(), prev, vec![0u8; 32]],
    )
    .unwrap();
    drop(raw);
    assert_tampered_at(&fx, 7);
}

#[test]
fn a_row_inserted_before_the_first_is_caught() {
    let fx = Fixture::new();
    let (p, _) = logged(&fx);
    fx.raw()
        .execute(
            "INSERT INTO access_log (seq, event, person, actor, at, prev_hash, hash)
             VALUES (0, 'open', ?1, 'worker-z', '2026-10-01T09:00:00.000Z', zeroblob(32), zeroblob(32))",
            params![p.as_uuid().as_bytes()],
        )
        .unwrap();
    assert_tampered_at(&fx, 0);
}

/// The chain cannot see its own tail cut off: only the head, anchored elsewhere, shows it.
#[test]
fn a_removed_last_row_changes_the_head() {
    let fx = Fixture::new();
    logged(&fx);
    let anchored = fx.open().verify_access_log().unwrap();
    fx.raw()
        .execute("DELETE FROM access_log WHERE seq = 6", [])
        .unwrap();
    let report = fx.open().verify_access_log().unwrap();
    assert_eq!(report.entries, 5);
    assert_ne!(report.head, anchored.head);
}
