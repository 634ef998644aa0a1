//! The PostgreSQL backend (scale-out: several stateless servers share one database):
//! `tokio-postgres` with a `deadpool-postgres` pool. Rows that decide an atomic operation are
//! locked with `SELECT ... FOR UPDATE`, so concurrent instances cannot both win.

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Pool, Runtime};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row, Statement};
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

/// The PostgreSQL schema, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("../../../../migrations/server/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("../../../../migrations/server/postgres/0002_sync.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("../../../../migrations/server/postgres/0003_author_cases.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("../../../../migrations/server/postgres/0004_team_statements.sql"),
    },
];

/// Serializes migrations of several instances starting at once (`pg_advisory_xact_lock`).
const MIGRATION_LOCK: i64 = 0x7473_756e_6167_6901;

/// The envelope log's lock: every push transaction takes `pg_advisory_xact_lock` on it before
/// it reads the head, and holds it until commit, so sequence numbers are assigned and become
/// visible in the same order (docs/server.md "Envelope storage").
pub const ENVELOPE_LOG_LOCK: i64 = 0x7473_756e_6167_6902;

/// PostgreSQL storage.
#[derive(Clone)]
pub struct PostgresStorage {
    pool: Pool,
    requests: Arc<AtomicU64>,
    push_commit_delay: Duration,
}

impl std::fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStorage").finish_non_exhaustive()
    }
}

const DEVICE_SELECT: &str = "SELECT d.id, d.sig_pub, d.kem_pub, d.state, d.cert, d.enrolled_at, \
     d.approved_at, d.revoked_at, d.last_seen, u.id, u.name, u.team, u.role \
     FROM devices d JOIN users u ON u.id = d.user_id";

fn pool_err(e: impl std::fmt::Display) -> StorageError {
    StorageError::Pool(e.to_string())
}

fn user_of(r: &Row, at: usize) -> StorageResult<UserRow> {
    Ok(UserRow {
        id: uuid(r.try_get(at)?)?,
        name: r.try_get(at + 1)?,
        team: r.try_get(at + 2)?,
        role: role(r.try_get(at + 3)?)?,
    })
}

fn device_of(r: &Row) -> StorageResult<DeviceRow> {
    Ok(DeviceRow {
        id: uuid(r.try_get(0)?)?,
        sig_pub: r.try_get(1)?,
        kem_pub: r.try_get(2)?,
        state: state(r.try_get(3)?)?,
        cert: r.try_get(4)?,
        enrolled_at: r.try_get(5)?,
        approved_at: r.try_get(6)?,
        revoked_at: r.try_get(7)?,
        last_seen: r.try_get(8)?,
        user: user_of(r, 9)?,
    })
}

fn slot_of(r: &Row) -> StorageResult<KeySlot> {
    Ok(KeySlot {
        team: r.try_get(0)?,
        epoch: epoch(r.try_get(1)?)?,
        recipient: r.try_get(2)?,
        enc: r.try_get(3)?,
        ct: r.try_get(4)?,
        signer: r.try_get(5)?,
        sig: r.try_get(6)?,
    })
}

async fn insert_slot(c: &impl GenericClient, s: &KeySlot, now: i64) -> StorageResult<()> {
    c.execute(
        "INSERT INTO key_slots (team, epoch, recipient, enc, ct, signer, sig, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        &[
            &s.team,
            &i64::from(s.epoch),
            &s.recipient,
            &s.enc,
            &s.ct,
            &s.signer,
            &s.sig,
            &now,
        ],
    )
    .await?;
    Ok(())
}

/// The team's current epoch, locking the team row until the transaction ends.
async fn lock_team(c: &impl GenericClient, team: &str) -> StorageResult<Option<Option<i64>>> {
    Ok(c.query_opt(
        "SELECT current_epoch FROM teams WHERE id = $1 FOR UPDATE",
        &[&team],
    )
    .await?
    .map(|r| r.try_get::<_, Option<i64>>(0))
    .transpose()?)
}

