//! The full-text index of notes: every character bigram with its position, as posting lists in
//! segments of plain tables inside the encrypted file, built and read in Rust (it replaced
//! FTS5, which cost a fresh device four times as much per note; see docs/decisions.md,
//! "Search: how the index came to be").
//!
//! - Each indexed version of a note is a *document* with a fresh number (`gram_docs` maps the
//!   live ones to their contact). Correcting a note makes a new document; the old one is dead:
//!   gone from `gram_docs` at once (so never found again) and recorded in `gram_dead` until a
//!   merge has dropped its postings.
//! - A *segment* is what one indexing transaction wrote: one row per gram, keyed (segment,
//!   gram), holding the occurrences of that gram in the segment's documents. Segments are
//!   appended, never updated, so a large page writes its rows in key order.
//! - The background thread merges runs of [`FAN`] neighbouring segments of the same size class
//!   into one, a range of grams per short transaction, dropping dead documents.

use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::time::{Duration, Instant};

use crate::StoreError;
use crate::search::normalize;

/// The second half of a word-final character's gram (no character has this code point).
const END: u64 = 0xFFFF_FFFF;

/// A gram: two adjacent characters, or a character that ends a word (`second = None`).
fn gram(first: char, second: Option<char>) -> u64 {
    (u64::from(first) << 32) | second.map_or(END, u64::from)
}

/// Every gram of an already normalized text, with its position (in characters): one per pair
/// of adjacent non-space characters, and one for a character that ends a word, so that every
/// non-space character starts exactly one gram.
fn grams_of(normalized: &str, mut each: impl FnMut(u64, u32)) {
    let mut chars = normalized.chars().peekable();
    let mut pos = 0u32;
    while let Some(c) = chars.next() {
        if c != ' ' {
            let next = chars.peek().copied().filter(|&n| n != ' ');
            each(gram(c, next), pos);
        }
        pos += 1;
    }
}

/// Fibonacci hashing of a gram. A gram is already an integer, and the keys are the device's own
/// notes, so SipHash's protection against chosen keys buys nothing on this hot path (every
/// token of every note is one lookup).
#[derive(Default)]
struct GramHasher(u64);

impl Hasher for GramHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(self.0 ^ u64::from(b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        let x = v.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = x ^ (x >> 29);
    }
}

type GramMap<V> = HashMap<u64, V, BuildHasherDefault<GramHasher>>;

fn put_varint(out: &mut Vec<u8>, mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
        n += 1;
    }
    out.push(v as u8);
    n
}

fn unreadable(detail: &str) -> StoreError {
    StoreError::Unreadable {
        what: "full-text index row".into(),
        detail: detail.into(),
    }
}

fn get_varint(buf: &[u8], at: &mut usize) -> Result<u64, StoreError> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*at).ok_or_else(|| unreadable("truncated"))?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Ok(v);
        }
    }
    Err(unreadable("varint too long"))
}

/// The occurrences of one gram, encoded as they are added (documents and positions in
/// increasing order): a new document is `(doc delta << 1 | 1, position)`, a further position
/// in the same document `(position delta << 1)`.
#[derive(Default)]
struct List {
    doc: u64,
    pos: u32,
    buf: Vec<u8>,
}

impl List {
    fn push(&mut self, doc: u64, pos: u32) -> usize {
        if self.buf.is_empty() || doc != self.doc {
            let n = put_varint(&mut self.buf, ((doc - self.doc) << 1) | 1);
            self.doc = doc;
            self.pos = pos;
            n + put_varint(&mut self.buf, u64::from(pos))
        } else {
            let n = put_varint(&mut self.buf, u64::from(pos - self.pos) << 1);
            self.pos = pos;
            n
        }
    }
}

/// Decodes a row's occurrences, appending `(document, position)` pairs.
fn decode(buf: &[u8], out: &mut Vec<(u64, u32)>) -> Result<(), StoreError> {
    let (mut at, mut doc, mut pos) = (0, 0u64, 0u64);
    while at < buf.len() {
        let v = get_varint(buf, &mut at)?;
        if v & 1 == 1 {
            doc = doc
                .checked_add(v >> 1)
                .ok_or_else(|| unreadable("document"))?;
            pos = get_varint(buf, &mut at)?;
        } else {
            pos = pos
                .checked_add(v >> 1)
                .ok_or_else(|| unreadable("position"))?;
        }
        out.push((doc, u32::try_from(pos).map_err(|_| unreadable("position"))?));
    }
    Ok(())
}

