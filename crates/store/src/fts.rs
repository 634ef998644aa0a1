//! The full-text indexer: takes contacts from `fts_queue` and (re)indexes their notes in the
//! bigram index (`grams`). Local saves are indexed by the background thread
//! (and by a search before it reads, so a search always sees every saved note) in short
//! transactions; a pulled sync page is indexed inside the transaction that applies it.

use rusqlite::{Connection, OptionalExtension};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tsunagi_core::merge::EntityState;

use crate::{StoreError, codec, grams};

/// Queue rows read per query.
const CHUNK: i64 = 128;

/// How many contacts wait for the indexer.
pub(crate) fn pending(conn: &Connection) -> Result<u64, StoreError> {
    let n: i64 = conn.query_row("SELECT count(*) FROM fts_queue", [], |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

/// Indexes queued contacts until the queue is empty or `budget` is spent, in transactions of
/// about `batch` each (a save waits for one of them at most). Returns how many contacts were
/// done.
pub(crate) fn index_pending(
    conn: &Connection,
    budget: Duration,
    batch: Duration,
) -> Result<usize, StoreError> {
    let started = Instant::now();
    let mut done = 0;
    // A plain read first: with nothing queued (the usual case) neither a search nor the
    // background thread takes the write lock.
    if pending(conn)? == 0 {
        return Ok(0);
    }
    loop {
        let n = index_batch(conn, batch)?;
        done += n;
        if n == 0 || started.elapsed() > budget {
            return Ok(done);
        }
    }
}

/// The text a contact's state gives the index (its note; none is an empty note).
pub(crate) fn note_of(state: &EntityState) -> String {
    match state.value("note") {
        Some(serde_json::Value::String(s)) => s.clone(),
        _ => String::new(),
    }
}

/// From this many records in one pulled page on, the page indexes the queue in its own
/// transaction.
const INLINE_FROM: usize = 256;

/// Whether a pulled page of this many records (change sets, and states in its snapshots) is
/// indexed inside its own transaction: when it is large (a fresh device catching up, a long
/// time offline), every queued contact is, so its notes become searchable when it commits, as
/// one index segment instead of hundreds of small batches written by the background thread at
/// a fraction of its time. A small page leaves its few contacts to the background thread
/// (within moments; a search indexes any that remain first), so a small sync does not wait for
/// the index, even when local saves are still queued (those made a small sync index hundreds
/// of notes inline: 80–110 ms of a 200-change round).
pub(crate) fn inline_for(records: usize) -> bool {
    records >= INLINE_FROM
}

/// A large page indexes what it has written every this many notes, so it holds no more of
/// them at once (a log page brings up to 5,000 change sets).
const HOLD_NOTES: usize = 2048;

/// What a large pulled page keeps for the index while it is applied: the note of each contact
/// it has written (by rowid, so the indexer does not read, inflate and parse the state it has
/// just written) and the thread building its index segment (started at its first note).
#[derive(Debug, Default)]
pub(crate) struct PageIndex {
    pub(crate) notes: HashMap<i64, String>,
    worker: Option<grams::Worker>,
}

impl PageIndex {
    /// Indexes the queue through the page's worker thread, taking the notes the page holds;
    /// those no queued contact asked for are dropped.
    fn index_queue(&mut self, tx: &Connection) -> Result<(), StoreError> {
        let mut notes = std::mem::take(&mut self.notes);
        index_rows(
            tx,
            None,
            grams::Sink::Worker(&mut self.worker),
            Some(&mut notes),
        )?;
        Ok(())
    }
}

/// During a large page: indexes the queue once the page holds [`HOLD_NOTES`] notes.
pub(crate) fn index_page_step(
    tx: &Connection,
    page: Option<&mut PageIndex>,
) -> Result<(), StoreError> {
    if let Some(page) = page
        && page.notes.len() >= HOLD_NOTES
    {
        page.index_queue(tx)?;
    }
    Ok(())
}

/// A large pulled page (see [`inline_for`]), at its end: indexes every queued contact inside
/// the page's transaction and writes the page's segment.
pub(crate) fn index_page_in(tx: &Connection, mut page: PageIndex) -> Result<(), StoreError> {
    page.index_queue(tx)?;
    match page.worker.take() {
        Some(w) => w.finish(tx),
        None => Ok(()),
    }
}

/// One short transaction: as many queued contacts as fit in `batch` (at least one chunk), as
/// one segment.
fn index_batch(conn: &Connection, batch: Duration) -> Result<usize, StoreError> {
    // Taken on `&Connection`: a search holds only a shared borrow.
    crate::open::immediate(conn, "index: queued notes", || {
        let mut builder = grams::Builder::default();
        let done = index_rows(conn, Some(batch), grams::Sink::Here(&mut builder), None)?;
        builder.write(conn)?;
        Ok(done)
    })
}

/// Indexes queued contacts into `sink`, a chunk at a time, until the queue is empty or `limit`
/// is spent. A contact's note is taken from `written` when it is there (written in this
/// transaction: inflating and parsing its state again cost a fresh device about as much as
/// writing it), else read from its stored state.
fn index_rows(
    tx: &Connection,
    limit: Option<Duration>,
    mut sink: grams::Sink<'_>,
    mut written: Option<&mut HashMap<i64, String>>,
) -> Result<usize, StoreError> {
    let started = Instant::now();
    let mut done = 0;
    let mut indexer = grams::Indexer::new(tx)?;
    let mut next =
        tx.prepare_cached("SELECT rowid, reindex FROM fts_queue ORDER BY rowid LIMIT ?1")?;
    let mut stored = tx.prepare_cached("SELECT state FROM entities WHERE rowid = ?1")?;
    let mut dequeue = tx.prepare_cached("DELETE FROM fts_queue WHERE rowid = ?1")?;
    loop {
        let rows: Vec<(i64, bool)> = next
            .query_map([CHUNK], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        if rows.is_empty() {
            indexer.finish()?;
            return Ok(done);
        }
        for (rowid, reindex) in rows {
            let note = if !reindex {
                None
            } else if let Some(note) = written.as_deref_mut().and_then(|w| w.remove(&rowid)) {
                Some(note)
            } else {
                match stored
                    .query_row([rowid], |r| r.get::<_, Vec<u8>>(0))
                    .optional()?
                {
                    Some(blob) => {
                        let state: EntityState = codec::decode(&blob, "contact for indexing")?;
                        Some(note_of(&state))
                    }
                    None => None,
                }
            };
            // Setting removes any earlier note of the contact first, so (re)indexing is
            // idempotent.
            if let Some(doc) = indexer.set(rowid, note.as_deref())?
                && let Some(note) = note
            {
                sink.add(tx, doc, note)?;
            }
            dequeue.execute([rowid])?;
            done += 1;
            if limit.is_some_and(|l| started.elapsed() > l) {
                indexer.finish()?;
                return Ok(done);
            }
        }
    }
}
