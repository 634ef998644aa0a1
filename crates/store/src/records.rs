//! Reads the app's person page and review lists need beyond the caseload and timeline: every
//! record of a small kind, records with conflicts, a
//! person's trust-stage line; and drafts, the worker's unsaved forms.

use rusqlite::{OptionalExtension, params};
use tsunagi_core::change::EntityKind;
use tsunagi_core::ids::{ContactId, EntityId, PersonId};
use tsunagi_core::merge::EntityState;

use crate::write::decode_state;
use crate::{Store, StoreError, codec};

/// A kept draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftRow {
    /// Which form.
    pub key: String,
    /// What it is, for the list.
    pub label: String,
    /// The form's fields as the front end keeps them.
    pub body: String,
    /// When it was kept (RFC 3339).
    pub saved_at: String,
}

/// Longest draft body kept: a form, not a document.
pub const MAX_DRAFT_BYTES: usize = 256 * 1024;

impl Store {
    fn decode_rows(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        what: &str,
    ) -> Result<Vec<EntityState>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params, |r| r.get::<_, Vec<u8>>(0))?;
        let mut out = Vec::new();
        for blob in rows {
            out.push(decode_state(&blob?, what)?);
        }
        Ok(out)
    }

    /// Every live record of a kind that stays small (meetings, households).
    pub fn records_of_kind(&self, kind: EntityKind) -> Result<Vec<EntityState>, StoreError> {
        self.decode_rows(
            "SELECT state FROM entities WHERE kind = ?1 AND deleted = 0",
            [kind.key()],
            &format!("{kind}"),
        )
    }

    /// Records with fields written concurrently on two devices, at most `limit`; of one case
    /// when `case` is given.
    pub fn conflicted(
        &self,
        case: Option<EntityId>,
        limit: u32,
    ) -> Result<Vec<EntityState>, StoreError> {
        match case {
            Some(case) => self.decode_rows(
                "SELECT state FROM entities WHERE case_id = ?1 AND conflicts > 0 LIMIT ?2",
                params![case.as_uuid().as_bytes(), limit],
                "conflicted record",
            ),
            None => self.decode_rows(
                "SELECT state FROM entities INDEXED BY entities_conflicted
                 WHERE conflicts > 0 LIMIT ?1",
                [limit],
                "conflicted record",
            ),
        }
    }

    /// How many contacts a person has.
    pub fn contact_count(&self, person: PersonId) -> Result<u64, StoreError> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM contacts WHERE person = ?1",
            [person.as_uuid().as_bytes()],
            |r| r.get(0),
        )?;
        Ok(n.max(0) as u64)
    }

    /// A person's trust-stage line: (time in RFC 3339 UTC, stage) of every contact that
    /// recorded one, oldest first.
    pub fn stage_line(&self, person: PersonId) -> Result<Vec<(String, i64)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT at, stage FROM contacts
             WHERE person = ?1 AND stage IS NOT NULL ORDER BY at",
        )?;
        let rows = stmt.query_map([person.as_uuid().as_bytes()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Whether the person was met (outcome 会えた or 家族と話した) at or after `since` (RFC 3339
    /// UTC with milliseconds, as the projection stores times).
    pub fn met_since(&self, person: PersonId, since: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT 1 FROM contacts WHERE person = ?1 AND at >= ?2
                 AND outcome IN ('met', 'family') LIMIT 1",
            )?
            .query_row(params![person.as_uuid().as_bytes(), since], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// The person's latest contact that planned a follow-up (次回予定日), if any: the one whose
    /// next step 今日の予定 shows.
    pub fn planned_follow_up(&self, person: PersonId) -> Result<Option<ContactId>, StoreError> {
        let id: Option<Vec<u8>> = self
            .conn
            .prepare_cached(
                "SELECT id FROM contacts WHERE person = ?1 AND next_due IS NOT NULL
                 ORDER BY at DESC LIMIT 1",
            )?
            .query_row(params![person.as_uuid().as_bytes()], |r| r.get(0))
            .optional()?;
        id.map(|b| {
            uuid::Uuid::from_slice(&b)
                .map(ContactId::from_uuid)
                .map_err(|e| StoreError::Unreadable {
                    what: "contact id".into(),
                    detail: e.to_string(),
                })
        })
        .transpose()
    }

    /// Keeps a draft, replacing the one with the same key.
    pub fn put_draft(&mut self, draft: &DraftRow) -> Result<(), StoreError> {
        if draft.body.len() > MAX_DRAFT_BYTES {
            return Err(StoreError::TooLarge {
                what: "draft".into(),
                limit: MAX_DRAFT_BYTES as u64,
            });
        }
        let body = codec::encode_json(draft.body.as_bytes(), "draft")?;
        self.conn
            .prepare_cached(
                "INSERT INTO drafts (key, label, body, saved_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (key) DO UPDATE SET
                    label = excluded.label, body = excluded.body, saved_at = excluded.saved_at",
            )?
            .execute(params![draft.key, draft.label, body, draft.saved_at])?;
        Ok(())
    }

    /// The draft with this key.
    pub fn draft(&self, key: &str) -> Result<Option<DraftRow>, StoreError> {
        let row: Option<(String, String, Vec<u8>, String)> = self
            .conn
            .prepare_cached("SELECT key, label, body, saved_at FROM drafts WHERE key = ?1")?
            .query_row([key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .optional()?;
        row.map(draft_row).transpose()
    }

    /// Every draft, newest first.
    pub fn drafts(&self) -> Result<Vec<DraftRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT key, label, body, saved_at FROM drafts ORDER BY saved_at DESC",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(draft_row(row?)?);
        }
        Ok(out)
    }

    /// Discards a draft (saved, or thrown away by the worker). No error when there is none.
    pub fn delete_draft(&mut self, key: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("DELETE FROM drafts WHERE key = ?1")?
            .execute([key])?;
        Ok(())
    }
}

fn draft_row(
    (key, label, body, saved_at): (String, String, Vec<u8>, String),
) -> Result<DraftRow, StoreError> {
    let json = codec::json_of(&body, "draft")?;
    let body = String::from_utf8(json).map_err(|e| StoreError::Unreadable {
        what: "draft".into(),
        detail: e.to_string(),
    })?;
    Ok(DraftRow {
        key,
        label,
        body,
        saved_at,
    })
}
