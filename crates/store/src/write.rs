//! The write path: a change set enters the op log and the materialized tables in one
//! transaction (local writes and, later, received ones alike).

use rusqlite::{OptionalExtension, Transaction, params};
use tsunagi_core::change::{ChangeSet, EntityKind};
use tsunagi_core::hlc::Hlc;
use tsunagi_core::ids::EntityId;
use tsunagi_core::merge::EntityState;

use crate::{Store, StoreError, codec, project};

/// Where a change set comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Made on this device: it goes into the outbox.
    Local,
    /// Received from the server: already known there.
    Remote,
}

impl Store {
    /// Records one change set: op log (outbox for local ones) and materialized state together,
    /// in one transaction. A change set already known (same op id) changes nothing and returns
    /// `false`.
    pub fn apply(&mut self, cs: &ChangeSet, origin: Origin) -> Result<bool, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let held = std::time::Instant::now();
        let mut after = Deferred::default();
        let applied = apply_in(&tx, cs, None, origin, &mut after)?.is_some();
        after.finish(&tx)?;
        tx.commit()?;
        crate::holds::record("save: one change", held);
        Ok(applied)
    }

    /// Records several change sets in one transaction (one user action that touches several
    /// entities, or a received batch).
    pub fn apply_all(&mut self, sets: &[ChangeSet], origin: Origin) -> Result<usize, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut n = 0;
        let mut after = Deferred::default();
        for cs in sets {
            n += usize::from(apply_in(&tx, cs, None, origin, &mut after)?.is_some());
        }
        after.finish(&tx)?;
        tx.commit()?;
        Ok(n)
    }

    /// The merged state of one entity.
    pub fn entity(&self, id: EntityId) -> Result<Option<EntityState>, StoreError> {
        let json: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT state FROM entities WHERE id = ?1",
                [id.as_uuid().as_bytes()],
                |r| r.get(0),
            )
            .optional()?;
        json.map(|j| decode_state(&j, &id.to_string())).transpose()
    }

    /// The greatest HLC recorded in this store (the device clock resumes from it).
    pub fn last_hlc(&self) -> Result<Hlc, StoreError> {
        let s: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'hlc'", [], |r| r.get(0))
            .optional()?;
        match s {
            None => Ok(Hlc::ZERO),
            Some(s) => Hlc::parse_sortable(&s).map_err(|e| StoreError::Unreadable {
                what: "clock".into(),
                detail: e.to_string(),
            }),
        }
    }

    /// A setting from the meta table.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// Sets a value in the meta table.
    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.set_metas(&[(key, value)])
    }

    /// Sets several meta values in one transaction (one wait for the write lock, one commit).
    pub fn set_metas(&mut self, values: &[(&str, &str)]) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for (key, value) in values {
            tx.prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute([key, value])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Local change sets not yet acknowledged by the server.
    pub fn outbox_len(&self) -> Result<u64, StoreError> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM ops WHERE local = 1 AND pushed = 0",
            [],
            |r| r.get(0),
        )?;
        Ok(n.max(0) as u64)
    }

    /// Every change set recorded for an entity, oldest first (its audit history).
    pub fn history(&self, id: EntityId) -> Result<Vec<ChangeSet>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT op_id, kind, hlc, device, body FROM ops WHERE entity = ?1 ORDER BY hlc, seq",
        )?;
        let rows = stmt.query_map([id.as_uuid().as_bytes()], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Vec<u8>>(3)?,
                r.get::<_, Vec<u8>>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (op, kind, hlc, device, body) = row?;
            out.push(decode_op(id, &op, &kind, &hlc, &device, &body)?);
        }
        Ok(out)
    }
}

/// Work that follows the records written in one transaction and depends only on where they
/// ended: done once per transaction by [`Deferred::finish`], before the commit, instead of
/// once per record. A pulled page or a snapshot brings hundreds of one person's contacts, and
/// their person's summary was recomputed after each of them.
#[derive(Debug, Default)]
pub(crate) struct Deferred {
    /// Persons whose summary (`person_summary`) is to be recomputed.
    pub(crate) persons: std::collections::BTreeSet<Vec<u8>>,
    /// The greatest HLC written (the `hlc` meta value follows it).
    hlc: Option<String>,
    /// When set (a large pulled page, indexed inside its transaction): the note of each
    /// contact written and the page's index segment (see `fts::PageIndex`).
    pub(crate) index: Option<crate::fts::PageIndex>,
}

