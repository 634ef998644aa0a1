//! The embedded SQLite backend (the default): one file `server.db`, WAL, one connection behind
//! a mutex used from `spawn_blocking`, and a second connection on its own thread that
//! checkpoints the log. Unencrypted on purpose: it holds only public keys, hashes and
//! ciphertext.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tsunagi_protocol::api::{DeviceState, KeySlot, TeamKem};
use tsunagi_protocol::wire::{PullPage, Pulled, PushResult};
use uuid::Uuid;

use super::sync::{self, Dialect, Known, ScopeParam, sql_int};
use super::{
    Approval, ApproveOutcome, BootstrapOutcome, DeviceRow, KemOutcome, Migration,
    NONCE_SWEEP_EVERY, NewDevice, Org, PageQuery, PushItem, RedeemOutcome, RotateOutcome, Storage,
    StorageError, StorageResult, TeamRow, UserRow, epoch, id16, recipient_mismatch, role, seq,
    state, uuid,
};

/// The SQLite schema, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("../../../../migrations/server/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("../../../../migrations/server/sqlite/0002_sync.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("../../../../migrations/server/sqlite/0003_author_cases.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("../../../../migrations/server/sqlite/0004_team_statements.sql"),
    },
];

/// SQLite storage.
#[derive(Debug, Clone)]
pub struct SqliteStorage {
    conn: Arc<Mutex<Connection>>,
    requests: Arc<AtomicU64>,
    push_commit_delay: Duration,
    /// Joined when the last clone is dropped.
    _checkpointer: Arc<Checkpointer>,
}

const DEVICE_SELECT: &str = "SELECT d.id, d.sig_pub, d.kem_pub, d.state, d.cert, d.enrolled_at, \
     d.approved_at, d.revoked_at, d.last_seen, u.id, u.name, u.team, u.role \
     FROM devices d JOIN users u ON u.id = d.user_id";

fn device_row(r: &Row<'_>) -> rusqlite::Result<(DeviceRaw, UserRaw)> {
    Ok((
        DeviceRaw {
            id: r.get(0)?,
            sig_pub: r.get(1)?,
            kem_pub: r.get(2)?,
            state: r.get(3)?,
            cert: r.get(4)?,
            enrolled_at: r.get(5)?,
            approved_at: r.get(6)?,
            revoked_at: r.get(7)?,
            last_seen: r.get(8)?,
        },
        UserRaw {
            id: r.get(9)?,
            name: r.get(10)?,
            team: r.get(11)?,
            role: r.get(12)?,
        },
    ))
}

struct DeviceRaw {
    id: String,
    sig_pub: Vec<u8>,
    kem_pub: Vec<u8>,
    state: String,
    cert: Option<String>,
    enrolled_at: i64,
    approved_at: Option<i64>,
    revoked_at: Option<i64>,
    last_seen: Option<i64>,
}

struct UserRaw {
    id: String,
    name: String,
    team: String,
    role: String,
}

impl UserRaw {
    fn into_user(self) -> StorageResult<UserRow> {
        Ok(UserRow {
            id: uuid(&self.id)?,
            name: self.name,
            team: self.team,
            role: role(&self.role)?,
        })
    }
}

fn into_device((d, u): (DeviceRaw, UserRaw)) -> StorageResult<DeviceRow> {
    Ok(DeviceRow {
        id: uuid(&d.id)?,
        user: u.into_user()?,
        sig_pub: d.sig_pub,
        kem_pub: d.kem_pub,
        state: state(&d.state)?,
        cert: d.cert,
        enrolled_at: d.enrolled_at,
        approved_at: d.approved_at,
        revoked_at: d.revoked_at,
        last_seen: d.last_seen,
    })
}

/// A key slot row: team, epoch, recipient, enc, ct, signer, sig.
type SlotColumns = (String, i64, String, Vec<u8>, Vec<u8>, String, Vec<u8>);

