//! Projections: after a change set merges into an entity's state, the rows that lists, filters
//! and full-text search read are brought in line with that state (same transaction).

use rusqlite::{OptionalExtension, Transaction, params};
use serde_json::Value;
use tsunagi_core::change::EntityKind;
use tsunagi_core::merge::EntityState;

use crate::StoreError;
use crate::search::{hiragana, normalize};

fn text(state: &EntityState, field: &str) -> String {
    match state.value(field) {
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    }
}

fn opt_text(state: &EntityState, field: &str) -> Option<String> {
    match state.value(field) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// A timestamp field as UTC with fixed width, so that text order is time order whatever offset
/// the device recorded it with.
fn utc_time(state: &EntityState, field: &str) -> String {
    let raw = text(state, field);
    chrono::DateTime::parse_from_rfc3339(&raw)
        .map(|t| {
            t.to_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        })
        .unwrap_or(raw)
}

fn uuid_bytes(state: &EntityState, field: &str) -> Vec<u8> {
    opt_text(state, field)
        .and_then(|s| uuid::Uuid::parse_str(&s).ok())
        .map(|u| u.as_bytes().to_vec())
        .unwrap_or_default()
}

/// Recomputes one person's summary from the covering index `contacts_person_at` (no table
/// rows are read, so the cost does not grow with note sizes). Called once per person per
/// transaction, after its writes (`write::Deferred`).
pub(crate) fn refresh_summary(tx: &Transaction<'_>, person: &[u8]) -> Result<(), StoreError> {
    if person.is_empty() {
        return Ok(());
    }
    tx.prepare_cached(
        "INSERT INTO person_summary (person, last_contact_at, stage, next_due)
         SELECT ?1,
            (SELECT at FROM contacts WHERE person = ?1 ORDER BY at DESC LIMIT 1),
            (SELECT stage FROM contacts WHERE person = ?1 AND stage IS NOT NULL
                ORDER BY at DESC LIMIT 1),
            (SELECT next_due FROM contacts WHERE person = ?1 AND next_due IS NOT NULL
                ORDER BY at DESC LIMIT 1)
         ON CONFLICT (person) DO UPDATE SET
            last_contact_at = excluded.last_contact_at,
            stage = excluded.stage,
            next_due = excluded.next_due",
    )?
    .execute([person])?;
    Ok(())
}

/// Brings the entity's projection rows in line with its merged state; a contact's person (and
/// its former person) is added to `summaries`, to be recomputed once the transaction's writes
/// are done.
pub(crate) fn project(
    tx: &Transaction<'_>,
    rowid: i64,
    before: &EntityState,
    state: &EntityState,
    summaries: &mut std::collections::BTreeSet<Vec<u8>>,
) -> Result<(), StoreError> {
    let id = state.id();
    let id = id.as_uuid().as_bytes();
    let gone = state.is_deleted();
    match state.kind() {
        EntityKind::Person => {
            tx.prepare_cached("DELETE FROM persons WHERE rowid = ?1")?
                .execute([rowid])?;
            if !gone {
                let name = text(state, "name");
                let kana = text(state, "kana");
                let n = normalize(&name);
                let search = format!(
                    "{n}\u{1f}{}\u{1f}{}",
                    hiragana(&n),
                    hiragana(&normalize(&kana))
                );
                let programs = match state.value("programs") {
                    Some(Value::Array(a)) => a
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(","),
                    _ => String::new(),
                };
                tx.prepare_cached(
                    "INSERT INTO persons (rowid, id, name, kana, search, district, programs, status)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?
                .execute(params![
                    rowid,
                    id,
                    name,
                    hiragana(&kana),
                    search,
                    text(state, "district"),
                    programs,
                    text(state, "status"),
                ])?;
            }
        }
        EntityKind::Contact => {
            let old_person = uuid_bytes(before, "person");
            let new_person = uuid_bytes(state, "person");
            let had_row = before.latest().is_some();
            let note_changed = text(before, "note") != text(state, "note");
            let at = utc_time(state, "at");
            let stage = state.value("stage").and_then(Value::as_i64);
            let next_due = opt_text(state, "next_due");
            // The stored row's indexed columns (id, person, at, stage, next_due), if any.
            type Keys = (Vec<u8>, Vec<u8>, String, Option<i64>, Option<String>);
            let stored: Option<Keys> = tx
                .prepare_cached(
                    "SELECT id, person, at, stage, next_due FROM contacts WHERE rowid = ?1",
                )?
                .query_row([rowid], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .optional()?;
            let same_keys = !gone
                && stored.as_ref().is_some_and(|(i, p, a, st, due)| {
                    i.as_slice() == id
                        && *p == new_person
                        && *a == at
                        && *st == stage
                        && *due == next_due
                });
            if same_keys {
                // Only columns that no index holds changed (an edit of the outcome or the
                // note): the row is updated in place, and its index entries and its person's
                // summary stay as they are. A received page of corrections writes a few table
                // pages instead of five index entries per contact.
                tx.prepare_cached(
                    "UPDATE contacts SET channel = ?2, outcome = ?3
                     WHERE rowid = ?1 AND (channel IS NOT ?2 OR outcome IS NOT ?3)",
                )?
                .execute(params![
                    rowid,
                    text(state, "channel"),
                    text(state, "outcome")
                ])?;
            } else {
                if let Some((_, person, ..)) = stored {
                    tx.prepare_cached("DELETE FROM contacts WHERE rowid = ?1")?
                        .execute([rowid])?;
                    summaries.insert(person);
                }
                if !gone {
                    tx.prepare_cached(
                        "INSERT INTO contacts (rowid, id, person, at, channel, outcome, stage, next_due)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    )?
                    .execute(params![
                        rowid,
                        id,
                        new_person,
                        at,
                        text(state, "channel"),
                        text(state, "outcome"),
                        stage,
                        next_due,
                    ])?;
                }
                for p in [new_person, old_person] {
                    if !p.is_empty() {
                        summaries.insert(p);
                    }
                }
            }
            // The full-text indexes follow through the queue (see fts_queue in the schema).
            let queue = if gone {
                had_row && !before.is_deleted()
            } else {
                !had_row || before.is_deleted() || note_changed
            };
            if queue {
                tx.prepare_cached(
                    "INSERT INTO fts_queue (rowid, reindex) VALUES (?1, ?2)
                     ON CONFLICT (rowid) DO UPDATE SET reindex = excluded.reindex",
                )?
                .execute(params![rowid, !gone])?;
            }
        }
        EntityKind::Assessment => {
            tx.prepare_cached("DELETE FROM assessments WHERE rowid = ?1")?
                .execute([rowid])?;
            if !gone {
                let result = state.value("result");
                let total = result.and_then(|r| r.get("total")).and_then(Value::as_i64);
                let complete = result
                    .and_then(|r| r.get("complete"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let alerts = result
                    .and_then(|r| r.get("alerts"))
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len) as i64;
                tx.prepare_cached(
                    "INSERT INTO assessments (rowid, id, person, at, instrument, total, complete, alerts)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?
                .execute(params![
                    rowid,
                    id,
                    uuid_bytes(state, "person"),
                    utc_time(state, "at"),
                    text(state, "instrument"),
                    total,
                    complete,
                    alerts,
                ])?;
            }
        }
        // Kept in `entities` only until their screens need projections.
        EntityKind::Household
        | EntityKind::Plan
        | EntityKind::Meeting
        | EntityKind::Consent
        | EntityKind::Disclosure => {}
    }
    Ok(())
}