impl Deferred {
    /// Brings the summaries and the recorded clock in line with the transaction's writes.
    pub(crate) fn finish(self, tx: &Transaction<'_>) -> Result<(), StoreError> {
        for person in &self.persons {
            project::refresh_summary(tx, person)?;
        }
        if let Some(hlc) = self.hlc {
            tx.prepare_cached(
                "INSERT INTO meta (key, value) VALUES ('hlc', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
            )?
            .execute([hlc])?;
        }
        Ok(())
    }
}

/// Applies one change set; `body` is its body already in the BLOB format (a received payload
/// of format 2, decoded into `cs.body` by the caller), stored as it is. Returns the case of a
/// change set recorded now, `None` for one already known. The caller ends the transaction's
/// writes with `after.finish`.
pub(crate) fn apply_in(
    tx: &Transaction<'_>,
    cs: &ChangeSet,
    body: Option<&[u8]>,
    origin: Origin,
    after: &mut Deferred,
) -> Result<Option<EntityId>, StoreError> {
    Ok(match apply_op(tx, cs, body, origin, None, after)? {
        Applied::New(case) => Some(case),
        Applied::Known { .. } => None,
    })
}

/// What [`apply_op`] did with a change set.
pub(crate) enum Applied {
    /// Applied: the case it concerns.
    New(EntityId),
    /// Already in the op log (nothing changed), with the server sequence number it was
    /// recorded under, if known.
    Known { server_seq: Option<u64> },
}

/// [`apply_in`], recording the server sequence number a received change set came under, and
/// saying under which number a known one came before (the same op under another number is a
/// replay).
pub(crate) fn apply_op(
    tx: &Transaction<'_>,
    cs: &ChangeSet,
    body: Option<&[u8]>,
    origin: Origin,
    server_seq: Option<u64>,
    after: &mut Deferred,
) -> Result<Applied, StoreError> {
    let known: Option<Option<i64>> = tx
        .prepare_cached("SELECT server_seq FROM ops WHERE op_id = ?1")?
        .query_row([cs.op.as_uuid().as_bytes()], |r| r.get(0))
        .optional()?;
    if let Some(known) = known {
        return Ok(Applied::Known {
            server_seq: known.map(|s| s as u64),
        });
    }
    let (rowid, before) = load_entity(tx, cs.kind, cs.entity)?;
    let mut state = before.clone();
    state.apply(cs)?;
    let case = state.case_id();
    let encoded;
    let body = match body {
        Some(b) => b,
        None => {
            encoded = codec::encode(&cs.body, &format!("change set {}", cs.op))?;
            &encoded
        }
    };
    let hlc = cs.hlc.to_sortable();
    tx.prepare_cached(
        "INSERT INTO ops (op_id, kind, entity, hlc, device, body, local, case_id, server_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        cs.op.as_uuid().as_bytes(),
        cs.kind.key(),
        cs.entity.as_uuid().as_bytes(),
        hlc,
        cs.device.as_uuid().as_bytes(),
        body,
        origin == Origin::Local,
        case.as_uuid().as_bytes(),
        server_seq.map(|s| s as i64),
    ])?;
    save_entity(tx, rowid, &before, &state, None, after)?;
    Ok(Applied::New(case))
}

/// Merges another replica's state of an entity (from a snapshot) into the store: merged state
/// and projections, no op row (the snapshot stands for the ops it covers). The caller ends the
/// transaction's writes with `after.finish`.
pub(crate) fn join_in(
    tx: &Transaction<'_>,
    other: &EntityState,
    json: Option<&[u8]>,
    after: &mut Deferred,
) -> Result<(), StoreError> {
    let (rowid, before) = load_entity(tx, other.kind(), other.id())?;
    let mut state = before.clone();
    state.join(other)?;
    if rowid.is_some() && state == before {
        return Ok(());
    }
    // A record this store lacked, or held an older part of, now exactly the snapshot's state:
    // the JSON it was parsed from is compressed as it came, instead of printing the same
    // state again (12 % of the instructions of opening and committing snapshots).
    let encoded = match json.filter(|_| state == *other) {
        Some(json) => Some(codec::encode_json(json, &format!("entity {}", state.id()))?),
        None => None,
    };
    save_entity(tx, rowid, &before, &state, encoded, after)
}

