//! The store side of sync (docs/protocol.md): the outbox in op-log order, case keys and grants,
//! envelopes waiting to be pushed, and one transaction per pulled page (keys, grants, change
//! sets, snapshots, held and refused envelopes, and the cursor together), so a crash at any
//! point neither loses nor duplicates anything.

use rusqlite::{OptionalExtension, Transaction, params};
use std::collections::BTreeMap;
use tsunagi_core::change::ChangeSet;
use tsunagi_core::change::EntityKind;
use tsunagi_core::ids::{DeviceId, EntityId, OpId};
use tsunagi_core::merge::EntityState;
use tsunagi_crypto::case::CaseKey;
use uuid::Uuid;

use crate::chain::{ChainHead, ChainLink, ChainPos, PageChain, chain_in, problem_in};
use crate::write::{Applied, Deferred, Origin, apply_op, decode_state, join_in};
use crate::{Store, StoreError, codec};

/// States of a snapshot joined between two looks at the clock of a time-sliced sync.
const STATES_PER_STEP: usize = 16;

/// The longest a time-sliced sync waits for the app's commands before a transaction (a
/// command is milliseconds; this only keeps a stuck one from stopping the sync).
const FOREGROUND_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// A local op waiting to be pushed: its op-log row as stored, so that the sync engine seals
/// the body bytes as they are, without decompressing and compressing them again.
#[derive(Debug, Clone)]
pub struct OutboxOp {
    /// Op-log position.
    pub seq: i64,
    /// Its case.
    pub case: EntityId,
    /// Its op id.
    pub op: OpId,
    /// Its entity.
    pub entity: EntityId,
    /// The device that made it.
    pub device: DeviceId,
    /// Its entity kind, as stored (`EntityKind::key`).
    pub kind: String,
    /// Its HLC, as stored (sortable text).
    pub hlc: String,
    /// Its body as stored: the change body in the BLOB format ([`crate::codec`]).
    pub body: Vec<u8>,
    /// Its place in this device's chain of its case, once given ([`Store::assign_chain`]).
    pub chain: Option<ChainPos>,
}

/// A change set received from another device, with its stored body.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedChange {
    /// The change set (checked against the envelope header by the caller).
    pub cs: ChangeSet,
    /// Its body already in the BLOB format ([`crate::codec`]) and decoded into `cs.body`,
    /// stored as it is; `None`: the store encodes `cs.body` itself.
    pub body: Option<Vec<u8>>,
    /// Its place in its author's chain of its case (payload format 3), with its link; `None`
    /// for a change set from before chains.
    pub chain: Option<ChainLink>,
    /// The server sequence number it came under, and the envelope as pulled (kept aside with
    /// the reason if the change set is refused as a fork); `None` outside a pull.
    pub pulled: Option<(u64, Vec<u8>)>,
}

/// One entity state of a received snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotState {
    /// The state, parsed and checked.
    pub state: EntityState,
    /// The JSON text `state` was parsed from (`None`: the store prints the state itself). A
    /// store that then holds exactly this state compresses the text as it came.
    pub json: Option<Vec<u8>>,
}

/// A case key held by this device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseKeyRow {
    /// Case.
    pub case: EntityId,
    /// Case-key epoch.
    pub epoch: u32,
    /// Its public id.
    pub key_id: [u8; 16],
    /// The key.
    pub key: CaseKey,
    /// Owning team.
    pub team: String,
    /// The owning team's key epoch when the key was made.
    pub team_epoch: u32,
    /// Highest owning-team key epoch a slot of it is known for.
    pub sealed_to: u32,
    /// Made here (`true`) or received.
    pub local: bool,
}

/// A team's permission to read a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRow {
    /// Case.
    pub case: EntityId,
    /// Receiving team.
    pub team: String,
    /// First readable case-key epoch.
    pub from_epoch: u32,
    /// First unreadable epoch (0: open).
    pub until_epoch: u32,
    /// The id of the grant envelope it came from (a UUIDv7 of the sharing device): a grant
    /// replaces the held one of its case and team only when its version is greater.
    pub version: [u8; 16],
}

/// An envelope waiting to be pushed before the changes it enables (case-key slot, grant).
#[derive(Debug, Clone)]
pub struct QueuedEnvelope {
    /// Its id.
    pub id: [u8; 16],
    /// Its case.
    pub case: EntityId,
    /// Case-key epoch it concerns.
    pub epoch: u32,
    /// The encoded envelope.
    pub body: Vec<u8>,
}