fn slot_row(r: &Row<'_>) -> rusqlite::Result<SlotColumns> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

fn into_slot((team, e, recipient, enc, ct, signer, sig): SlotColumns) -> StorageResult<KeySlot> {
    Ok(KeySlot {
        team,
        epoch: epoch(e)?,
        recipient,
        enc,
        ct,
        signer,
        sig,
    })
}

fn insert_slot(tx: &Connection, s: &KeySlot, now: i64) -> rusqlite::Result<usize> {
    tx.execute(
        "INSERT INTO key_slots (team, epoch, recipient, enc, ct, signer, sig, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING",
        params![
            s.team,
            i64::from(s.epoch),
            s.recipient,
            s.enc,
            s.ct,
            s.signer,
            s.sig,
            now
        ],
    )
}

fn team_epoch(tx: &Connection, team: &str) -> rusqlite::Result<Option<Option<i64>>> {
    tx.query_row(
        "SELECT current_epoch FROM teams WHERE id = ?1",
        [team],
        |r| r.get::<_, Option<i64>>(0),
    )
    .optional()
}

fn migrate(conn: &mut Connection) -> StorageResult<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    let supported = MIGRATIONS.last().map_or(0, |m| m.version);
    if found > supported {
        return Err(StorageError::NewerSchema { found, supported });
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > found) {
        tx.execute_batch(m.sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            params![m.version, crate::now_ms()],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Check the log this often.
const CHECKPOINT_PERIOD: Duration = Duration::from_millis(200);
/// Start the log over once it holds this many pages (16 MiB of 4 KiB pages).
const RESTART_PAGES: i64 = 4000;

/// Background WAL checkpoints. With SQLite's automatic checkpoint, the commit that crosses the
/// threshold copies the log into the file and syncs it while holding the one connection every
/// request waits for (under a push load, 15 % of the server's CPU time was checkpoints on
/// that path). Here a second connection does it on its own thread: PASSIVE never blocks a
/// writer or a reader.
#[derive(Debug)]
struct Checkpointer {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    fn start(path: &Path) -> StorageResult<Checkpointer> {
        let conn = Connection::open(path)?;
        // RESTART waits for the current writer (briefly) instead of failing at once.
        conn.busy_timeout(Duration::from_secs(2))?;
        let (stop, rx) = channel();
        let thread = std::thread::Builder::new()
            .name("tsunagi-checkpoint".into())
            .spawn(move || checkpoints(&conn, &rx))
            .map_err(|e| StorageError::Task(format!("starting the checkpoint thread: {e}")))?;
        Ok(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

fn checkpoints(conn: &Connection, stop: &Receiver<()>) {
    loop {
        match stop.recv_timeout(CHECKPOINT_PERIOD) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        // (busy, log pages, checkpointed pages). A failure (a full disk) is retried next
        // period; the last connection to close checkpoints whatever is left.
        let log: rusqlite::Result<(i64, i64, i64)> =
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            });
        // Under steady writes a PASSIVE checkpoint never copies the frames written while it
        // ran, so the log would grow without bound. Past the threshold, RESTART waits for the
        // current writer, copies the rest and makes the next write start the log over.
        if let Ok((_, pages, _)) = log
            && pages > RESTART_PAGES
        {
            let _ = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0));
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl SqliteStorage {
    /// Opens (creating) `path`, sets WAL and applies migrations.
    pub fn open(path: &Path) -> StorageResult<SqliteStorage> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // The checkpointer thread moves the log into the file; no write does it inline.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        migrate(&mut conn)?;
        let checkpointer = Checkpointer::start(path)?;
        Ok(SqliteStorage {
            conn: Arc::new(Mutex::new(conn)),
            requests: Arc::new(AtomicU64::new(0)),
            push_commit_delay: Duration::ZERO,
            _checkpointer: Arc::new(checkpointer),
        })
    }

    /// Tests only: wait this long between a push's last write and its commit, to widen the
    /// window in which a reader could see a later sequence number before an earlier one.
    #[must_use]
    pub fn with_push_commit_delay(mut self, delay: Duration) -> SqliteStorage {
        self.push_commit_delay = delay;
        self
    }

    async fn run<T, F>(&self, f: F) -> StorageResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StorageResult<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock leaves the connection usable: SQLite rolls back
            // an unfinished transaction when it is dropped.
            let mut guard = conn
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&mut guard)
        })
        .await
        .map_err(|e| StorageError::Task(e.to_string()))?
    }
}