/// Encodes `(document, position)` pairs sorted by document then position.
fn encode(pairs: &[(u64, u32)]) -> Vec<u8> {
    let mut list = List::default();
    for &(doc, pos) in pairs {
        list.push(doc, pos);
    }
    list.buf
}

/// A segment being built in memory, written by [`Builder::write`].
#[derive(Default)]
pub(crate) struct Builder {
    lists: GramMap<List>,
    lo: u64,
    hi: u64,
    docs: u64,
    bytes: usize,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("docs", &self.docs)
            .field("bytes", &self.bytes)
            .finish()
    }
}

impl Builder {
    /// Adds a document (numbers increase from one call to the next) of normalized text.
    fn add(&mut self, doc: u64, normalized: &str) {
        if self.docs == 0 {
            self.lo = doc;
        }
        self.hi = doc;
        self.docs += 1;
        let (lists, bytes) = (&mut self.lists, &mut self.bytes);
        grams_of(normalized, |g, pos| {
            *bytes += lists.entry(g).or_default().push(doc, pos);
        });
    }

    /// Writes what it holds as a new segment (rows in key order) and starts over empty.
    pub(crate) fn write(&mut self, tx: &Connection) -> Result<(), StoreError> {
        if self.lists.is_empty() {
            *self = Builder::default();
            return Ok(());
        }
        tx.prepare_cached("INSERT INTO gram_segs (lo, hi, docs, bytes) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![
                self.lo as i64,
                self.hi as i64,
                self.docs as i64,
                self.bytes as i64
            ])?;
        let seg = tx.last_insert_rowid();
        let mut lists: Vec<(u64, List)> = std::mem::take(&mut self.lists).into_iter().collect();
        lists.sort_unstable_by_key(|(g, _)| *g);
        let mut insert =
            tx.prepare_cached("INSERT INTO gram_rows (seg, gram, postings) VALUES (?1, ?2, ?3)")?;
        for (g, list) in lists {
            insert.execute(params![seg, g as i64, list.buf])?;
        }
        *self = Builder::default();
        Ok(())
    }
}

/// A builder holding this many bytes of postings is written as a segment (bounds memory).
const WRITE_AT: usize = 64 << 20;

/// Where the notes of new documents go: a builder on this thread (a short batch), or a large
/// page's [`Worker`] (started at the page's first note).
pub(crate) enum Sink<'a> {
    Here(&'a mut Builder),
    Worker(&'a mut Option<Worker>),
}

impl Sink<'_> {
    /// Indexes `note` as document `doc`, writing any segment that is full.
    pub(crate) fn add(
        &mut self,
        tx: &Connection,
        doc: u64,
        note: String,
    ) -> Result<(), StoreError> {
        match self {
            Sink::Here(b) => {
                b.add(doc, &normalize(&note));
                if b.bytes >= WRITE_AT {
                    b.write(tx)?;
                }
                Ok(())
            }
            Sink::Worker(slot) => {
                let w = match slot {
                    Some(w) => w,
                    None => slot.insert(Worker::start()?),
                };
                w.add(doc, note)?;
                w.write_full(tx)
            }
        }
    }
}

/// Notes sent to the worker and not yet taken (about 2 MB of text).
const WORKER_QUEUE: usize = 1024;

/// Builds a large page's segment on a second thread (normalizing and tokenizing are most of
/// indexing), while the page goes on applying its changes on the first. Full builders come
/// back to be written by the page's transaction.
pub(crate) struct Worker {
    send: Option<std::sync::mpsc::SyncSender<(u64, String)>>,
    full: std::sync::mpsc::Receiver<Builder>,
    thread: Option<std::thread::JoinHandle<Builder>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").finish_non_exhaustive()
    }
}

impl Worker {
    pub(crate) fn start() -> Result<Worker, StoreError> {
        let (send, notes) = std::sync::mpsc::sync_channel::<(u64, String)>(WORKER_QUEUE);
        let (give, full) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("tsunagi-index".into())
            .spawn(move || {
                let mut builder = Builder::default();
                for (doc, note) in notes {
                    builder.add(doc, &normalize(&note));
                    if builder.bytes >= WRITE_AT && give.send(std::mem::take(&mut builder)).is_err()
                    {
                        break;
                    }
                }
                builder
            })
            .map_err(|_| StoreError::Thread("indexing"))?;
        Ok(Worker {
            send: Some(send),
            full,
            thread: Some(thread),
        })
    }