/// Everything one pulled page changes, written in one transaction.
#[derive(Debug, Default)]
pub struct PageWrite {
    /// Case keys opened.
    pub keys: Vec<CaseKeyRow>,
    /// Grants seen.
    pub grants: Vec<GrantRow>,
    /// Change sets opened and checked.
    pub changes: Vec<ReceivedChange>,
    /// Snapshots opened and checked: case, server seq, entity states.
    pub snapshots: Vec<(EntityId, u64, Vec<SnapshotState>)>,
    /// The chain heads the page's snapshots carry, per case: each author's chain starts there
    /// (what a snapshot covers is not sent again).
    pub snapshot_heads: Vec<(EntityId, Vec<ChainHead>)>,
    /// Envelopes that cannot be opened yet: seq, bytes, reason.
    pub hold: Vec<(u64, Vec<u8>, String)>,
    /// Held envelopes now applied (or refused).
    pub unhold: Vec<u64>,
    /// Envelopes that failed verification: seq, bytes, code, detail.
    pub refused: Vec<(u64, Vec<u8>, String, String)>,
    /// Certificates verified on the way (device, JSON).
    pub certs: Vec<(Uuid, String)>,
    /// Cursor to record: meta key and value.
    pub cursor: Option<(String, u64)>,
    /// Index the page's notes inside its own transactions whatever its size (a fresh
    /// device's own cases, searched at once while the rest of the team's records follow).
    pub index_now: bool,
}

/// What committing a page did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageCounts {
    /// Change sets newly applied.
    pub applied: usize,
    /// Change sets already here that came again under another server sequence number.
    pub replayed: usize,
    /// Change sets refused as forks of their author's chain, and snapshot heads contradicting
    /// a known link.
    pub forks: usize,
}

/// Counts the status shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncCounts {
    /// Local ops not yet acknowledged (and not refused).
    pub pending: u64,
    /// Case-key slots and grants not yet acknowledged.
    pub pending_keys: u64,
    /// Local ops the server refused.
    pub push_refused: u64,
    /// Pulled envelopes waiting for a key.
    pub held: u64,
    /// Pulled envelopes refused as invalid.
    pub pull_refused: u64,
}

pub(crate) fn uuid_of(b: &[u8], what: &str) -> Result<Uuid, StoreError> {
    Uuid::from_slice(b).map_err(|e| StoreError::Unreadable {
        what: what.into(),
        detail: e.to_string(),
    })
}

fn arr16(b: &[u8], what: &str) -> Result<[u8; 16], StoreError> {
    b.try_into().map_err(|_| StoreError::Unreadable {
        what: what.into(),
        detail: "not 16 bytes".into(),
    })
}

type RawKey = (Vec<u8>, u32, Vec<u8>, Vec<u8>, String, u32, u32, String);

fn key_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawKey> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    ))
}

fn to_key_row(
    (case, epoch, key_id, key, team, team_epoch, sealed_to, origin): RawKey,
) -> Result<CaseKeyRow, StoreError> {
    Ok(CaseKeyRow {
        case: EntityId::from_uuid(uuid_of(&case, "case key")?),
        epoch,
        key_id: arr16(&key_id, "case key id")?,
        key: CaseKey::from_bytes(&key).map_err(|e| StoreError::Unreadable {
            what: "case key".into(),
            detail: e.to_string(),
        })?,
        team,
        team_epoch,
        sealed_to,
        local: origin == "local",
    })
}

const KEY_COLS: &str = "case_id, epoch, key_id, key, team, team_epoch, sealed_to, origin";

