//! The device access log: who opened which person, when, for how long. Rows are hash-chained
//! (SHA-256 over the previous row's hash and this row's fields) so that an edited, inserted or
//! deleted row is detected by [`Store::verify_access_log`].

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tsunagi_core::ids::PersonId;

use crate::{Store, StoreError};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessEvent {
    /// A person's record was opened.
    Open,
    /// It was closed.
    Close,
}

impl AccessEvent {
    fn key(self) -> &'static str {
        match self {
            AccessEvent::Open => "open",
            AccessEvent::Close => "close",
        }
    }
}

/// An open access: close it with [`Store::access_close`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTicket {
    seq: i64,
    person: PersonId,
    opened_ms: i64,
}

impl AccessTicket {
    /// Whose record is open.
    pub fn person(&self) -> PersonId {
        self.person
    }
}

/// One row of the access log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccessEntry {
    /// Position in the chain.
    pub seq: i64,
    /// Open or close.
    pub event: AccessEvent,
    /// Whose record.
    pub person: PersonId,
    /// Who (the signed-in worker).
    pub actor: String,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// For a close: how long the record was open.
    pub duration_ms: Option<i64>,
    /// For a close: the `seq` of the opening it closes.
    pub opened_seq: Option<i64>,
}

/// Result of verifying the chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccessLogReport {
    /// Rows checked.
    pub entries: u64,
    /// Hash of the last row (hex), to anchor the chain elsewhere.
    pub head: String,
}

#[allow(clippy::too_many_arguments)]
fn row_hash(
    prev: &[u8],
    seq: i64,
    event: &str,
    person: &[u8],
    actor: &str,
    at: &str,
    opened_seq: Option<i64>,
    duration: Option<i64>,
) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"tsunagi/access-log/v1");
    h.update(prev);
    h.update(seq.to_le_bytes());
    for field in [event.as_bytes(), person, actor.as_bytes(), at.as_bytes()] {
        h.update((field.len() as u64).to_le_bytes());
        h.update(field);
    }
    h.update(opened_seq.unwrap_or(-1).to_le_bytes());
    h.update(duration.unwrap_or(-1).to_le_bytes());
    h.finalize().to_vec()
}

impl Store {
    fn append_access(
        &mut self,
        event: AccessEvent,
        person: PersonId,
        actor: &str,
        at_ms: i64,
        opened_seq: Option<i64>,
        duration: Option<i64>,
    ) -> Result<i64, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let held = std::time::Instant::now();
        let last: Option<(i64, Vec<u8>)> = tx
            .query_row(
                "SELECT seq, hash FROM access_log ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (seq, prev) = match last {
            Some((s, h)) => (s + 1, h),
            None => (1, vec![0u8; 32]),
        };
        let at = chrono::DateTime::from_timestamp_millis(at_ms)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let person_bytes = person.as_uuid().as_bytes();
        let hash = row_hash(
            &prev,
            seq,
            event.key(),
            person_bytes,
            actor,
            &at,
            opened_seq,
            duration,
        );
        tx.execute(
            "INSERT INTO access_log (seq, event, person, actor, at, opened_seq, duration_ms, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![seq, event.key(), person_bytes, actor, at, opened_seq, duration, prev, hash],
        )?;
        tx.commit()?;
        crate::holds::record("access log: entry", held);
        Ok(seq)
    }

    /// Records that `actor` opened `person`'s record at `now_ms` (ms since epoch).
    pub fn access_open(
        &mut self,
        person: PersonId,
        actor: &str,
        now_ms: i64,
    ) -> Result<AccessTicket, StoreError> {
        let seq = self.append_access(AccessEvent::Open, person, actor, now_ms, None, None)?;
        Ok(AccessTicket {
            seq,
            person,
            opened_ms: now_ms,
        })
    }

    /// Records that the record opened with `ticket` was closed at `now_ms`.
    pub fn access_close(
        &mut self,
        ticket: AccessTicket,
        actor: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let duration = (now_ms - ticket.opened_ms).max(0);
        self.append_access(
            AccessEvent::Close,
            ticket.person,
            actor,
            now_ms,
            Some(ticket.seq),
            Some(duration),
        )?;
        Ok(())
    }

    /// The access log, newest first, optionally for one person.
    pub fn access_log(
        &self,
        person: Option<PersonId>,
        limit: u32,
    ) -> Result<Vec<AccessEntry>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT seq, event, person, actor, at, duration_ms, opened_seq FROM access_log
             WHERE ?1 IS NULL OR person = ?1 ORDER BY seq DESC LIMIT ?2",
        )?;
        let filter = person.map(|p| p.as_uuid().as_bytes().to_vec());
        let rows = stmt.query_map(params![filter, limit], |r| {
            let event: String = r.get(1)?;
            let person: Vec<u8> = r.get(2)?;
            Ok(AccessEntry {
                seq: r.get(0)?,
                event: if event == "open" {
                    AccessEvent::Open
                } else {
                    AccessEvent::Close
                },
                person: PersonId::from_uuid(uuid::Uuid::from_slice(&person).unwrap_or_default()),
                actor: r.get(3)?,
                at: r.get(4)?,
                duration_ms: r.get(5)?,
                opened_seq: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Walks the whole chain; the first row whose hash or link does not verify is reported.
    pub fn verify_access_log(&self) -> Result<AccessLogReport, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT seq, event, person, actor, at, opened_seq, duration_ms, prev_hash, hash
             FROM access_log ORDER BY seq",
        )?;
        let mut rows = stmt.query([])?;
        let mut prev = vec![0u8; 32];
        let mut expected_seq = 1;
        let mut n = 0;
        while let Some(r) = rows.next()? {
            let seq: i64 = r.get(0)?;
            let event: String = r.get(1)?;
            let person: Vec<u8> = r.get(2)?;
            let actor: String = r.get(3)?;
            let at: String = r.get(4)?;
            let opened_seq: Option<i64> = r.get(5)?;
            let duration: Option<i64> = r.get(6)?;
            let stored_prev: Vec<u8> = r.get(7)?;
            let hash: Vec<u8> = r.get(8)?;
            let recomputed = row_hash(
                &prev, seq, &event, &person, &actor, &at, opened_seq, duration,
            );
            if seq != expected_seq || stored_prev != prev || hash != recomputed {
                return Err(StoreError::AccessLogTampered { seq });
            }
            prev = hash;
            expected_seq += 1;
            n += 1;
        }
        let head = prev.iter().map(|b| format!("{b:02x}")).collect();
        Ok(AccessLogReport { entries: n, head })
    }
}