/// Server options of every connection (PostgreSQL 12 or later).
const CUSTOM_PLANS: &str = "-c plan_cache_mode=force_custom_plan";

impl PostgresStorage {
    /// Connects to `url` (`postgres://user@host:port/db`) and applies migrations.
    pub async fn connect(url: &str) -> StorageResult<PostgresStorage> {
        let mut pg: tokio_postgres::Config = url.parse()?;
        // Statements are prepared once per connection (a round trip fewer each time), but a
        // prepared statement's generic plan follows the statistics of the moment it is made:
        // made while the log was nearly empty, a push's id lookup scanned the whole envelopes
        // table (638 sequential scans reading 6.1 million rows in a 10 s load). Each execution
        // is planned with its parameters instead, as an unprepared statement would be.
        let options = match pg.get_options() {
            Some(o) if !o.trim().is_empty() => format!("{o} {CUSTOM_PLANS}"),
            _ => CUSTOM_PLANS.to_owned(),
        };
        pg.options(&options);
        let mgr = deadpool_postgres::Manager::from_config(
            pg,
            NoTls,
            deadpool_postgres::ManagerConfig {
                recycling_method: deadpool_postgres::RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(mgr)
            .max_size(16)
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(pool_err)?;
        let s = PostgresStorage {
            pool,
            requests: Arc::new(AtomicU64::new(0)),
            push_commit_delay: Duration::ZERO,
        };
        s.migrate().await?;
        Ok(s)
    }

    async fn migrate(&self) -> StorageResult<()> {
        let mut c = self.pool.get().await.map_err(pool_err)?;
        let tx = c.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .await?;
        let found: i64 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations",
                &[],
            )
            .await?
            .try_get(0)?;
        let supported = MIGRATIONS.last().map_or(0, |m| m.version);
        if found > supported {
            return Err(StorageError::NewerSchema { found, supported });
        }
        for m in MIGRATIONS.iter().filter(|m| m.version > found) {
            tx.batch_execute(m.sql).await?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                &[&m.version, &crate::now_ms()],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Tests only: wait this long between a push's last write and its commit (holding the
    /// envelope log lock), to widen the window in which a reader could see a later sequence
    /// number before an earlier one if the lock were missing.
    #[must_use]
    pub fn with_push_commit_delay(mut self, delay: Duration) -> PostgresStorage {
        self.push_commit_delay = delay;
        self
    }

    async fn client(&self) -> StorageResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(pool_err)
    }
}

#[async_trait]
impl Storage for PostgresStorage {
    async fn org(&self) -> StorageResult<Option<Org>> {
        let c = self.client().await?;
        let row = c
            .query_opt(
                "SELECT bootstrap_token_hash, admin_pub, org_recovery_pub, bootstrapped_at FROM org WHERE id = 1",
                &[],
            )
            .await?;
        row.map(|r| {
            Ok(Org {
                bootstrap_token_hash: r.try_get(0)?,
                admin_pub: r.try_get(1)?,
                org_recovery_pub: r.try_get(2)?,
                bootstrapped_at: r.try_get(3)?,
            })
        })
        .transpose()
    }

    async fn set_bootstrap_token(&self, token_hash: [u8; 32], now: i64) -> StorageResult<bool> {
        let c = self.client().await?;
        let n = c
            .execute(
                "INSERT INTO org (id, bootstrap_token_hash, created_at) VALUES (1, $1, $2) \
                 ON CONFLICT (id) DO UPDATE SET bootstrap_token_hash = excluded.bootstrap_token_hash \
                 WHERE org.bootstrapped_at IS NULL",
                &[&token_hash.as_slice(), &now],
            )
            .await?;
        Ok(n == 1)
    }

    async fn bootstrap(
        &self,
        token_hash: [u8; 32],
        admin_pub: &[u8],
        org_recovery_pub: &[u8],
        now: i64,
    ) -> StorageResult<BootstrapOutcome> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let row = tx
            .query_opt(
                "SELECT bootstrap_token_hash, bootstrapped_at FROM org WHERE id = 1 FOR UPDATE",
                &[],
            )
            .await?;
        let outcome = match row {
            None => BootstrapOutcome::WrongToken,
            Some(r) => {
                let hash: Vec<u8> = r.try_get(0)?;
                let at: Option<i64> = r.try_get(1)?;
                if at.is_some() {
                    BootstrapOutcome::Already
                } else if hash != token_hash {
                    BootstrapOutcome::WrongToken
                } else {
                    tx.execute(
                        "UPDATE org SET admin_pub = $1, org_recovery_pub = $2, bootstrapped_at = $3 WHERE id = 1",
                        &[&admin_pub, &org_recovery_pub, &now],
                    )
                    .await?;
                    BootstrapOutcome::Done
                }
            }
        };
        tx.commit().await?;
        Ok(outcome)
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
        let c = self.client().await?;
        if sweep {
            c.execute("DELETE FROM nonces WHERE expires_at < $1", &[&now])
                .await?;
        }
        // One statement: the nonce insert and the last_seen update commit together.
        let device = device.map(|d| d.to_string());
        // Every signed request comes here: prepared once per connection.
        let st = c
            .prepare_cached(
                "WITH n AS (INSERT INTO nonces (key, nonce, expires_at) VALUES ($1, $2, $3) \
                   ON CONFLICT DO NOTHING RETURNING 1), \
                 u AS (UPDATE devices SET last_seen = $4 WHERE id = $5 AND EXISTS (SELECT 1 FROM n) RETURNING 1) \
                 SELECT (SELECT COUNT(*) FROM n)::BIGINT",
            )
            .await?;
        let row = c
            .query_one(&st, &[&key, &nonce, &expires_at, &now, &device])
            .await?;
        Ok(row.try_get::<_, i64>(0)? == 1)
    }

    async fn create_team(&self, team: &TeamRow, now: i64) -> StorageResult<bool> {
        let c = self.client().await?;
        let n = c
            .execute(
                "INSERT INTO teams (id, program, current_epoch, created_at) VALUES ($1, $2, NULL, $3) \
                 ON CONFLICT DO NOTHING",
                &[&team.id, &team.program, &now],
            )
            .await?;
        Ok(n == 1)
    }

    async fn team(&self, id: &str) -> StorageResult<Option<TeamRow>> {
        let c = self.client().await?;
        let row = c
            .query_opt(
                "SELECT id, program, current_epoch FROM teams WHERE id = $1",
                &[&id],
            )
            .await?;
        row.map(|r| {
            Ok(TeamRow {
                id: r.try_get(0)?,
                program: r.try_get(1)?,
                current_epoch: r.try_get::<_, Option<i64>>(2)?.map(epoch).transpose()?,
            })
        })
        .transpose()
    }

    async fn create_user(&self, user: &UserRow, now: i64) -> StorageResult<()> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO users (id, name, team, role, created_at) VALUES ($1, $2, $3, $4, $5)",
            &[
                &user.id.to_string(),
                &user.name,
                &user.team,
                &user.role.key(),
                &now,
            ],
        )
        .await?;
        Ok(())
    }

    async fn user(&self, id: Uuid) -> StorageResult<Option<UserRow>> {
        let c = self.client().await?;
        let row = c
            .query_opt(
                "SELECT id, name, team, role FROM users WHERE id = $1",
                &[&id.to_string()],
            )
            .await?;
        row.map(|r| user_of(&r, 0)).transpose()
    }

    async fn create_enrollment(
        &self,
        code_hash: [u8; 32],
        user: Uuid,
        expires_at: i64,
        now: i64,
    ) -> StorageResult<()> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO enrollments (code_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
            &[&code_hash.as_slice(), &user.to_string(), &now, &expires_at],
        )
        .await?;
        Ok(())
    }

    async fn redeem(
        &self,
        code_hash: [u8; 32],
        device: &NewDevice,
        now: i64,
    ) -> StorageResult<RedeemOutcome> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let Some(row) = tx
            .query_opt(
                "SELECT user_id, expires_at, redeemed_at FROM enrollments WHERE code_hash = $1 FOR UPDATE",
                &[&code_hash.as_slice()],
            )
            .await?
        else {
            return Ok(RedeemOutcome::Unknown);
        };
        let user_id: String = row.try_get(0)?;
        let expires_at: i64 = row.try_get(1)?;
        let redeemed_at: Option<i64> = row.try_get(2)?;
        if redeemed_at.is_some() {
            return Ok(RedeemOutcome::Used);
        }
        if expires_at <= now {
            return Ok(RedeemOutcome::Expired);
        }
        // Either unique column (id, sig_pub) may clash, also with an enrollment committing
        // meanwhile (the insert waits for it); which one did is read after.
        let inserted = tx
            .execute(
                "INSERT INTO devices (id, user_id, sig_pub, kem_pub, state, enrolled_at) \
                 VALUES ($1, $2, $3, $4, 'pending', $5) ON CONFLICT DO NOTHING",
                &[
                    &device.id.to_string(),
                    &user_id,
                    &device.sig_pub,
                    &device.kem_pub,
                    &now,
                ],
            )
            .await?;
        if inserted != 1 {
            let key_taken = tx
                .query_opt(
                    "SELECT 1 FROM devices WHERE sig_pub = $1",
                    &[&device.sig_pub],
                )
                .await?
                .is_some();
            return Ok(if key_taken {
                RedeemOutcome::KeyInUse
            } else {
                RedeemOutcome::IdInUse
            });
        }
        let n = tx
            .execute(
                "UPDATE enrollments SET redeemed_at = $1, device = $2 WHERE code_hash = $3 AND redeemed_at IS NULL",
                &[&now, &device.id.to_string(), &code_hash.as_slice()],
            )
            .await?;
        if n != 1 {
            return Ok(RedeemOutcome::Used);
        }
        let user = tx
            .query_one(
                "SELECT id, name, team, role FROM users WHERE id = $1",
                &[&user_id],
            )
            .await?;
        let user = user_of(&user, 0)?;
        tx.commit().await?;
        Ok(RedeemOutcome::Enrolled(user))
    }

    async fn device(&self, id: Uuid) -> StorageResult<Option<DeviceRow>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!("{DEVICE_SELECT} WHERE d.id = $1"))
            .await?;
        let row = c.query_opt(&stmt, &[&id.to_string()]).await?;
        row.as_ref().map(device_of).transpose()
    }

    async fn devices(&self, team: Option<&str>) -> StorageResult<Vec<DeviceRow>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "{DEVICE_SELECT} WHERE ($1::TEXT IS NULL OR u.team = $1) ORDER BY d.enrolled_at, d.id"
            ))
            .await?;
        let rows = c.query(&stmt, &[&team]).await?;
        rows.iter().map(device_of).collect()
    }

    async fn device_counts(&self) -> StorageResult<Vec<(DeviceState, i64)>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT state, COUNT(*)::BIGINT FROM devices GROUP BY state",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((state(r.try_get(0)?)?, r.try_get(1)?)))
            .collect()
    }

    async fn approve(&self, a: &Approval, now: i64) -> StorageResult<ApproveOutcome> {
        let (device, team, cert_json, slots, e, creates_epoch) = (
            a.device,
            a.team.as_str(),
            a.cert_json.as_str(),
            &a.slots,
            a.epoch,
            a.creates_epoch,
        );
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let current = lock_team(&tx, team).await?.flatten();
        let expected = if creates_epoch {
            None
        } else {
            Some(i64::from(e))
        };
        if current != expected {
            return Ok(ApproveOutcome::EpochChanged);
        }
        let n = tx
            .execute(
                "UPDATE devices SET state = 'active', cert = $1, approved_at = $2 WHERE id = $3 AND state = 'pending'",
                &[&cert_json, &now, &device.to_string()],
            )
            .await?;
        if n != 1 {
            return Ok(ApproveOutcome::NotPending);
        }
        for s in slots {
            insert_slot(&tx, s, now).await?;
        }
        if creates_epoch {
            tx.execute(
                "UPDATE teams SET current_epoch = $1 WHERE id = $2",
                &[&i64::from(e), &team],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(ApproveOutcome::Approved)
    }

    async fn revoke(&self, device: Uuid, now: i64) -> StorageResult<bool> {
        let c = self.client().await?;
        let row = c
            .query_opt(
                "UPDATE devices SET state = 'revoked', revoked_at = COALESCE(revoked_at, $1) \
                 WHERE id = $2 RETURNING 1",
                &[&now, &device.to_string()],
            )
            .await?;
        Ok(row.is_some())
    }

    async fn rotate(
        &self,
        team: &str,
        new_epoch: u32,
        slots: &[KeySlot],
        now: i64,
    ) -> StorageResult<RotateOutcome> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let current = lock_team(&tx, team).await?.flatten().unwrap_or(0);
        if current + 1 != i64::from(new_epoch) {
            return Ok(RotateOutcome::EpochChanged);
        }
        // Approvals lock the team row too, so the active set cannot change under us.
        let rows = tx
            .query(
                "SELECT d.id FROM devices d JOIN users u ON u.id = d.user_id \
                 WHERE u.team = $1 AND d.state = 'active'",
                &[&team],
            )
            .await?;
        let mut expected = rows
            .iter()
            .map(|r| r.try_get::<_, String>(0))
            .collect::<Result<Vec<_>, _>>()?;
        expected.push("org".into());
        if let Some((missing, extra)) = recipient_mismatch(&expected, slots) {
            return Ok(RotateOutcome::Recipients { missing, extra });
        }
        for s in slots {
            insert_slot(&tx, s, now).await?;
        }
        tx.execute(
            "UPDATE teams SET current_epoch = $1 WHERE id = $2",
            &[&i64::from(new_epoch), &team],
        )
        .await?;
        tx.commit().await?;
        Ok(RotateOutcome::Rotated)
    }

    async fn slots_for(&self, recipient: &str) -> StorageResult<Vec<KeySlot>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "SELECT team, epoch, recipient, enc, ct, signer, sig FROM key_slots \
                 WHERE recipient = $1 ORDER BY team, epoch",
            )
            .await?;
        let rows = c.query(&stmt, &[&recipient]).await?;
        rows.iter().map(slot_of).collect()
    }

    async fn slots_of(&self, team: &str, e: u32) -> StorageResult<Vec<KeySlot>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT team, epoch, recipient, enc, ct, signer, sig FROM key_slots \
                 WHERE team = $1 AND epoch = $2 ORDER BY recipient",
                &[&team, &i64::from(e)],
            )
            .await?;
        rows.iter().map(slot_of).collect()
    }

    async fn push(
        &self,
        team: &str,
        items: Vec<PushItem>,
        now: i64,
    ) -> StorageResult<Vec<PushResult>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        // The statements of every push are prepared once per connection (unprepared, each
        // would cost a second round trip while the log lock is held).
        let (lock, ids, owners, keys, teams) = tokio::try_join!(
            tx.prepare_cached("SELECT pg_advisory_xact_lock($1)"),
            tx.prepare_cached("SELECT id, seq FROM envelopes WHERE id = ANY($1)"),
            tx.prepare_cached("SELECT case_id, owner FROM cases WHERE case_id = ANY($1)"),
            tx.prepare_cached(
                "SELECT case_id, epoch, key_id FROM case_keys WHERE case_id = ANY($1)"
            ),
            tx.prepare_cached("SELECT id FROM teams WHERE id = ANY($1)"),
        )?;
        let needs = sync::needs(&items);
        // The lock before anything is read: the head and every check below hold until commit,
        // and no other push can commit a smaller seq after ours became visible. The reads are
        // sent with it in one pipeline (one round trip instead of six while the lock is held):
        // the server runs a connection's statements in order, so they run once it is granted.
        let (_, head, id_rows, owner_rows, key_rows, team_rows) = tokio::try_join!(
            rows(&tx, &lock, &ENVELOPE_LOG_LOCK),
            head_of(&tx),
            rows(&tx, &ids, &needs.ids),
            rows(&tx, &owners, &needs.cases),
            rows(&tx, &keys, &needs.cases),
            rows(&tx, &teams, &needs.teams),
        )?;
        let mut k = Known {
            head,
            ..Known::default()
        };
        for r in id_rows {
            k.seqs.insert(id16(r.try_get(0)?)?, seq(r.try_get(1)?)?);
        }
        for r in owner_rows {
            k.owners.insert(id16(r.try_get(0)?)?, r.try_get(1)?);
        }
        for r in key_rows {
            k.keys.insert(
                (id16(r.try_get(0)?)?, epoch(r.try_get(1)?)?),
                id16(r.try_get(2)?)?,
            );
        }
        for r in team_rows {
            k.teams.insert(r.try_get(0)?);
        }
        let (results, mut w) = sync::plan(team, items, k);
        if !w.envelopes.is_empty() {
            let e = &mut w.envelopes;
            let seqs: Vec<i64> = e.iter().map(|e| e.seq).collect();
            let ids: Vec<&[u8]> = e.iter().map(|e| e.id.as_slice()).collect();
            let kinds: Vec<&str> = e.iter().map(|e| e.kind.key()).collect();
            let cases: Vec<&[u8]> = e.iter().map(|e| e.case.as_slice()).collect();
            let owners: Vec<&str> = e.iter().map(|e| e.owner.as_str()).collect();
            let targets: Vec<Option<&str>> = e.iter().map(|e| e.target.as_deref()).collect();
            let epochs: Vec<i64> = e.iter().map(|e| e.epoch).collect();
            let authors: Vec<&str> = e.iter().map(|e| e.author.as_str()).collect();
            let bodies: Vec<&[u8]> = e.iter().map(|e| e.body.as_slice()).collect();
            let insert = tx
                .prepare_cached(
                    "INSERT INTO envelopes (seq, id, kind, case_id, owner, target, epoch, author, body, received_at) \
                     SELECT u.seq, u.id, u.kind, u.case_id, u.owner, u.target, u.epoch, u.author, u.body, $10::BIGINT \
                     FROM UNNEST($1::BIGINT[], $2::BYTEA[], $3::TEXT[], $4::BYTEA[], $5::TEXT[], $6::TEXT[], \
                                 $7::BIGINT[], $8::TEXT[], $9::BYTEA[]) \
                       AS u(seq, id, kind, case_id, owner, target, epoch, author, body)",
                )
                .await?;
            tx.execute(
                &insert,
                &[
                    &seqs, &ids, &kinds, &cases, &owners, &targets, &epochs, &authors, &bodies,
                    &now,
                ],
            )
            .await?;
        }
        for (case, owner, s) in &w.cases {
            tx.execute(
                "INSERT INTO cases (case_id, owner, created_seq) VALUES ($1, $2, $3)",
                &[&case.as_slice(), owner, s],
            )
            .await?;
        }
        for (case, e, kid, s) in &w.keys {
            tx.execute(
                "INSERT INTO case_keys (case_id, epoch, key_id, seq) VALUES ($1, $2, $3, $4)",
                &[&case.as_slice(), e, &kid.as_slice(), s],
            )
            .await?;
        }
        for g in &w.grants {
            tx.execute(
                "INSERT INTO grants (case_id, team, from_epoch, until_epoch, seq) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (case_id, team) DO UPDATE SET from_epoch = excluded.from_epoch, \
                 until_epoch = excluded.until_epoch, seq = excluded.seq",
                &[&g.case.as_slice(), &g.team, &g.from, &g.until, &g.seq],
            )
            .await?;
        }
        for s in &w.snapshots {
            tx.execute(
                "INSERT INTO snapshots (seq, case_id, owner, epoch, covers) VALUES ($1, $2, $3, $4, $5)",
                &[&s.seq, &s.case.as_slice(), &s.owner, &s.epoch, &s.covers],
            )
            .await?;
        }
        if !self.push_commit_delay.is_zero() {
            tokio::time::sleep(self.push_commit_delay).await;
        }
        tx.commit().await?;
        Ok(results)
    }

    async fn page(&self, q: &PageQuery) -> StorageResult<PullPage> {
        let c = self.client().await?;
        // Read before the page query (its own, later snapshot sees everything up to it).
        let head_before = head_of(&c).await?;
        let stmt = c
            .prepare_cached(&sync::page_sql(Dialect::Postgres, &q.scope))
            .await?;
        let (team, since, lim) = (q.team.as_str(), sql_int(q.since), sync::fetch_limit(q));
        let rows = match sync::scope_param(&q.scope) {
            ScopeParam::None => c.query(&stmt, &[&team, &since, &lim]).await?,
            ScopeParam::Int(v) => c.query(&stmt, &[&team, &since, &lim, &v]).await?,
            ScopeParam::Bytes(b) => c.query(&stmt, &[&team, &since, &lim, &b]).await?,
            ScopeParam::BytesInt(b, v) => c.query(&stmt, &[&team, &since, &lim, &b, &v]).await?,
        };
        let candidates = rows
            .iter()
            .map(|r| Ok((r.try_get::<_, i64>(0)?, r.try_get::<_, i64>(1)?)))
            .collect::<StorageResult<Vec<_>>>()?;
        let (seqs, more) = sync::cut(q, &candidates);
        // Bodies never change once stored: fetching them by seq in a second statement reads
        // exactly what the first one chose.
        let items = if seqs.is_empty() {
            Vec::new()
        } else {
            c.query(
                "SELECT seq, body FROM envelopes WHERE seq = ANY($1) ORDER BY seq",
                &[&seqs],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(Pulled {
                    seq: seq(r.try_get(0)?)?,
                    body: r.try_get(1)?,
                })
            })
            .collect::<StorageResult<Vec<_>>>()?
        };
        if items.len() != seqs.len() {
            return Err(StorageError::Corrupt(
                "an envelope vanished between two reads".into(),
            ));
        }
        Ok(PullPage {
            next: sync::next_cursor(q, items.last().map(|p| p.seq), more, head_before),
            more,
            items,
        })
    }

    async fn head(&self) -> StorageResult<u64> {
        head_of(&self.client().await?).await
    }

    async fn cases_of_user(
        &self,
        user: Uuid,
        team: &str,
        as_of: u64,
    ) -> StorageResult<Vec<[u8; 16]>> {
        let c = self.client().await?;
        let st = c
            .prepare_cached(
                "SELECT DISTINCT e.case_id FROM devices d \
                 JOIN envelopes e ON e.author = d.id AND e.kind = 'change' \
                 WHERE d.user_id = $1 AND e.owner = $2 AND e.seq <= $3 \
                 ORDER BY e.case_id",
            )
            .await?;
        let rows = c
            .query(&st, &[&user.to_string(), &team, &sync::sql_int(as_of)])
            .await?;
        rows.iter()
            .map(|r| {
                let v: Vec<u8> = r.try_get(0)?;
                v.try_into()
                    .map_err(|_| StorageError::Corrupt("a stored case id is not 16 bytes".into()))
            })
            .collect()
    }

    async fn put_team_kem(&self, kem: &TeamKem, now: i64) -> StorageResult<KemOutcome> {
        let c = self.client().await?;
        let e = i64::from(kem.epoch);
        let n = c
            .execute(
                "INSERT INTO team_kems (team, epoch, kem_pub, device, sig, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                &[
                    &kem.team,
                    &e,
                    &kem.kem_pub,
                    &kem.device.to_string(),
                    &kem.sig,
                    &now,
                ],
            )
            .await?;
        if n == 1 {
            return Ok(KemOutcome::Stored);
        }
        // Rows are never changed once stored, so this reads the one that won.
        let r = c
            .query_one(
                "SELECT team, epoch, kem_pub, device, sig FROM team_kems WHERE team = $1 AND epoch = $2",
                &[&kem.team, &e],
            )
            .await?;
        let kept = kem_of(&r)?;
        Ok(if kept.kem_pub == kem.kem_pub {
            KemOutcome::Same
        } else {
            KemOutcome::Different(kept)
        })
    }

    async fn team_kem(&self, team: &str) -> StorageResult<Option<TeamKem>> {
        let c = self.client().await?;
        c.query_opt(
            "SELECT team, epoch, kem_pub, device, sig FROM team_kems WHERE team = $1 \
             ORDER BY epoch DESC LIMIT 1",
            &[&team],
        )
        .await?
        .as_ref()
        .map(kem_of)
        .transpose()
    }

    async fn put_statement(
        &self,
        team: &str,
        version: u64,
        body: &str,
        now: i64,
    ) -> StorageResult<bool> {
        let version = i64::try_from(version)
            .map_err(|_| StorageError::Corrupt("statement version".into()))?;
        let c = self.client().await?;
        let n = c
            .execute(
                "INSERT INTO team_statements (team, version, body, stored_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (team) DO UPDATE SET version = excluded.version, body = excluded.body, \
                 stored_at = excluded.stored_at WHERE excluded.version > team_statements.version",
                &[&team, &version, &body, &now],
            )
            .await?;
        Ok(n == 1)
    }

    async fn statement(&self, team: &str) -> StorageResult<Option<String>> {
        let c = self.client().await?;
        Ok(
            c.query_opt("SELECT body FROM team_statements WHERE team = $1", &[&team])
                .await?
                .map(|r| r.try_get(0))
                .transpose()?,
        )
    }
}