fn put_key(tx: &Transaction<'_>, k: &CaseKeyRow) -> Result<(), StoreError> {
    let existing: Option<(Vec<u8>, u32)> = tx
        .prepare_cached(
            "SELECT key_id, team_epoch FROM case_keys WHERE case_id = ?1 AND epoch = ?2",
        )?
        .query_row(params![k.case.as_uuid().as_bytes(), k.epoch], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    match existing {
        Some((kid, te)) if kid == k.key_id => {
            if k.team_epoch > te {
                tx.prepare_cached(
                    "UPDATE case_keys SET team_epoch = ?3 WHERE case_id = ?1 AND epoch = ?2",
                )?
                .execute(params![
                    k.case.as_uuid().as_bytes(),
                    k.epoch,
                    k.team_epoch
                ])?;
            }
        }
        Some(_) => {
            // Another device made this epoch first and the server kept its key: ours was
            // refused (`epoch_taken`). Take theirs; drop our unsent slots for it.
            tx.prepare_cached("DELETE FROM key_outbox WHERE case_id = ?1 AND epoch = ?2")?
                .execute(params![k.case.as_uuid().as_bytes(), k.epoch])?;
            upsert_key(tx, k)?;
        }
        None => upsert_key(tx, k)?,
    }
    Ok(())
}

/// Writes a case key, replacing the row of the same case and epoch.
fn upsert_key(tx: &Transaction<'_>, k: &CaseKeyRow) -> Result<(), StoreError> {
    tx.prepare_cached(&format!(
        "INSERT INTO case_keys ({KEY_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (case_id, epoch) DO UPDATE SET key_id = excluded.key_id,
             key = excluded.key, team = excluded.team, team_epoch = excluded.team_epoch,
             sealed_to = excluded.sealed_to, origin = excluded.origin"
    ))?
    .execute(params![
        k.case.as_uuid().as_bytes(),
        k.epoch,
        k.key_id.as_slice(),
        k.key.as_bytes().as_slice(),
        k.team,
        k.team_epoch,
        k.sealed_to,
        if k.local { "local" } else { "remote" }
    ])?;
    Ok(())
}

/// The leading items whose sizes fit in `max_bytes`, at least one (a body larger than the
/// budget still travels, alone).
fn within_bytes<T>(items: impl IntoIterator<Item = (T, i64)>, max_bytes: usize) -> Vec<T> {
    let mut out = Vec::new();
    let mut bytes = 0usize;
    for (item, size) in items {
        let size = size.max(0) as usize;
        if !out.is_empty() && bytes.saturating_add(size) > max_bytes {
            break;
        }
        bytes = bytes.saturating_add(size);
        out.push(item);
    }
    out
}

fn put_grant(tx: &Transaction<'_>, g: &GrantRow) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO case_grants (case_id, team, from_epoch, until_epoch, version)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (case_id, team) DO UPDATE SET from_epoch = excluded.from_epoch,
             until_epoch = excluded.until_epoch, version = excluded.version
         WHERE excluded.version > case_grants.version",
    )?
    .execute(params![
        g.case.as_uuid().as_bytes(),
        g.team,
        g.from_epoch,
        g.until_epoch,
        g.version
    ])?;
    Ok(())
}

fn queue_in(tx: &Transaction<'_>, envelopes: &[QueuedEnvelope]) -> Result<(), StoreError> {
    for e in envelopes {
        tx.prepare_cached(
            "INSERT INTO key_outbox (id, case_id, epoch, body) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO NOTHING",
        )?
        .execute(params![
            e.id.as_slice(),
            e.case.as_uuid().as_bytes(),
            e.epoch,
            e.body
        ])?;
    }
    Ok(())
}

impl Store {
    /// Fills the case of ops and entities written before schema v3 (once; cheap when none).
    pub(crate) fn backfill_cases(&mut self) -> Result<(), StoreError> {
        let missing: i64 = self.conn.query_row(
            "SELECT count(*) FROM entities WHERE case_id IS NULL",
            [],
            |r| r.get(0),
        )?;
        let ops_missing: i64 =
            self.conn
                .query_row("SELECT count(*) FROM ops WHERE case_id IS NULL", [], |r| {
                    r.get(0)
                })?;
        if missing == 0 && ops_missing == 0 {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut stmt =
                tx.prepare("SELECT rowid, id, state FROM entities WHERE case_id IS NULL")?;
            let rows: Vec<(i64, Vec<u8>, Vec<u8>)> = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?;
            for (rowid, id, blob) in rows {
                let state = decode_state(&blob, &format!("{id:?}"))?;
                tx.execute(
                    "UPDATE entities SET case_id = ?2 WHERE rowid = ?1",
                    params![rowid, state.case_id().as_uuid().as_bytes()],
                )?;
            }
        }
        tx.execute(
            "UPDATE ops SET case_id = (SELECT case_id FROM entities WHERE entities.id = ops.entity)
             WHERE case_id IS NULL",
            [],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Local ops not yet acknowledged or refused, in op-log order, after `after_seq`.
    pub fn outbox_batch(&self, after_seq: i64, limit: usize) -> Result<Vec<OutboxOp>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT o.seq, o.op_id, o.kind, o.entity, o.hlc, o.device, o.body, o.case_id,
                    o.chain_seq, o.chain_prev
             FROM ops o WHERE o.local = 1 AND o.pushed = 0 AND o.seq > ?1
               AND NOT EXISTS (SELECT 1 FROM push_refused r WHERE r.op_id = o.op_id)
             ORDER BY o.seq LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![after_seq, limit as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Vec<u8>>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Vec<u8>>(5)?,
                r.get::<_, Vec<u8>>(6)?,
                r.get::<_, Option<Vec<u8>>>(7)?,
                r.get::<_, Option<i64>>(8)?,
                r.get::<_, Option<Vec<u8>>>(9)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, op, kind, entity, hlc, device, body, case, chain_seq, chain_prev) = row?;
            let chain = match (chain_seq, chain_prev) {
                (Some(s), Some(p)) => Some(ChainPos {
                    seq: s as u64,
                    prev: p.try_into().map_err(|_| StoreError::Unreadable {
                        what: "op chain".into(),
                        detail: "prev is not 32 bytes".into(),
                    })?,
                }),
                _ => None,
            };
            let op = OpId::from_uuid(uuid_of(&op, "op id")?);
            let entity = EntityId::from_uuid(uuid_of(&entity, "op entity")?);
            let device = DeviceId::from_uuid(uuid_of(&device, "op device")?);
            let case = match case {
                Some(c) => EntityId::from_uuid(uuid_of(&c, "op case")?),
                None => entity,
            };
            // The row goes out as stored: its body is not decompressed and compressed again.
            out.push(OutboxOp {
                seq,
                case,
                op,
                entity,
                device,
                kind,
                hlc,
                body,
                chain,
            });
        }
        Ok(out)
    }