fn load_entity(
    tx: &Transaction<'_>,
    kind: tsunagi_core::change::EntityKind,
    id: EntityId,
) -> Result<(Option<i64>, EntityState), StoreError> {
    let existing: Option<(i64, Vec<u8>)> = tx
        .prepare_cached("SELECT rowid, state FROM entities WHERE id = ?1")?
        .query_row([id.as_uuid().as_bytes()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(match existing {
        Some((rowid, json)) => (Some(rowid), decode_state(&json, &id.to_string())?),
        None => (None, EntityState::new(kind, id)),
    })
}

fn save_entity(
    tx: &Transaction<'_>,
    rowid: Option<i64>,
    before: &EntityState,
    state: &EntityState,
    encoded: Option<Vec<u8>>,
    after: &mut Deferred,
) -> Result<(), StoreError> {
    let id = state.id();
    let json = match encoded {
        Some(blob) => blob,
        None => codec::encode(state, &format!("entity {id}"))?,
    };
    let updated = state
        .latest()
        .map(|v| v.hlc)
        .unwrap_or(Hlc::ZERO)
        .to_sortable();
    let deleted = state.is_deleted();
    let conflicts = state.conflicts().len() as i64;
    let case = state.case_id();
    let rowid = match rowid {
        Some(rowid) => {
            // No indexed column in the SET list: SQLite then leaves every index of the table
            // as it is. The case (indexed by entities_case) is written apart, only when it
            // differs, which is rarely.
            tx.prepare_cached(
                "UPDATE entities SET state = ?2, deleted = ?3, conflicts = ?4, updated_hlc = ?5
                 WHERE rowid = ?1",
            )?
            .execute(params![rowid, json, deleted, conflicts, updated])?;
            tx.prepare_cached(
                "UPDATE entities SET case_id = ?2 WHERE rowid = ?1 AND case_id IS NOT ?2",
            )?
            .execute(params![rowid, case.as_uuid().as_bytes()])?;
            rowid
        }
        None => {
            tx.prepare_cached(
                "INSERT INTO entities (id, kind, state, deleted, conflicts, updated_hlc, case_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                id.as_uuid().as_bytes(),
                state.kind().key(),
                json,
                deleted,
                conflicts,
                updated,
                case.as_uuid().as_bytes()
            ])?;
            tx.last_insert_rowid()
        }
    };
    project::project(tx, rowid, before, state, &mut after.persons)?;
    if let Some(index) = after.index.as_mut()
        && state.kind() == EntityKind::Contact
    {
        index.notes.insert(rowid, crate::fts::note_of(state));
    }
    if after.hlc.as_ref().is_none_or(|h| *h < updated) {
        after.hlc = Some(updated);
    }
    Ok(())
}

pub(crate) fn decode_state(blob: &[u8], what: &str) -> Result<EntityState, StoreError> {
    codec::decode(blob, &format!("entity {what}"))
}

pub(crate) fn decode_op(
    entity: EntityId,
    op: &[u8],
    kind: &str,
    hlc: &str,
    device: &[u8],
    body: &[u8],
) -> Result<ChangeSet, StoreError> {
    let bad = |detail: String| StoreError::Unreadable {
        what: format!("op of {entity}"),
        detail,
    };
    let uuid = |b: &[u8]| uuid::Uuid::from_slice(b).map_err(|e| bad(e.to_string()));
    Ok(ChangeSet {
        op: tsunagi_core::ids::OpId::from_uuid(uuid(op)?),
        kind: tsunagi_core::change::EntityKind::parse(kind).map_err(|e| bad(e.to_string()))?,
        entity,
        hlc: Hlc::parse_sortable(hlc).map_err(|e| bad(e.to_string()))?,
        device: tsunagi_core::ids::DeviceId::from_uuid(uuid(device)?),
        body: codec::decode(body, &format!("op of {entity}"))?,
    })
}