#[async_trait]
impl Storage for SqliteStorage {
    async fn org(&self) -> StorageResult<Option<Org>> {
        self.run(|c| {
            Ok(c.query_row(
                "SELECT bootstrap_token_hash, admin_pub, org_recovery_pub, bootstrapped_at FROM org WHERE id = 1",
                [],
                |r| {
                    Ok(Org {
                        bootstrap_token_hash: r.get(0)?,
                        admin_pub: r.get(1)?,
                        org_recovery_pub: r.get(2)?,
                        bootstrapped_at: r.get(3)?,
                    })
                },
            )
            .optional()?)
        })
        .await
    }

    async fn set_bootstrap_token(&self, token_hash: [u8; 32], now: i64) -> StorageResult<bool> {
        self.run(move |c| {
            let n = c.execute(
                "INSERT INTO org (id, bootstrap_token_hash, created_at) VALUES (1, ?1, ?2) \
                 ON CONFLICT (id) DO UPDATE SET bootstrap_token_hash = excluded.bootstrap_token_hash \
                 WHERE org.bootstrapped_at IS NULL",
                params![token_hash.as_slice(), now],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn bootstrap(
        &self,
        token_hash: [u8; 32],
        admin_pub: &[u8],
        org_recovery_pub: &[u8],
        now: i64,
    ) -> StorageResult<BootstrapOutcome> {
        let (admin_pub, org_pub) = (admin_pub.to_vec(), org_recovery_pub.to_vec());
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let row: Option<(Vec<u8>, Option<i64>)> = tx
                .query_row(
                    "SELECT bootstrap_token_hash, bootstrapped_at FROM org WHERE id = 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let outcome = match row {
                None => BootstrapOutcome::WrongToken,
                Some((_, Some(_))) => BootstrapOutcome::Already,
                Some((hash, None)) if hash != token_hash => BootstrapOutcome::WrongToken,
                Some(_) => {
                    tx.execute(
                        "UPDATE org SET admin_pub = ?1, org_recovery_pub = ?2, bootstrapped_at = ?3 WHERE id = 1",
                        params![admin_pub, org_pub, now],
                    )?;
                    BootstrapOutcome::Done
                }
            };
            tx.commit()?;
            Ok(outcome)
        })
        .await
    }

    async fn record_request(
        &self,
        key: &str,
        nonce: &str,
        expires_at: i64,
        device: Option<Uuid>,
        now: i64,
    ) -> StorageResult<bool> {
        let sweep = self
            .requests
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(NONCE_SWEEP_EVERY);
        let (key, nonce) = (key.to_owned(), nonce.to_owned());
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if sweep {
                tx.execute("DELETE FROM nonces WHERE expires_at < ?1", [now])?;
            }
            // Every signed request comes here: statements prepared once.
            let fresh = tx
                .prepare_cached(
                    "INSERT INTO nonces (key, nonce, expires_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                )?
                .execute(params![key, nonce, expires_at])?
                == 1;
            if fresh && let Some(d) = device {
                tx.prepare_cached("UPDATE devices SET last_seen = ?1 WHERE id = ?2")?
                    .execute(params![now, d.to_string()])?;
            }
            tx.commit()?;
            Ok(fresh)
        })
        .await
    }

    async fn create_team(&self, team: &TeamRow, now: i64) -> StorageResult<bool> {
        let team = team.clone();
        self.run(move |c| {
            Ok(c.execute(
                "INSERT INTO teams (id, program, current_epoch, created_at) VALUES (?1, ?2, NULL, ?3) \
                 ON CONFLICT DO NOTHING",
                params![team.id, team.program, now],
            )? == 1)
        })
        .await
    }

    async fn team(&self, id: &str) -> StorageResult<Option<TeamRow>> {
        let id = id.to_owned();
        self.run(move |c| {
            let row: Option<(String, String, Option<i64>)> = c
                .query_row(
                    "SELECT id, program, current_epoch FROM teams WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            row.map(|(id, program, e)| {
                Ok(TeamRow {
                    id,
                    program,
                    current_epoch: e.map(epoch).transpose()?,
                })
            })
            .transpose()
        })
        .await
    }

