//! Integration tests of the device store against real SQLCipher files in temporary directories:
//! a fixture that owns the file and its key, and a simulated device that writes change sets
//! the way a tablet does (HLC ticks, `writes_for` over the current merged state).

mod access;
mod caseload;
mod chain;
mod open;
mod privacy;
mod search;
mod write;

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tempfile::TempDir;
use tsunagi_core::change::{ChangeBody, ChangeSet, EntityKind};
use tsunagi_core::hlc::Hlc;
use tsunagi_core::ids::{ContactId, DeviceId, EntityId, OpId, PersonId};
use tsunagi_core::merge::EntityState;
use tsunagi_crypto::StoreKey;
use tsunagi_store::{Encryption, Origin, Store};
use uuid::Uuid;

/// A store file in its own temporary directory, with its key.
#[derive(Debug)]
pub(crate) struct Fixture {
    pub(crate) dir: TempDir,
    pub(crate) path: PathBuf,
    pub(crate) key: StoreKey,
}

impl Fixture {
    /// A fresh directory and key; no file yet.
    pub(crate) fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("device.tsunagi");
        Fixture {
            dir,
            path,
            key: StoreKey::from_bytes([0x5a; 32]),
        }
    }

    /// Creates the store file.
    pub(crate) fn create(&self) -> Store {
        Store::create(&self.path, Encryption::Key(&self.key)).expect("create store")
    }

    /// Opens it again with the right key and its check value.
    pub(crate) fn open(&self) -> Store {
        Store::open(
            &self.path,
            Encryption::Key(&self.key),
            Some(&self.key.check_value()),
        )
        .expect("open store")
    }

    /// A raw SQLCipher connection with the store key (to inspect or tamper with the file).
    pub(crate) fn raw(&self) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open(&self.path).expect("open raw");
        let literal = self.key.sqlcipher_literal();
        conn.execute_batch(&format!("PRAGMA key = \"{}\";", &*literal))
            .expect("key raw");
        conn
    }
}

/// A change set as the sync engine receives it from another device: with its body in the
/// store's BLOB format, as a change payload (format 2) carries it.
pub(crate) fn received(cs: &ChangeSet) -> tsunagi_store::ReceivedChange {
    tsunagi_store::ReceivedChange {
        cs: cs.clone(),
        body: Some(tsunagi_store::codec::encode(&cs.body, "change-set body").expect("encode")),
        chain: None,
        pulled: None,
    }
}

/// Closes a store after moving its write-ahead log into the main file, so that the main file
/// alone holds everything.
pub(crate) fn close(store: Store) {
    store.checkpoint().expect("checkpoint");
    drop(store);
}

/// The names of the files in the fixture's directory, sorted.
pub(crate) fn files(fx: &Fixture) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fx.dir.path())
        .expect("read dir")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// The bytes of a file.
pub(crate) fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("read file")
}

/// A simulated device: its id, its hybrid logical clock and a wall clock that moves one
/// second per write.
#[derive(Debug)]
pub(crate) struct Device {
    pub(crate) id: DeviceId,
    n: u8,
    clock: Hlc,
    now_ms: u64,
    ops: u64,
}

impl Device {
    pub(crate) fn new(n: u8) -> Device {
        Device {
            id: DeviceId::from_uuid(Uuid::from_bytes([n; 16])),
            n,
            clock: Hlc::ZERO,
            now_ms: 1_790_000_000_000,
            ops: 0,
        }
    }

    /// A fresh op id from the device number and a counter.
    pub(crate) fn op_id(&mut self) -> OpId {
        self.ops += 1;
        let mut b = [0u8; 16];
        b[0] = self.n;
        b[8..].copy_from_slice(&self.ops.to_be_bytes());
        OpId::from_uuid(Uuid::from_bytes(b))
    }

    fn tick(&mut self) -> Hlc {
        self.now_ms += 1_000;
        self.clock = self.clock.tick(self.now_ms);
        self.clock
    }

    /// A change set setting `fields` (a JSON object) on top of `base`, as the device's edit
    /// screen would make it.
    pub(crate) fn set_on(&mut self, base: &EntityState, fields: Value) -> ChangeSet {
        let values: BTreeMap<String, Value> = match fields {
            Value::Object(m) => m.into_iter().collect(),
            other => panic!("fields must be an object, got {other}"),
        };
        ChangeSet {
            op: self.op_id(),
            kind: base.kind(),
            entity: base.id(),
            hlc: self.tick(),
            device: self.id,
            body: ChangeBody::Set(base.writes_for(values)),
        }
    }

    /// A change set setting `fields` on the entity as the store holds it now.
    pub(crate) fn set(
        &mut self,
        store: &Store,
        kind: EntityKind,
        entity: EntityId,
        fields: Value,
    ) -> ChangeSet {
        let base = store
            .entity(entity)
            .expect("read entity")
            .unwrap_or_else(|| EntityState::new(kind, entity));
        self.set_on(&base, fields)
    }

    /// A tombstone for the entity.
    pub(crate) fn tombstone(&mut self, kind: EntityKind, entity: EntityId) -> ChangeSet {
        ChangeSet {
            op: self.op_id(),
            kind,
            entity,
            hlc: self.tick(),
            device: self.id,
            body: ChangeBody::Tombstone,
        }
    }

    /// Writes a new person and returns its id.
    pub(crate) fn add_person(&mut self, store: &mut Store, fields: Value) -> PersonId {
        let id = EntityId::from_uuid(Uuid::now_v7());
        let cs = self.set(store, EntityKind::Person, id, fields);
        assert!(store.apply(&cs, Origin::Local).expect("apply person"));
        id.into()
    }

    /// Writes a new contact and returns its id.
    pub(crate) fn add_contact(&mut self, store: &mut Store, fields: Value) -> ContactId {
        let id = EntityId::from_uuid(Uuid::now_v7());
        let cs = self.set(store, EntityKind::Contact, id, fields);
        assert!(store.apply(&cs, Origin::Local).expect("apply contact"));
        id.into()
    }

    /// Edits an existing entity.
    pub(crate) fn edit(
        &mut self,
        store: &mut Store,
        kind: EntityKind,
        id: EntityId,
        fields: Value,
    ) {
        let cs = self.set(store, kind, id, fields);
        assert!(store.apply(&cs, Origin::Local).expect("apply edit"));
    }

    /// Deletes an entity.
    pub(crate) fn delete(&mut self, store: &mut Store, kind: EntityKind, id: EntityId) {
        let cs = self.tombstone(kind, id);
        assert!(store.apply(&cs, Origin::Local).expect("apply tombstone"));
    }
}

/// Person fields as the domain serializes them.
pub(crate) fn person(name: &str, kana: &str) -> Value {
    json!({
        "name": name,
        "kana": kana,
        "district": "tsujido",
        "programs": ["csw"],
        "status": "active",
    })
}

/// Contact fields as the domain serializes them.
pub(crate) fn contact(person: PersonId, at: &str, note: &str) -> Value {
    json!({
        "person": person.to_string(),
        "at": at,
        "channel": "visit",
        "outcome": "not_home",
        "note": note,
        "stage": 1,
        "next_due": "2026-11-08",
    })
}

/// Assessment fields as the domain serializes them.
pub(crate) fn assessment(person: PersonId, at: &str, total: i64) -> Value {
    json!({
        "person": person.to_string(),
        "at": at,
        "instrument": "epds",
        "result": {"total": total, "complete": true, "alerts": []},
    })
}