    fn add(&mut self, doc: u64, note: String) -> Result<(), StoreError> {
        self.send
            .as_ref()
            .ok_or(StoreError::Thread("indexing"))?
            .send((doc, note))
            .map_err(|_| StoreError::Thread("indexing"))
    }

    /// Writes the builders the thread has filled so far.
    fn write_full(&mut self, tx: &Connection) -> Result<(), StoreError> {
        while let Ok(mut b) = self.full.try_recv() {
            b.write(tx)?;
        }
        Ok(())
    }

    /// Waits for the thread to take every note, and writes what it built, in order.
    pub(crate) fn finish(mut self, tx: &Connection) -> Result<(), StoreError> {
        drop(self.send.take());
        let last = self
            .thread
            .take()
            .ok_or(StoreError::Thread("indexing"))?
            .join()
            .map_err(|_| StoreError::Thread("indexing"))?;
        self.write_full(tx)?;
        let mut last = last;
        last.write(tx)
    }
}

impl Drop for Worker {
    /// A page that failed: the thread ends with the channel, and is waited for.
    fn drop(&mut self) {
        drop(self.send.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Indexing inside one transaction: allocates document numbers and records which document is
/// live for which contact.
pub(crate) struct Indexer<'c> {
    conn: &'c Connection,
    next_doc: u64,
}

impl<'c> Indexer<'c> {
    pub(crate) fn new(conn: &'c Connection) -> Result<Indexer<'c>, StoreError> {
        let next: i64 = conn.query_row("SELECT next_doc FROM gram_state", [], |r| r.get(0))?;
        Ok(Indexer {
            conn,
            next_doc: next.max(1) as u64,
        })
    }

    /// Removes the contact's indexed note (if any) and, when it has a note that is not all
    /// whitespace, makes the new note a document: returns its number, for a [`Sink`].
    pub(crate) fn set(
        &mut self,
        contact: i64,
        note: Option<&str>,
    ) -> Result<Option<u64>, StoreError> {
        let old: Option<i64> = self
            .conn
            .prepare_cached("DELETE FROM gram_docs WHERE contact = ?1 RETURNING doc")?
            .query_row([contact], |r| r.get(0))
            .optional()?;
        if let Some(old) = old {
            self.conn
                .prepare_cached(
                    "INSERT INTO gram_dead (doc, since) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                )?
                .execute(params![old, self.next_doc as i64])?;
        }
        if !note.is_some_and(|t| t.chars().any(|c| !c.is_whitespace())) {
            return Ok(None);
        }
        let doc = self.next_doc;
        self.next_doc += 1;
        self.conn
            .prepare_cached("INSERT INTO gram_docs (doc, contact) VALUES (?1, ?2)")?
            .execute(params![doc as i64, contact])?;
        Ok(Some(doc))
    }

    /// Records the next document number (before the transaction commits).
    pub(crate) fn finish(self) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE gram_state SET next_doc = ?1")?
            .execute([self.next_doc as i64])?;
        Ok(())
    }
}

/// What one gram's occurrences are looked up in: every segment.
struct Reader<'c> {
    conn: &'c Connection,
    segs: Vec<i64>,
}

impl<'c> Reader<'c> {
    fn new(conn: &'c Connection) -> Result<Reader<'c>, StoreError> {
        let segs = conn
            .prepare_cached("SELECT seg FROM gram_segs ORDER BY lo, seg")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(Reader { conn, segs })
    }

    /// The occurrences of grams `from..=to` in every segment, sorted by document and position.
    fn occurrences(&self, from: u64, to: u64) -> Result<Vec<(u64, u32)>, StoreError> {
        let mut out = Vec::new();
        let mut stmt = self.conn.prepare_cached(
            "SELECT postings FROM gram_rows WHERE seg = ?1 AND gram BETWEEN ?2 AND ?3",
        )?;
        for seg in &self.segs {
            let mut rows = stmt.query(params![seg, from as i64, to as i64])?;
            while let Some(r) = rows.next()? {
                let blob = r.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?;
                decode(blob, &mut out)?;
            }
        }
        // One range of grams, or segments whose documents interleave (a merge in progress).
        if !out.is_sorted() {
            out.sort_unstable();
        }
        Ok(out)
    }
}

/// Documents containing `term` (normalized, no spaces, not empty), sorted.
fn term_docs(reader: &Reader<'_>, term: &str) -> Result<Vec<u64>, StoreError> {
    let chars: Vec<char> = term.chars().collect();
    let mut docs: Vec<u64> = if let [c] = chars.as_slice() {
        // Every occurrence of a character starts one gram: those with it first.
        let first = u64::from(*c) << 32;
        reader
            .occurrences(first, first | END)?
            .into_iter()
            .map(|(d, _)| d)
            .collect()
    } else {
        // The term starts at p when its i-th pair is at p + i for every i: the intersection of
        // each pair's (document, position - i).
        let mut starts: Option<Vec<u64>> = None;
        let mut fetched: GramMap<Vec<(u64, u32)>> = GramMap::default();
        for (i, pair) in chars.windows(2).enumerate() {
            let g = gram(pair[0], Some(pair[1]));
            let list = match fetched.entry(g) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(reader.occurrences(g, g)?),
            };
            let shift = i as u32;
            let these: Vec<u64> = list
                .iter()
                .filter(|&&(_, pos)| pos >= shift)
                .map(|&(doc, pos)| (doc << 32) | u64::from(pos - shift))
                .collect();
            starts = Some(match starts {
                None => these,
                Some(prev) => intersect(&prev, &these),
            });
            if starts.as_ref().is_some_and(Vec::is_empty) {
                break;
            }
        }
        starts
            .unwrap_or_default()
            .into_iter()
            .map(|k| k >> 32)
            .collect()
    };
    docs.dedup();
    Ok(docs)
}

/// The values in both sorted lists.
fn intersect(a: &[u64], b: &[u64]) -> Vec<u64> {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let mut out = Vec::with_capacity(small.len());
    let mut from = 0;
    for &v in small {
        // Galloping: the large list is walked forward only.
        match large[from..].binary_search(&v) {
            Ok(i) => {
                out.push(v);
                from += i + 1;
            }
            Err(i) => from += i,
        }
        if from >= large.len() {
            break;
        }
    }
    out
}

/// The contacts (rowids) whose note contains every term, in no particular order.
pub(crate) fn matching(conn: &Connection, terms: &[String]) -> Result<Vec<i64>, StoreError> {
    let reader = Reader::new(conn)?;
    let mut docs: Option<Vec<u64>> = None;
    for term in terms {
        let these = term_docs(&reader, term)?;
        docs = Some(match docs {
            None => these,
            Some(prev) => intersect(&prev, &these),
        });
        if docs.as_ref().is_some_and(Vec::is_empty) {
            break;
        }
    }
    let docs = docs.unwrap_or_default();
    // Only live documents count (a corrected or deleted note's postings stay until merged).
    let mut out = Vec::with_capacity(docs.len());
    if docs.len() <= 256 {
        let mut one = conn.prepare_cached("SELECT contact FROM gram_docs WHERE doc = ?1")?;
        for d in docs {
            if let Some(c) = one.query_row([d as i64], |r| r.get(0)).optional()? {
                out.push(c);
            }
        }
    } else {
        let (lo, hi) = (docs[0], docs[docs.len() - 1]);
        let mut all = conn.prepare_cached(
            "SELECT doc, contact FROM gram_docs WHERE doc BETWEEN ?1 AND ?2 ORDER BY doc",
        )?;
        let mut rows = all.query(params![lo as i64, hi as i64])?;
        let mut want = docs.iter().peekable();
        while let Some(r) = rows.next()? {
            let doc = r.get::<_, i64>(0)? as u64;
            while want.next_if(|&&w| w < doc).is_some() {}
            if want.next_if(|&&w| w == doc).is_some() {
                out.push(r.get(1)?);
            }
            if want.peek().is_none() {
                break;
            }
        }
    }
    Ok(out)
}

/// Neighbouring segments of one size class merged at once.
pub(crate) const FAN: usize = 8;

/// A segment's size class: powers of [`FAN`] of its documents.
fn level(docs: i64) -> u32 {
    (63 - (docs.max(1) as u64).leading_zeros()) / 3
}

/// The merge in progress (at most one).
struct Merge {
    target: i64,
    inputs: Vec<i64>,
    /// Grams below this are in the target already.
    cursor: i64,
    /// `next_doc` when it began: tombstones older than that are all dropped by it.
    started: i64,
    lo: i64,
    hi: i64,
}

fn load_merge(tx: &Connection) -> Result<Option<Merge>, StoreError> {
    let row: Option<(i64, String, i64, i64)> = tx
        .query_row(
            "SELECT merge_target, merge_inputs, merge_cursor, merge_started FROM gram_state
             WHERE merge_target IS NOT NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((target, inputs, cursor, started)) = row else {
        return Ok(None);
    };
    let inputs = inputs
        .split(',')
        .map(|s| s.parse().map_err(|_| unreadable("merge inputs")))
        .collect::<Result<Vec<i64>, _>>()?;
    let (lo, hi) = tx.query_row(
        "SELECT lo, hi FROM gram_segs WHERE seg = ?1",
        [target],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(Some(Merge {
        target,
        inputs,
        cursor,
        started,
        lo,
        hi,
    }))
}

/// Chooses the next merge: the first run (in document order) of [`FAN`] neighbouring segments
/// of one size class. None when the index needs none.
fn begin_merge(tx: &Connection) -> Result<Option<Merge>, StoreError> {
    let segs: Vec<(i64, i64, i64, i64)> = tx
        .prepare_cached("SELECT seg, lo, hi, docs FROM gram_segs ORDER BY lo, seg")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    let mut run = 0;
    for i in 0..segs.len() {
        run = if i > 0 && level(segs[i].3) == level(segs[i - 1].3) {
            run + 1
        } else {
            1
        };
        if run == FAN {
            let chosen = &segs[i + 1 - FAN..=i];
            let lo = chosen.iter().map(|s| s.1).min().unwrap_or(0);
            let hi = chosen.iter().map(|s| s.2).max().unwrap_or(0);
            let docs: i64 = chosen.iter().map(|s| s.3).sum();
            tx.execute(
                "INSERT INTO gram_segs (lo, hi, docs, bytes) VALUES (?1, ?2, ?3, 0)",
                params![lo, hi, docs],
            )?;
            let target = tx.last_insert_rowid();
            let inputs: Vec<i64> = chosen.iter().map(|s| s.0).collect();
            let started: i64 = tx.query_row("SELECT next_doc FROM gram_state", [], |r| r.get(0))?;
            let list: Vec<String> = inputs.iter().map(i64::to_string).collect();
            tx.execute(
                "UPDATE gram_state SET merge_target = ?1, merge_inputs = ?2, merge_cursor = ?3,
                 merge_started = ?4",
                params![target, list.join(","), i64::MIN, started],
            )?;
            return Ok(Some(Merge {
                target,
                inputs,
                cursor: i64::MIN,
                started,
                lo,
                hi,
            }));
        }
    }
    Ok(None)
}

/// Rows read from each input per round of a merge, at most.
const MERGE_ROWS: usize = 64;
/// Bytes of postings read from each input per round of a merge, about (a round holds at most
/// [`FAN`] times this, plus one row per input).
const MERGE_BYTES: usize = 256 << 10;

/// One short transaction of merging (about `budget`): starts a merge if the index needs one,
/// moves a range of grams from the inputs into the target, and ends it when all are moved.
/// Returns whether there is more to do.
pub(crate) fn merge_step(conn: &Connection, budget: Duration) -> Result<bool, StoreError> {
    crate::open::immediate(conn, "index: merge step", || merge_in(conn, budget))
}

fn merge_in(tx: &Connection, budget: Duration) -> Result<bool, StoreError> {
    let started = Instant::now();
    let merge = match load_merge(tx)? {
        Some(m) => m,
        None => match begin_merge(tx)? {
            Some(m) => m,
            None => return Ok(false),
        },
    };
    let dead: std::collections::HashSet<u64> = tx
        .prepare_cached("SELECT doc FROM gram_dead WHERE doc BETWEEN ?1 AND ?2")?
        .query_map(params![merge.lo, merge.hi], |r| r.get::<_, i64>(0))?
        .map(|d| d.map(|d| d as u64))
        .collect::<Result<_, _>>()?;
    let mut cursor = merge.cursor;
    let mut done = false;
    let mut written = 0i64;
    // At least one round, then as many as fit in the budget.
    let mut rounds = 0;
    while !done && (rounds == 0 || started.elapsed() < budget) {
        rounds += 1;
        // The next rows of every input; the grams up to the smallest last gram of an input
        // that has more are complete.
        let mut rows: Vec<(i64, Vec<u8>)> = Vec::new();
        let mut upto = i64::MAX;
        {
            let mut next = tx.prepare_cached(
                "SELECT gram, postings FROM gram_rows WHERE seg = ?1 AND gram >= ?2
                 ORDER BY gram",
            )?;
            for seg in &merge.inputs {
                // At least one row, then up to MERGE_ROWS rows or MERGE_BYTES: a common gram's
                // row in a large segment holds hundreds of kilobytes.
                let mut found = next.query(params![seg, cursor])?;
                let (mut n, mut bytes) = (0, 0);
                while let Some(r) = found.next()? {
                    let (g, postings): (i64, Vec<u8>) = (r.get(0)?, r.get(1)?);
                    n += 1;
                    bytes += postings.len();
                    rows.push((g, postings));
                    if n == MERGE_ROWS || bytes >= MERGE_BYTES {
                        // This input may have more: the grams up to here are complete.
                        upto = upto.min(g);
                        break;
                    }
                }
            }
        }
        done = upto == i64::MAX;
        rows.retain(|(g, _)| *g <= upto);
        rows.sort_by_key(|(g, _)| *g);
        let mut insert =
            tx.prepare_cached("INSERT INTO gram_rows (seg, gram, postings) VALUES (?1, ?2, ?3)")?;
        let mut pairs = Vec::new();
        let mut i = 0;
        while i < rows.len() {
            let g = rows[i].0;
            pairs.clear();
            while i < rows.len() && rows[i].0 == g {
                decode(&rows[i].1, &mut pairs)?;
                i += 1;
            }
            pairs.retain(|(d, _)| !dead.contains(d));
            if !pairs.is_empty() {
                if !pairs.is_sorted() {
                    pairs.sort_unstable();
                }
                let buf = encode(&pairs);
                written += buf.len() as i64;
                insert.execute(params![merge.target, g, buf])?;
            }
        }
        let mut remove = tx
            .prepare_cached("DELETE FROM gram_rows WHERE seg = ?1 AND gram >= ?2 AND gram <= ?3")?;
        for seg in &merge.inputs {
            remove.execute(params![seg, cursor, upto])?;
        }
        if !done {
            cursor = upto + 1;
        }
    }
    tx.execute(
        "UPDATE gram_segs SET bytes = bytes + ?1 WHERE seg = ?2",
        params![written, merge.target],
    )?;
    if done {
        for seg in &merge.inputs {
            tx.execute("DELETE FROM gram_segs WHERE seg = ?1", [seg])?;
        }
        let purged = tx.execute(
            "DELETE FROM gram_dead WHERE doc BETWEEN ?1 AND ?2 AND since < ?3",
            params![merge.lo, merge.hi, merge.started],
        )?;
        tx.execute(
            "UPDATE gram_segs SET docs = max(docs - ?1, 1) WHERE seg = ?2",
            params![purged as i64, merge.target],
        )?;
        tx.execute(
            "DELETE FROM gram_segs WHERE seg = ?1 AND bytes = 0",
            [merge.target],
        )?;
        tx.execute(
            "UPDATE gram_state SET merge_target = NULL, merge_inputs = NULL,
             merge_cursor = NULL, merge_started = NULL",
            [],
        )?;
    } else {
        tx.execute("UPDATE gram_state SET merge_cursor = ?1", [cursor])?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grams_cover_pairs_and_word_ends_with_positions() {
        let mut seen = Vec::new();
        grams_of("認知症 ab", |g, p| seen.push((g, p)));
        assert_eq!(
            seen,
            [
                (gram('認', Some('知')), 0),
                (gram('知', Some('症')), 1),
                (gram('症', None), 2),
                (gram('a', Some('b')), 4),
                (gram('b', None), 5),
            ]
        );
    }

    #[test]
    fn postings_round_trip_and_refuse_damage() {
        let pairs = vec![
            (1, 0),
            (1, 7),
            (1, 300),
            (5, 2),
            (70_000, 0),
            (70_001, 65_000),
        ];
        let buf = encode(&pairs);
        let mut back = Vec::new();
        decode(&buf, &mut back).unwrap();
        assert_eq!(back, pairs);
        // The last position takes three bytes: without its last one it is cut short.
        assert!(decode(&buf[..buf.len() - 1], &mut Vec::new()).is_err());
        assert!(decode(&[0xff; 11], &mut Vec::new()).is_err());
    }

    #[test]
    fn intersect_keeps_common_values() {
        assert_eq!(intersect(&[1, 3, 5, 7, 9], &[2, 3, 4, 9, 10]), [3, 9]);
        assert_eq!(intersect(&[], &[1]), Vec::<u64>::new());
        assert_eq!(intersect(&[4], &[1, 2, 3, 4]), [4]);
    }

    /// A connection with the index's tables (and stand-ins for the tables its migration
    /// touches), unencrypted and in memory: the index logic alone.
    fn index_db() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE contact_grams (grams);
             CREATE TABLE fts_queue (rowid INTEGER PRIMARY KEY, reindex INTEGER);
             CREATE TABLE contacts (at);",
        )
        .unwrap();
        conn.execute_batch(include_str!(
            "../../../migrations/device/0006_rust_gram_index.sql"
        ))
        .unwrap();
        conn
    }

    fn sink<'a>(
        builder: &'a mut Builder,
        worker: &'a mut Option<Worker>,
        threaded: bool,
    ) -> Sink<'a> {
        if threaded {
            Sink::Worker(worker)
        } else {
            Sink::Here(builder)
        }
    }

    /// A small deterministic generator (xorshift), so a failure names its seed.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
        fn text(&mut self, len: usize) -> String {
            const ALPHABET: &[char] = &[
                'あ', 'い', 'う', 'え', 'お', 'か', 'き', '認', '知', '症', '母', '子', '訪', '問',
                'a', 'b', 'c', '1', '2', ' ',
            ];
            (0..len)
                .map(|_| ALPHABET[self.next(ALPHABET.len())])
                .collect()
        }
    }