    async fn create_user(&self, user: &UserRow, now: i64) -> StorageResult<()> {
        let user = user.clone();
        self.run(move |c| {
            c.execute(
                "INSERT INTO users (id, name, team, role, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    user.id.to_string(),
                    user.name,
                    user.team,
                    user.role.key(),
                    now
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn user(&self, id: Uuid) -> StorageResult<Option<UserRow>> {
        self.run(move |c| {
            let raw = c
                .query_row(
                    "SELECT id, name, team, role FROM users WHERE id = ?1",
                    [id.to_string()],
                    |r| {
                        Ok(UserRaw {
                            id: r.get(0)?,
                            name: r.get(1)?,
                            team: r.get(2)?,
                            role: r.get(3)?,
                        })
                    },
                )
                .optional()?;
            raw.map(UserRaw::into_user).transpose()
        })
        .await
    }

    async fn create_enrollment(
        &self,
        code_hash: [u8; 32],
        user: Uuid,
        expires_at: i64,
        now: i64,
    ) -> StorageResult<()> {
        self.run(move |c| {
            c.execute(
                "INSERT INTO enrollments (code_hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![code_hash.as_slice(), user.to_string(), now, expires_at],
            )?;
            Ok(())
        })
        .await
    }

    async fn redeem(
        &self,
        code_hash: [u8; 32],
        device: &NewDevice,
        now: i64,
    ) -> StorageResult<RedeemOutcome> {
        let device = device.clone();
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let row: Option<(String, i64, Option<i64>)> = tx
                .query_row(
                    "SELECT user_id, expires_at, redeemed_at FROM enrollments WHERE code_hash = ?1",
                    [code_hash.as_slice()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((user_id, expires_at, redeemed_at)) = row else {
                return Ok(RedeemOutcome::Unknown);
            };
            if redeemed_at.is_some() {
                return Ok(RedeemOutcome::Used);
            }
            if expires_at <= now {
                return Ok(RedeemOutcome::Expired);
            }
            let taken: bool = tx
                .query_row(
                    "SELECT 1 FROM devices WHERE sig_pub = ?1",
                    [&device.sig_pub],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if taken {
                return Ok(RedeemOutcome::KeyInUse);
            }
            let id_taken = tx
                .query_row(
                    "SELECT 1 FROM devices WHERE id = ?1",
                    [device.id.to_string()],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if id_taken {
                return Ok(RedeemOutcome::IdInUse);
            }
            tx.execute(
                "INSERT INTO devices (id, user_id, sig_pub, kem_pub, state, enrolled_at) \
                 VALUES (?1, ?2, ?3, ?4, 'pending', ?5)",
                params![
                    device.id.to_string(),
                    user_id,
                    device.sig_pub,
                    device.kem_pub,
                    now
                ],
            )?;
            let n = tx.execute(
                "UPDATE enrollments SET redeemed_at = ?1, device = ?2 WHERE code_hash = ?3 AND redeemed_at IS NULL",
                params![now, device.id.to_string(), code_hash.as_slice()],
            )?;
            if n != 1 {
                return Ok(RedeemOutcome::Used);
            }
            let user = tx
                .query_row(
                    "SELECT id, name, team, role FROM users WHERE id = ?1",
                    [&user_id],
                    |r| {
                        Ok(UserRaw {
                            id: r.get(0)?,
                            name: r.get(1)?,
                            team: r.get(2)?,
                            role: r.get(3)?,
                        })
                    },
                )?
                .into_user()?;
            tx.commit()?;
            Ok(RedeemOutcome::Enrolled(user))
        })
        .await
    }

    async fn device(&self, id: Uuid) -> StorageResult<Option<DeviceRow>> {
        self.run(move |c| {
            let raw = c
                .prepare_cached(&format!("{DEVICE_SELECT} WHERE d.id = ?1"))?
                .query_row([id.to_string()], device_row)
                .optional()?;
            raw.map(into_device).transpose()
        })
        .await
    }

    async fn devices(&self, team: Option<&str>) -> StorageResult<Vec<DeviceRow>> {
        let team = team.map(str::to_owned);
        self.run(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "{DEVICE_SELECT} WHERE (?1 IS NULL OR u.team = ?1) ORDER BY d.enrolled_at, d.id"
            ))?;
            let rows = stmt
                .query_map([team], device_row)?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(into_device).collect()
        })
        .await
    }

    async fn device_counts(&self) -> StorageResult<Vec<(DeviceState, i64)>> {
        self.run(|c| {
            let mut stmt =
                c.prepare_cached("SELECT state, COUNT(*) FROM devices GROUP BY state")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(|(s, n)| Ok((state(&s)?, n))).collect()
        })
        .await
    }

    async fn approve(&self, a: &Approval, now: i64) -> StorageResult<ApproveOutcome> {
        let a = a.clone();
        let (device, epoch, creates_epoch) = (a.device, a.epoch, a.creates_epoch);
        let (team, cert, slots) = (a.team, a.cert_json, a.slots);
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let current = team_epoch(&tx, &team)?.flatten();
            let expected = if creates_epoch { None } else { Some(i64::from(epoch)) };
            if current != expected {
                return Ok(ApproveOutcome::EpochChanged);
            }
            let n = tx.execute(
                "UPDATE devices SET state = 'active', cert = ?1, approved_at = ?2 WHERE id = ?3 AND state = 'pending'",
                params![cert, now, device.to_string()],
            )?;
            if n != 1 {
                return Ok(ApproveOutcome::NotPending);
            }
            for s in &slots {
                insert_slot(&tx, s, now)?;
            }
            if creates_epoch {
                tx.execute(
                    "UPDATE teams SET current_epoch = ?1 WHERE id = ?2",
                    params![i64::from(epoch), team],
                )?;
            }
            tx.commit()?;
            Ok(ApproveOutcome::Approved)
        })
        .await
    }

    async fn revoke(&self, device: Uuid, now: i64) -> StorageResult<bool> {
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let exists = tx
                .query_row("SELECT 1 FROM devices WHERE id = ?1", [device.to_string()], |_| Ok(()))
                .optional()?
                .is_some();
            tx.execute(
                "UPDATE devices SET state = 'revoked', revoked_at = ?1 WHERE id = ?2 AND state <> 'revoked'",
                params![now, device.to_string()],
            )?;
            tx.commit()?;
            Ok(exists)
        })
        .await
    }

    async fn rotate(
        &self,
        team: &str,
        new_epoch: u32,
        slots: &[KeySlot],
        now: i64,
    ) -> StorageResult<RotateOutcome> {
        let (team, slots) = (team.to_owned(), slots.to_vec());
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let current = team_epoch(&tx, &team)?.flatten().unwrap_or(0);
            if current + 1 != i64::from(new_epoch) {
                return Ok(RotateOutcome::EpochChanged);
            }
            let mut expected: Vec<String> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT d.id FROM devices d JOIN users u ON u.id = d.user_id \
                     WHERE u.team = ?1 AND d.state = 'active'",
                )?;
                stmt.query_map([&team], |r| r.get::<_, String>(0))?
                    .collect::<Result<_, _>>()?
            };
            expected.push("org".into());
            if let Some((missing, extra)) = recipient_mismatch(&expected, &slots) {
                return Ok(RotateOutcome::Recipients { missing, extra });
            }
            for s in &slots {
                insert_slot(&tx, s, now)?;
            }
            tx.execute(
                "UPDATE teams SET current_epoch = ?1 WHERE id = ?2",
                params![i64::from(new_epoch), team],
            )?;
            tx.commit()?;
            Ok(RotateOutcome::Rotated)
        })
        .await
    }

    async fn slots_for(&self, recipient: &str) -> StorageResult<Vec<KeySlot>> {
        let recipient = recipient.to_owned();
        self.run(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT team, epoch, recipient, enc, ct, signer, sig FROM key_slots \
                 WHERE recipient = ?1 ORDER BY team, epoch",
            )?;
            let rows = stmt
                .query_map([recipient], slot_row)?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(into_slot).collect()
        })
        .await
    }

    async fn slots_of(&self, team: &str, e: u32) -> StorageResult<Vec<KeySlot>> {
        let team = team.to_owned();
        self.run(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT team, epoch, recipient, enc, ct, signer, sig FROM key_slots \
                 WHERE team = ?1 AND epoch = ?2 ORDER BY recipient",
            )?;
            let rows = stmt
                .query_map(params![team, i64::from(e)], slot_row)?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(into_slot).collect()
        })
        .await
    }

    async fn push(
        &self,
        team: &str,
        items: Vec<PushItem>,
        now: i64,
    ) -> StorageResult<Vec<PushResult>> {
        let team = team.to_owned();
        let delay = self.push_commit_delay;
        self.run(move |c| {
            // IMMEDIATE: the one writer from the first read, so the head and every check hold
            // until commit.
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let needs = sync::needs(&items);
            let mut k = Known {
                head: head_of(&tx)?,
                ..Known::default()
            };
            {
                let mut st = tx.prepare_cached("SELECT seq FROM envelopes WHERE id = ?1")?;
                for id in &needs.ids {
                    if let Some(s) = st.query_row([id], |r| r.get::<_, i64>(0)).optional()? {
                        k.seqs.insert(id16(id)?, seq(s)?);
                    }
                }
                let mut owner = tx.prepare_cached("SELECT owner FROM cases WHERE case_id = ?1")?;
                let mut keys =
                    tx.prepare_cached("SELECT epoch, key_id FROM case_keys WHERE case_id = ?1")?;
                for case in &needs.cases {
                    let c16 = id16(case)?;
                    if let Some(o) = owner.query_row([case], |r| r.get::<_, String>(0)).optional()? {
                        k.owners.insert(c16, o);
                    }
                    let rows = keys
                        .query_map([case], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?
                        .collect::<Result<Vec<_>, _>>()?;
                    for (e, kid) in rows {
                        k.keys.insert((c16, epoch(e)?), id16(&kid)?);
                    }
                }
                let mut team_st = tx.prepare_cached("SELECT 1 FROM teams WHERE id = ?1")?;
                for t in &needs.teams {
                    if team_st.query_row([t], |_| Ok(())).optional()?.is_some() {
                        k.teams.insert(t.clone());
                    }
                }
            }
            let (results, w) = sync::plan(&team, items, k);
            {
                let mut ins = tx.prepare_cached(
                    "INSERT INTO envelopes (seq, id, kind, case_id, owner, target, epoch, author, body, received_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )?;
                for e in &w.envelopes {
                    ins.execute(params![
                        e.seq,
                        e.id.as_slice(),
                        e.kind.key(),
                        e.case.as_slice(),
                        e.owner,
                        e.target,
                        e.epoch,
                        e.author,
                        e.body,
                        now
                    ])?;
                }
                let mut ins = tx.prepare_cached(
                    "INSERT INTO cases (case_id, owner, created_seq) VALUES (?1, ?2, ?3)",
                )?;
                for (case, owner, s) in &w.cases {
                    ins.execute(params![case.as_slice(), owner, s])?;
                }
                let mut ins = tx.prepare_cached(
                    "INSERT INTO case_keys (case_id, epoch, key_id, seq) VALUES (?1, ?2, ?3, ?4)",
                )?;
                for (case, e, kid, s) in &w.keys {
                    ins.execute(params![case.as_slice(), e, kid.as_slice(), s])?;
                }
                let mut ins = tx.prepare_cached(
                    "INSERT INTO grants (case_id, team, from_epoch, until_epoch, seq) VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (case_id, team) DO UPDATE SET from_epoch = excluded.from_epoch, \
                     until_epoch = excluded.until_epoch, seq = excluded.seq",
                )?;
                for g in &w.grants {
                    ins.execute(params![g.case.as_slice(), g.team, g.from, g.until, g.seq])?;
                }
                let mut ins = tx.prepare_cached(
                    "INSERT INTO snapshots (seq, case_id, owner, epoch, covers) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for s in &w.snapshots {
                    ins.execute(params![s.seq, s.case.as_slice(), s.owner, s.epoch, s.covers])?;
                }
            }
            if !delay.is_zero() {
                std::thread::sleep(delay);
            }
            tx.commit()?;
            Ok(results)
        })
        .await
    }

    async fn page(&self, q: &PageQuery) -> StorageResult<PullPage> {
        let q = q.clone();
        self.run(move |c| {
            // Every statement runs under the connection mutex: no write comes between them.
            let head_before = head_of(c)?;
            let mut st = c.prepare_cached(&sync::page_sql(Dialect::Sqlite, &q.scope))?;
            let (team, since, lim) = (&q.team, sql_int(q.since), sync::fetch_limit(&q));
            let row = |r: &Row<'_>| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?));
            let candidates = match sync::scope_param(&q.scope) {
                ScopeParam::None => st.query_map(params![team, since, lim], row)?,
                ScopeParam::Int(v) => st.query_map(params![team, since, lim, v], row)?,
                ScopeParam::Bytes(b) => st.query_map(params![team, since, lim, b], row)?,
                ScopeParam::BytesInt(b, v) => st.query_map(params![team, since, lim, b, v], row)?,
            }
            .collect::<Result<Vec<_>, _>>()?;
            let (seqs, more) = sync::cut(&q, &candidates);
            let mut body = c.prepare_cached("SELECT body FROM envelopes WHERE seq = ?1")?;
            let items = seqs
                .iter()
                .map(|s| {
                    Ok(Pulled {
                        seq: seq(*s)?,
                        body: body.query_row([s], |r| r.get(0))?,
                    })
                })
                .collect::<StorageResult<Vec<_>>>()?;
            Ok(PullPage {
                next: sync::next_cursor(&q, items.last().map(|p| p.seq), more, head_before),
                more,
                items,
            })
        })
        .await
    }

    async fn head(&self) -> StorageResult<u64> {
        self.run(|c| head_of(c)).await
    }

    async fn cases_of_user(
        &self,
        user: Uuid,
        team: &str,
        as_of: u64,
    ) -> StorageResult<Vec<[u8; 16]>> {
        let team = team.to_owned();
        self.run(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT DISTINCT e.case_id FROM devices d \
                 JOIN envelopes e ON e.author = d.id AND e.kind = 'change' \
                 WHERE d.user_id = ?1 AND e.owner = ?2 AND e.seq <= ?3 \
                 ORDER BY e.case_id",
            )?;
            let rows = stmt
                .query_map(params![user.to_string(), team, sync::sql_int(as_of)], |r| {
                    r.get::<_, Vec<u8>>(0)
                })?;
            let mut out = Vec::new();
            for r in rows {
                out.push(case_bytes(r?)?);
            }
            Ok(out)
        })
        .await
    }

    async fn put_team_kem(&self, kem: &TeamKem, now: i64) -> StorageResult<KemOutcome> {
        let kem = kem.clone();
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let n = tx.execute(
                "INSERT INTO team_kems (team, epoch, kem_pub, device, sig, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                params![
                    kem.team,
                    i64::from(kem.epoch),
                    kem.kem_pub,
                    kem.device.to_string(),
                    kem.sig,
                    now
                ],
            )?;
            let outcome = if n == 1 {
                KemOutcome::Stored
            } else {
                let kept = tx.query_row(
                    "SELECT team, epoch, kem_pub, device, sig FROM team_kems WHERE team = ?1 AND epoch = ?2",
                    params![kem.team, i64::from(kem.epoch)],
                    kem_row,
                )?;
                let kept = into_kem(kept)?;
                if kept.kem_pub == kem.kem_pub {
                    KemOutcome::Same
                } else {
                    KemOutcome::Different(kept)
                }
            };
            tx.commit()?;
            Ok(outcome)
        })
        .await
    }

    async fn team_kem(&self, team: &str) -> StorageResult<Option<TeamKem>> {
        let team = team.to_owned();
        self.run(move |c| {
            c.query_row(
                "SELECT team, epoch, kem_pub, device, sig FROM team_kems WHERE team = ?1 \
                 ORDER BY epoch DESC LIMIT 1",
                [team],
                kem_row,
            )
            .optional()?
            .map(into_kem)
            .transpose()
        })
        .await
    }

    async fn put_statement(
        &self,
        team: &str,
        version: u64,
        body: &str,
        now: i64,
    ) -> StorageResult<bool> {
        let (team, body) = (team.to_owned(), body.to_owned());
        let version = i64::try_from(version)
            .map_err(|_| StorageError::Corrupt("statement version".into()))?;
        self.run(move |c| {
            let n = c.execute(
                "INSERT INTO team_statements (team, version, body, stored_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (team) DO UPDATE SET version = excluded.version, body = excluded.body, \
                 stored_at = excluded.stored_at WHERE excluded.version > team_statements.version",
                params![team, version, body, now],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn statement(&self, team: &str) -> StorageResult<Option<String>> {
        let team = team.to_owned();
        self.run(move |c| {
            Ok(c.query_row(
                "SELECT body FROM team_statements WHERE team = ?1",
                [team],
                |r| r.get(0),
            )
            .optional()?)
        })
        .await
    }
}

/// A team KEM row: team, epoch, kem_pub, device, sig.
type KemColumns = (String, i64, Vec<u8>, String, Vec<u8>);

fn kem_row(r: &Row<'_>) -> rusqlite::Result<KemColumns> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn into_kem((team, e, kem_pub, device, sig): KemColumns) -> StorageResult<TeamKem> {
    Ok(TeamKem {
        team,
        epoch: epoch(e)?,
        kem_pub,
        device: uuid(&device)?,
        sig,
    })
}

/// The highest sequence number committed, as `c` sees it (0 for an empty log).
/// A stored case id (16 bytes; anything else is a damaged row).
fn case_bytes(v: Vec<u8>) -> StorageResult<[u8; 16]> {
    v.try_into()
        .map_err(|_| StorageError::Corrupt("a stored case id is not 16 bytes".into()))
}

fn head_of(c: &Connection) -> StorageResult<u64> {
    seq(c
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM envelopes")?
        .query_row([], |r| r.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(path: &Path) -> u64 {
        std::fs::metadata(path).map_or(0, |m| m.len())
    }

    /// No write checkpoints inline (`wal_autocheckpoint = 0`): without the background thread
    /// the log would grow for ever and the main file would never receive the data.
    #[tokio::test]
    async fn the_background_thread_moves_the_log_into_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.db");
        let storage = SqliteStorage::open(&path).unwrap();
        for i in 0..300 {
            let team = TeamRow {
                id: format!("team-{i:03}-{}", "x".repeat(200)),
                program: "csw".into(),
                current_epoch: None,
            };
            assert!(storage.create_team(&team, 1).await.unwrap());
        }
        // The schema and 300 teams are well over 100 KiB of pages.
        let mut moved = false;
        for _ in 0..100 {
            if size(&path) > 100 * 1024 {
                moved = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(moved, "server.db is {} bytes after 5 s", size(&path));
        drop(storage);
        // Closing the last connection (after the thread is joined) leaves no log behind, and
        // every row is in the file.
        assert_eq!(size(&dir.path().join("server.db-wal")), 0);
        let c = Connection::open(&path).unwrap();
        let n: i64 = c
            .query_row("SELECT COUNT(*) FROM teams", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 300);
    }
}