    /// Records a push's outcome in one transaction: ops acknowledged, ops refused (with the
    /// server's reason), queued envelopes acknowledged or dropped.
    pub fn record_push(
        &mut self,
        acked: &[OpId],
        refused: &[(OpId, String, String)],
        queued_done: &[[u8; 16]],
        now: &str,
    ) -> Result<(), StoreError> {
        let acked: Vec<(OpId, Option<u64>)> = acked.iter().map(|op| (*op, None)).collect();
        self.record_push_at(&acked, refused, queued_done, now)
    }

    /// [`Store::record_push`], with the server sequence number each acknowledged op came
    /// under (the same op later under another number is a replay).
    pub fn record_push_at(
        &mut self,
        acked: &[(OpId, Option<u64>)],
        refused: &[(OpId, String, String)],
        queued_done: &[[u8; 16]],
        now: &str,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // One lookup per op; the per-case counts of ops since the last snapshot are added
        // once per case.
        let mut per_case: BTreeMap<Vec<u8>, i64> = BTreeMap::new();
        for (op, seq) in acked {
            let case: Option<Option<Vec<u8>>> = tx
                .prepare_cached(
                    "UPDATE ops SET pushed = 1, server_seq = coalesce(?2, server_seq)
                     WHERE op_id = ?1 RETURNING case_id",
                )?
                .query_row(
                    params![op.as_uuid().as_bytes(), seq.map(|s| s as i64)],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(Some(case)) = case {
                *per_case.entry(case).or_default() += 1;
            }
        }
        for (case, n) in per_case {
            tx.prepare_cached(
                "INSERT INTO case_sync (case_id, ops_since) VALUES (?1, ?2)
                 ON CONFLICT (case_id) DO UPDATE SET ops_since = ops_since + excluded.ops_since",
            )?
            .execute(params![case, n])?;
        }
        for (op, code, msg) in refused {
            tx.prepare_cached(
                "INSERT INTO push_refused (op_id, code, message, at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (op_id) DO UPDATE SET code = excluded.code,
                     message = excluded.message, at = excluded.at",
            )?
            .execute(params![op.as_uuid().as_bytes(), code, msg, now])?;
        }
        for id in queued_done {
            tx.prepare_cached("DELETE FROM key_outbox WHERE id = ?1")?
                .execute([id.as_slice()])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Drops a local case key the server refused (another device's key won the epoch), with
    /// its unsent slots; changes sealed under it stay in the outbox and are sealed again.
    pub fn drop_local_case_key(&mut self, case: EntityId, epoch: u32) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "DELETE FROM key_outbox WHERE case_id = ?1 AND epoch = ?2",
            params![case.as_uuid().as_bytes(), epoch],
        )?;
        tx.execute(
            "DELETE FROM case_keys WHERE case_id = ?1 AND epoch = ?2 AND origin = 'local'",
            params![case.as_uuid().as_bytes(), epoch],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Envelopes waiting to be pushed before the changes, in order: at most `limit`, and only
    /// as many as fit in `max_bytes` (at least one, however large). Snapshots queue up to
    /// megabytes each, so the bodies are not read past the budget.
    pub fn queued_envelopes(
        &self,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<QueuedEnvelope>, StoreError> {
        let sizes: Vec<(i64, i64)> = self
            .conn
            .prepare_cached("SELECT seq, length(body) FROM key_outbox ORDER BY seq LIMIT ?1")?
            .query_map([limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut row = self
            .conn
            .prepare_cached("SELECT id, case_id, epoch, body FROM key_outbox WHERE seq = ?1")?;
        let mut out = Vec::new();
        for seq in within_bytes(sizes, max_bytes) {
            let (id, case, epoch, body): (Vec<u8>, Vec<u8>, u32, Vec<u8>) =
                row.query_row([seq], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            out.push(QueuedEnvelope {
                id: arr16(&id, "queued envelope id")?,
                case: EntityId::from_uuid(uuid_of(&case, "queued envelope case")?),
                epoch,
                body,
            });
        }
        Ok(out)
    }

    /// Records new local case keys and grants with the envelopes that announce them, in one
    /// transaction (a key is never used before its slot is queued).
    pub fn add_local_keys(
        &mut self,
        keys: &[CaseKeyRow],
        grants: &[GrantRow],
        envelopes: &[QueuedEnvelope],
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for k in keys {
            put_key(&tx, k)?;
        }
        for g in grants {
            put_grant(&tx, g)?;
        }
        queue_in(&tx, envelopes)?;
        tx.commit()?;
        Ok(())
    }

    /// Queues sealed snapshots and restarts their cases' counts, in one transaction.
    pub fn queue_snapshots(
        &mut self,
        cases: &[EntityId],
        envelopes: &[QueuedEnvelope],
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        queue_in(&tx, envelopes)?;
        for c in cases {
            tx.prepare_cached("UPDATE case_sync SET ops_since = 0 WHERE case_id = ?1")?
                .execute([c.as_uuid().as_bytes()])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// One case key.
    pub fn case_key(&self, case: EntityId, epoch: u32) -> Result<Option<CaseKeyRow>, StoreError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {KEY_COLS} FROM case_keys WHERE case_id = ?1 AND epoch = ?2"
            ))?
            .query_row(params![case.as_uuid().as_bytes(), epoch], key_row)
            .optional()?
            .map(to_key_row)
            .transpose()
    }

    /// Every case key of a case, oldest epoch first.
    pub fn case_keys_of(&self, case: EntityId) -> Result<Vec<CaseKeyRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {KEY_COLS} FROM case_keys WHERE case_id = ?1 ORDER BY epoch"
        ))?;
        let rows = stmt.query_map([case.as_uuid().as_bytes()], key_row)?;
        let mut out = Vec::new();
        for r in rows {
            out.push(to_key_row(r?)?);
        }
        Ok(out)
    }

    /// The team that owns a case: the team of its latest case key (None for a case that has
    /// no key yet, such as one recorded here and never synced).
    pub fn case_owner(&self, case: EntityId) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT team FROM case_keys WHERE case_id = ?1 ORDER BY epoch DESC LIMIT 1",
            )?
            .query_row([case.as_uuid().as_bytes()], |r| r.get(0))
            .optional()?)
    }

    /// The case a stored entity belongs to (None for an entity not held here).
    pub fn entity_case(&self, entity: EntityId) -> Result<Option<EntityId>, StoreError> {
        let case: Option<Option<Vec<u8>>> = self
            .conn
            .prepare_cached("SELECT case_id FROM entities WHERE id = ?1")?
            .query_row([entity.as_uuid().as_bytes()], |r| r.get(0))
            .optional()?;
        Ok(case
            .flatten()
            .and_then(|b| uuid::Uuid::from_slice(&b).ok())
            .map(EntityId::from_uuid))
    }

    /// Every case key held (for re-sealing after a team key rotation).
    pub fn all_case_keys(&self) -> Result<Vec<CaseKeyRow>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {KEY_COLS} FROM case_keys ORDER BY case_id, epoch"
        ))?;
        let rows = stmt.query_map([], key_row)?;
        let mut out = Vec::new();
        for r in rows {
            out.push(to_key_row(r?)?);
        }
        Ok(out)
    }

    /// The grants of a case.
    pub fn grants_of(&self, case: EntityId) -> Result<Vec<GrantRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT team, from_epoch, until_epoch, version FROM case_grants WHERE case_id = ?1 ORDER BY team",
        )?;
        let rows = stmt.query_map([case.as_uuid().as_bytes()], |r| {
            Ok(GrantRow {
                case,
                team: r.get(0)?,
                from_epoch: r.get(1)?,
                until_epoch: r.get(2)?,
                version: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Writes one pulled page in one transaction. Returns how many change sets were new.
    pub fn commit_page(&mut self, page: &PageWrite, now: &str) -> Result<usize, StoreError> {
        self.commit_page_sliced(page, now, None)
    }

    /// Writes one pulled page; with `slice`, in transactions that each hold the write lock
    /// about that long (plus their commit), so that the app's saves on another connection
    /// never wait for a whole page. The keys, grants, certificates, held and refused envelopes
    /// go in the first transaction; change sets and snapshots fill the transactions in order;
    /// the cursor goes in the last one only. A crash between them re-pulls the page, which
    /// merges to the same state (known op ids change nothing, joins are idempotent). Returns
    /// how many change sets were new.
    pub fn commit_page_sliced(
        &mut self,
        page: &PageWrite,
        now: &str,
        slice: Option<std::time::Duration>,
    ) -> Result<usize, StoreError> {
        Ok(self.commit_page_counted(page, now, slice)?.applied)
    }

    /// [`Store::commit_page_sliced`], saying also what the chain bookkeeping found: change
    /// sets refused as forks (kept aside with the code `fork`, never applied) and change sets
    /// already here that came again under another server sequence number (replays: applied
    /// nothing, counted).
    pub fn commit_page_counted(
        &mut self,
        page: &PageWrite,
        now: &str,
        slice: Option<std::time::Duration>,
    ) -> Result<PageCounts, StoreError> {
        let joined: usize = page.snapshots.iter().map(|(_, _, s)| s.len()).sum();
        // A large page is indexed inside its transactions (see fts::inline_for), from the notes
        // they write.
        let inline = page.index_now || crate::fts::inline_for(page.changes.len() + joined);
        let mut changes = page.changes.iter().enumerate().peekable();
        let mut snapshots = page.snapshots.iter().peekable();
        let mut applied = 0;
        let mut replayed = 0;
        let mut chain = PageChain::default();
        let mut first = true;
        // States of the snapshot in hand already joined (by earlier transactions).
        let mut joined_of_snapshot = 0usize;
        // What the last transaction spent after its records (summaries, index segment,
        // commit), from one page to the next: the next one leaves that much of its slice for
        // it, so a whole transaction holds the lock about `slice`, not `slice` plus its tail
        // (up to 160 ms at 40 ms). At least half the slice goes to records: each transaction
        // writes an index segment, whose cost hardly shrinks with its size.
        loop {
            let tail = self.slice_tail;
            if slice.is_some() {
                self.yield_to_foreground(FOREGROUND_WAIT);
            }
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let held = std::time::Instant::now();
            let budget = slice.map(|s| s.saturating_sub(tail).max(s / 4));
            // Every transaction takes at least one record, so a slice too short still ends.
            // (Counted when a record is taken, not when the clock is read: a transaction whose
            // first look found no change set left still takes a snapshot step.)
            let mut taken = 0usize;
            let over = |taken: usize| taken > 0 && budget.is_some_and(|b| held.elapsed() >= b);
            let mut after = Deferred::default();
            if inline {
                after.index = Some(crate::fts::PageIndex::default());
            }
            if first {
                let t = std::time::Instant::now();
                commit_page_extras(&tx, page, now)?;
                chain = chain_in(&tx, page, now)?;
                for (i, rc) in page.changes.iter().enumerate() {
                    if chain.refused[i] {
                        let (seq, body) = rc.pulled.clone().unwrap_or_default();
                        let detail = format!(
                            "change {} of device {} forks its chain of case {}",
                            rc.cs.op, rc.cs.device, rc.cs.entity
                        );
                        tx.prepare_cached(
                            "INSERT INTO pull_refused (seq, body, code, detail, at)
                             VALUES (?1, ?2, 'fork', ?3, ?4) ON CONFLICT (seq) DO NOTHING",
                        )?
                        .execute(params![seq as i64, body, detail, now])?;
                    }
                }
                crate::holds::record("sync slice: keys, grants, held", t);
                first = false;
            }
            let mut per_case: BTreeMap<EntityId, i64> = BTreeMap::new();
            while !over(taken) {
                let Some((i, rc)) = changes.next() else { break };
                taken += 1;
                if chain.refused.get(i).copied().unwrap_or(false) {
                    continue;
                }
                let seq = rc.pulled.as_ref().map(|(s, _)| *s);
                match apply_op(
                    &tx,
                    &rc.cs,
                    rc.body.as_deref(),
                    Origin::Remote,
                    seq,
                    &mut after,
                )? {
                    Applied::New(case) => {
                        applied += 1;
                        *per_case.entry(case).or_default() += 1;
                    }
                    Applied::Known {
                        server_seq: Some(before),
                    } if seq.is_some_and(|s| s != before) => {
                        replayed += 1;
                        problem_in(
                            &tx,
                            "replayed",
                            Some(*rc.cs.device.as_uuid()),
                            rc.chain.map(|c| c.case),
                            &format!(
                                "change {} came again as #{} (first as #{before})",
                                rc.cs.op,
                                seq.unwrap_or(0)
                            ),
                            now,
                        )?;
                    }
                    Applied::Known { .. } => {}
                }
                crate::fts::index_page_step(&tx, after.index.as_mut())?;
            }
            for (case, n) in per_case {
                tx.prepare_cached(
                    "INSERT INTO case_sync (case_id, ops_since) VALUES (?1, ?2)
                     ON CONFLICT (case_id) DO UPDATE SET ops_since = ops_since + excluded.ops_since",
                )?
                .execute(params![case.as_uuid().as_bytes(), n])?;
            }
            while changes.peek().is_none() && !over(taken) {
                let Some(&(case, seq, ref states)) = snapshots.peek().copied() else {
                    break;
                };
                taken += 1;
                // A snapshot is a whole case (hundreds of contacts): joined a few states at a
                // time, so one case does not make one long transaction; its seq is recorded
                // with its last states (a crash in between re-pulls it, and joins again).
                let end = (joined_of_snapshot + STATES_PER_STEP).min(states.len());
                for s in &states[joined_of_snapshot..end] {
                    join_in(&tx, &s.state, s.json.as_deref(), &mut after)?;
                }
                crate::fts::index_page_step(&tx, after.index.as_mut())?;
                if end < states.len() {
                    joined_of_snapshot = end;
                    continue;
                }
                joined_of_snapshot = 0;
                snapshots.next();
                tx.prepare_cached(
                    "INSERT INTO case_sync (case_id, snapshot_seq, ops_since) VALUES (?1, ?2, 0)
                     ON CONFLICT (case_id) DO UPDATE SET snapshot_seq = max(snapshot_seq, excluded.snapshot_seq),
                         ops_since = 0",
                )?
                .execute(params![case.as_uuid().as_bytes(), seq as i64])?;
            }
            let last = changes.peek().is_none() && snapshots.peek().is_none();
            if last && let Some((key, value)) = &page.cursor {
                tx.prepare_cached(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )?
                .execute(params![key, value.to_string()])?;
            }
            crate::holds::record("sync slice: records", held);
            let tail_from = std::time::Instant::now();
            let index = after.index.take();
            let t = std::time::Instant::now();
            after.finish(&tx)?;
            crate::holds::record("sync slice: summaries", t);
            // A large page's notes are searchable as soon as the transaction that wrote them
            // commits.
            if let Some(index) = index {
                let t = std::time::Instant::now();
                crate::fts::index_page_in(&tx, index)?;
                crate::holds::record("sync slice: index segment", t);
            }
            let t = std::time::Instant::now();
            tx.commit()?;
            crate::holds::record("sync slice: commit", t);
            crate::holds::record("sync slice (whole)", held);
            self.slice_tail = tail_from.elapsed();
            if last {
                return Ok(PageCounts {
                    applied,
                    replayed,
                    forks: chain.forks,
                });
            }
            // SQLite's lock is not fair: a writer on another connection polls for it every
            // 200 µs (open::short_waits), and a slice begun at once after this commit would
            // win it again and again. The app's commands are waited for (above); a pause
            // longer than one poll lets any other waiting writer in first.
            if slice.is_some() {
                std::thread::sleep(std::time::Duration::from_micros(500));
            }
        }
    }

    /// Held envelopes after `after_seq`, oldest first, as many as fit in `max_bytes` (at least
    /// one): a fresh device may hold hundreds of snapshots until their keys arrive, and they
    /// are retried a bounded slice at a time.
    pub fn held(
        &self,
        after_seq: u64,
        max_bytes: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let sizes: Vec<(i64, i64)> = self
            .conn
            .prepare_cached("SELECT seq, length(body) FROM held WHERE seq > ?1 ORDER BY seq")?
            .query_map([after_seq as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut body = self
            .conn
            .prepare_cached("SELECT body FROM held WHERE seq = ?1")?;
        within_bytes(sizes, max_bytes)
            .into_iter()
            .map(|seq| Ok((seq as u64, body.query_row([seq], |r| r.get(0))?)))
            .collect()
    }

    /// Refused pulled envelopes: seq, code, detail (newest first).
    pub fn pull_refusals(&self, limit: usize) -> Result<Vec<(u64, String, String)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, code, detail FROM pull_refused ORDER BY seq DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Refused local ops: op id, code, message.
    pub fn push_refusals(&self, limit: usize) -> Result<Vec<(OpId, String, String)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT op_id, code, message FROM push_refused ORDER BY at DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get(1)?, r.get(2)?))
        })?;
        let mut out = Vec::new();
        for r in rows {
            let (op, code, msg) = r?;
            out.push((OpId::from_uuid(uuid_of(&op, "refused op")?), code, msg));
        }
        Ok(out)
    }

    /// A verified certificate (JSON), if cached.
    pub fn cert(&self, device: Uuid) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT cert FROM certs WHERE device = ?1")?
            .query_row([device.as_bytes()], |r| r.get(0))
            .optional()?)
    }

    /// Whether the pulled envelope `seq` was refused already (and is kept aside).
    pub fn pull_refused_has(&self, seq: u64) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM pull_refused WHERE seq = ?1")?
            .exists([seq as i64])?)
    }

    /// Counts for the status.
    pub fn sync_counts(&self) -> Result<SyncCounts, StoreError> {
        let q = |sql: &str| -> Result<u64, StoreError> {
            let n: i64 = self.conn.query_row(sql, [], |r| r.get(0))?;
            Ok(n.max(0) as u64)
        };
        Ok(SyncCounts {
            pending: q(
                "SELECT count(*) FROM ops o WHERE o.local = 1 AND o.pushed = 0
                        AND NOT EXISTS (SELECT 1 FROM push_refused r WHERE r.op_id = o.op_id)",
            )?,
            pending_keys: q("SELECT count(*) FROM key_outbox")?,
            push_refused: q("SELECT count(*) FROM push_refused")?,
            held: q("SELECT count(*) FROM held")?,
            pull_refused: q("SELECT count(*) FROM pull_refused")?,
        })
    }

    /// Every entity state of a case (what a snapshot carries).
    pub fn case_states(&self, case: EntityId) -> Result<Vec<EntityState>, StoreError> {
        self.states_where(
            "SELECT id, state FROM entities WHERE case_id = ?1 ORDER BY rowid",
            rusqlite::params![case.as_uuid().as_bytes()],
        )
    }

    /// A case's entity states of one kind (its consents, say), without inflating the others.
    pub fn case_states_of(
        &self,
        case: EntityId,
        kind: EntityKind,
    ) -> Result<Vec<EntityState>, StoreError> {
        self.states_where(
            "SELECT id, state FROM entities WHERE case_id = ?1 AND kind = ?2 ORDER BY rowid",
            rusqlite::params![case.as_uuid().as_bytes(), kind.key()],
        )
    }

    /// The states of the rows (id, state) that `sql` selects.
    fn states_where(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<EntityState>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params, |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?;
        let mut out = Vec::new();
        for r in rows {
            let (id, blob) = r?;
            out.push(decode_state(
                &blob,
                &format!("{:?}", uuid_of(&id, "entity")?),
            )?);
        }
        Ok(out)
    }

    /// The JSON text of each entity state of a case, in the order of [`Store::case_states`],
    /// inflated from its stored BLOB but not parsed: what a snapshot is made of, without
    /// parsing and serializing each state again.
    pub fn case_states_json(
        &self,
        case: EntityId,
        mut each: impl FnMut(&[u8]),
    ) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, state FROM entities WHERE case_id = ?1 ORDER BY rowid")?;
        let mut rows = stmt.query([case.as_uuid().as_bytes()])?;
        while let Some(r) = rows.next()? {
            let (id, blob): (Vec<u8>, Vec<u8>) = (r.get(0)?, r.get(1)?);
            let what = format!("entity {:?}", uuid_of(&id, "entity")?);
            let state = codec::json_of(&blob, &what)?;
            each(&state);
        }
        Ok(())
    }

    /// Cases with at least `min_ops` change sets applied since their latest snapshot, and no
    /// held envelope and no author's changes missing (a snapshot must not claim what this
    /// device has not applied: a device that starts a case from it would not be sent what it
    /// covers, and a gap in it could never heal there).
    pub fn cases_due_for_snapshot(&self, min_ops: u64) -> Result<Vec<EntityId>, StoreError> {
        if self.sync_counts()?.held > 0 {
            return Ok(Vec::new());
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.case_id FROM case_sync s WHERE s.ops_since >= ?1
               AND NOT EXISTS (SELECT 1 FROM chain_heads h
                               WHERE h.case_id = s.case_id AND h.top > h.seq)
             ORDER BY s.case_id",
        )?;
        let rows = stmt.query_map([min_ops as i64], |r| r.get::<_, Vec<u8>>(0))?;
        let mut out = Vec::new();
        for r in rows {
            out.push(EntityId::from_uuid(uuid_of(&r?, "case")?));
        }
        Ok(out)
    }
}