fn kem_of(r: &Row) -> StorageResult<TeamKem> {
    Ok(TeamKem {
        team: r.try_get(0)?,
        epoch: epoch(r.try_get(1)?)?,
        kem_pub: r.try_get(2)?,
        device: uuid(r.try_get(3)?)?,
        sig: r.try_get(4)?,
    })
}

/// The rows of a prepared statement of one parameter (as a storage result, for `try_join!`).
async fn rows(
    c: &impl GenericClient,
    st: &Statement,
    param: &(dyn ToSql + Sync),
) -> StorageResult<Vec<Row>> {
    Ok(c.query(st, &[param]).await?)
}

/// The highest sequence number committed, as `c` sees it (0 for an empty log).
async fn head_of(c: &impl GenericClient) -> StorageResult<u64> {
    let st = c
        .prepare_cached("SELECT COALESCE(MAX(seq), 0)::BIGINT FROM envelopes")
        .await?;
    seq(c.query_one(&st, &[]).await?.try_get(0)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pooled connection plans each execution with its parameters, also when the URL
    /// brings server options of its own (kept).
    #[tokio::test]
    async fn connections_plan_each_execution_with_its_parameters() {
        let cluster = tokio::task::spawn_blocking(crate::pgtest::shared)
            .await
            .unwrap()
            .expect("throwaway PostgreSQL cluster");
        let url = cluster.create_database().await.unwrap();
        let sep = if url.contains('?') { '&' } else { '?' };
        for url in [
            url.clone(),
            format!("{url}{sep}options=-c%20statement_timeout%3D60000"),
        ] {
            let s = PostgresStorage::connect(&url).await.unwrap();
            let c = s.client().await.unwrap();
            let mode: String = c
                .query_one("SHOW plan_cache_mode", &[])
                .await
                .unwrap()
                .get(0);
            assert_eq!(mode, "force_custom_plan", "{url}");
            if url.contains("statement_timeout") {
                let t: String = c
                    .query_one("SHOW statement_timeout", &[])
                    .await
                    .unwrap()
                    .get(0);
                assert_eq!(t, "1min");
            }
        }
    }
}