    /// Every document in a segment's rows is live or has a tombstone: a merge never drops a
    /// tombstone whose postings remain somewhere.
    fn check_tombstones(conn: &Connection) {
        let mut stmt = conn.prepare("SELECT postings FROM gram_rows").unwrap();
        let mut rows = stmt.query([]).unwrap();
        let mut docs = std::collections::BTreeSet::new();
        while let Some(r) = rows.next().unwrap() {
            let mut pairs = Vec::new();
            decode(r.get_ref(0).unwrap().as_blob().unwrap(), &mut pairs).unwrap();
            docs.extend(pairs.into_iter().map(|(d, _)| d));
        }
        for d in docs {
            let known: i64 = conn
                .query_row(
                    "SELECT (SELECT count(*) FROM gram_docs WHERE doc = ?1)
                          + (SELECT count(*) FROM gram_dead WHERE doc = ?1)",
                    [d as i64],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(known, 1, "document {d} is neither live nor dead");
        }
    }

    /// Indexing, correcting and deleting notes in many small transactions, with merges
    /// interleaved (several rounds each, so some are in progress while notes change): every
    /// query finds exactly the notes that contain all its terms, and merges leave few segments
    /// and drop what they purged.
    #[test]
    fn segments_and_merges_agree_with_a_naive_search() {
        for seed in [1u64, 7, 2026] {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            let conn = index_db();
            let mut model: std::collections::BTreeMap<i64, String> = Default::default();
            for step in 0..300 {
                conn.execute_batch("BEGIN IMMEDIATE").unwrap();
                let mut ix = Indexer::new(&conn).unwrap();
                let mut builder = Builder::default();
                // Every third transaction builds its segment on a worker thread, as a large
                // page does.
                let threaded = step % 3 == 0;
                let mut worker = None;
                for _ in 0..1 + rng.next(4) {
                    let contact = 1 + rng.next(120) as i64;
                    if rng.next(6) == 0 {
                        assert_eq!(ix.set(contact, None).unwrap(), None);
                        model.remove(&contact);
                    } else {
                        let len = rng.next(40);
                        let text = rng.text(len);
                        if let Some(doc) = ix.set(contact, Some(&text)).unwrap() {
                            sink(&mut builder, &mut worker, threaded)
                                .add(&conn, doc, text.clone())
                                .unwrap();
                        }
                        model.insert(contact, crate::search::normalize(&text));
                    }
                }
                ix.finish().unwrap();
                builder.write(&conn).unwrap();
                if let Some(w) = worker {
                    w.finish(&conn).unwrap();
                }
                conn.execute_batch("COMMIT").unwrap();
                for _ in 0..rng.next(3) {
                    merge_step(&conn, Duration::ZERO).unwrap();
                }
                if step % 10 == 0 {
                    check_tombstones(&conn);
                }
                let terms: Vec<String> = (0..1 + rng.next(2))
                    .map(|_| {
                        let len = 1 + rng.next(4);
                        rng.text(len).replace(' ', "")
                    })
                    .filter(|t| !t.is_empty())
                    .collect();
                if terms.is_empty() {
                    // A search of nothing never reaches the index.
                    continue;
                }
                let mut found = matching(&conn, &terms).unwrap();
                found.sort_unstable();
                let naive: Vec<i64> = model
                    .iter()
                    .filter(|(_, n)| terms.iter().all(|t| n.contains(t.as_str())))
                    .map(|(c, _)| *c)
                    .collect();
                assert_eq!(found, naive, "seed {seed}, step {step}, terms {terms:?}");
            }
            let mut steps = 0;
            while merge_step(&conn, Duration::ZERO).unwrap() {
                steps += 1;
                assert!(steps < 10_000, "merging does not end");
            }
            check_tombstones(&conn);
            let levels: Vec<i64> = conn
                .prepare("SELECT docs FROM gram_segs ORDER BY lo")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(
                levels.len() < 2 * FAN,
                "seed {seed}: {} segments left",
                levels.len()
            );
            // Every note is still found by its own text after the merges.
            for (contact, note) in &model {
                let words: Vec<String> = note.split(' ').map(String::from).collect();
                let words: Vec<String> = words.into_iter().filter(|w| !w.is_empty()).collect();
                if words.is_empty() {
                    continue;
                }
                assert!(
                    matching(&conn, &words).unwrap().contains(contact),
                    "seed {seed}: contact {contact} lost"
                );
            }
        }
    }

    /// Rows larger than a merge round's byte bound (a gram in every position of long notes)
    /// are merged a few at a time, and every note is still found once.
    #[test]
    fn merges_bound_the_bytes_they_read_per_round() {
        let conn = index_db();
        for i in 0..FAN as i64 {
            conn.execute_batch("BEGIN IMMEDIATE").unwrap();
            let mut ix = Indexer::new(&conn).unwrap();
            let mut builder = Builder::default();
            let note = format!("{} x{i}", "あ".repeat(300_000));
            let doc = ix.set(i + 1, Some(&note)).unwrap().unwrap();
            Sink::Here(&mut builder).add(&conn, doc, note).unwrap();
            ix.finish().unwrap();
            builder.write(&conn).unwrap();
            conn.execute_batch("COMMIT").unwrap();
        }
        let big: i64 = conn
            .query_row("SELECT max(length(postings)) FROM gram_rows", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert!(big as usize > MERGE_BYTES, "rows of {big} bytes");
        let mut steps = 0;
        while merge_step(&conn, Duration::ZERO).unwrap() {
            steps += 1;
            assert!(steps < 100, "merging does not end");
        }
        // One round per step. Each input's rows, in gram order: "3"+end, "x3", "ああ" (300 KB)
        // and "あ"+end. The first round stops at "ああ", the second takes the rest; without the
        // byte bound, one round (well under 64 rows per input) would have read everything.
        assert_eq!(steps, 2);
        let segs: i64 = conn
            .query_row("SELECT count(*) FROM gram_segs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(segs, 1);
        let mut all = matching(&conn, &["ああああ".into()]).unwrap();
        all.sort_unstable();
        assert_eq!(all, (1..=FAN as i64).collect::<Vec<_>>());
        assert_eq!(
            matching(&conn, &["あx3".into()]).unwrap(),
            Vec::<i64>::new()
        );
        assert_eq!(matching(&conn, &["x3".into()]).unwrap(), [4]);
    }

    #[test]
    fn levels_are_powers_of_eight() {
        assert_eq!(
            [1, 7, 8, 63, 64, 511, 512, 5000].map(level),
            [0, 0, 1, 1, 2, 2, 3, 4]
        );
    }
}