/// The small parts of a pulled page, written by its first transaction: case keys, grants,
/// held (and no longer held) and refused envelopes, certificates.
fn commit_page_extras(
    tx: &rusqlite::Transaction<'_>,
    page: &PageWrite,
    now: &str,
) -> Result<(), StoreError> {
    for k in &page.keys {
        put_key(tx, k)?;
    }
    for g in &page.grants {
        put_grant(tx, g)?;
    }
    for seq in &page.unhold {
        tx.prepare_cached("DELETE FROM held WHERE seq = ?1")?
            .execute([*seq as i64])?;
    }
    for (seq, body, reason) in &page.hold {
        tx.prepare_cached(
            "INSERT INTO held (seq, body, reason) VALUES (?1, ?2, ?3)
             ON CONFLICT (seq) DO UPDATE SET reason = excluded.reason",
        )?
        .execute(params![*seq as i64, body, reason])?;
    }
    for (seq, body, code, detail) in &page.refused {
        tx.prepare_cached(
            "INSERT INTO pull_refused (seq, body, code, detail, at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (seq) DO NOTHING",
        )?
        .execute(params![*seq as i64, body, code, detail, now])?;
    }
    for (device, cert) in &page.certs {
        tx.prepare_cached(
            "INSERT INTO certs (device, cert) VALUES (?1, ?2) ON CONFLICT (device) DO NOTHING",
        )?
        .execute(params![device.as_bytes(), cert])?;
    }
    Ok(())
}
