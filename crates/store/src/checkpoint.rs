//! Background WAL checkpoints. With SQLite's automatic checkpoint, the write that crosses the
//! threshold copies the whole log into the file and syncs it (tens of milliseconds) while the
//! worker waits on the save button. Here a second connection does that work on its own thread
//! (PASSIVE: it never blocks writers or readers); the write path only appends to the log.
//! The same thread indexes saved notes for full-text search (crate::fts) and merges the
//! indexes' segments in small steps, for the same reason, except while the device syncs
//! ([`BackgroundHold`]).

use rusqlite::Connection;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::StoreError;
use crate::open::{Encryption, set_cache, set_key, short_waits};

/// Check the log this often.
const PERIOD: Duration = Duration::from_millis(250);
/// Start the log over once it holds this many pages (16 MiB of 4 KiB pages).
const RESTART_PAGES: i64 = 4000;
/// Past this many pages (64 MiB) the connection that commits checkpoints the log itself
/// (`open::set_backstop`): only when this thread has fallen behind four times over.
pub(crate) const BACKSTOP_PAGES: i64 = 4 * RESTART_PAGES;
/// Time the indexer may take per period.
const INDEX_BUDGET: Duration = Duration::from_millis(100);
/// One indexing transaction holds the write lock about this long (plus its commit): a save
/// waits for one at most.
const INDEX_BATCH: Duration = Duration::from_millis(5);
/// One merge transaction holds the write lock about this long.
const MERGE_STEP: Duration = Duration::from_millis(5);
/// Time the merges may take per period (the rest of the period leaves the lock to saves).
const MERGE_BUDGET: Duration = Duration::from_millis(150);

/// The checkpointer of one open store; stopped (and joined) when dropped.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
    holds: Arc<AtomicUsize>,
    /// Commands of the app in progress on any connection of the store (see [`Foreground`]).
    foreground: Arc<AtomicUsize>,
}

/// While one is alive, a command of the app is running on one of the store's connections: a
/// time-sliced sync (`Store::commit_page_sliced`) begins no new transaction until it ends, so
/// the command waits for the sync's current transaction at most, never for several in a row
/// (SQLite's lock is not fair: a save, an opened page writing the access log and a search
/// indexing what is queued each waited 100–160 ms behind back-to-back slices).
#[derive(Debug)]
#[must_use = "the command counts as running until this is dropped"]
pub struct Foreground {
    _count: Counted,
}

/// One count on a counter that a store's connections share, taken back when dropped.
#[derive(Debug)]
struct Counted(Arc<AtomicUsize>);

impl Counted {
    fn new(counter: &Arc<AtomicUsize>) -> Counted {
        counter.fetch_add(1, Ordering::AcqRel);
        Counted(Arc::clone(counter))
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Release);
    }
}

/// Whether any count is taken on `counter`.
fn counted(counter: &AtomicUsize) -> bool {
    counter.load(Ordering::Acquire) > 0
}

/// While one is alive, the store's background thread neither indexes queued notes nor merges
/// index segments (it still checkpoints the log): a sync then does not share the cores or the
/// write lock with that work. What was left waits for the next period after the last hold
/// ends; searches index what is queued themselves, so results stay complete.
#[derive(Debug)]
#[must_use = "the background work resumes when the hold is dropped"]
pub struct BackgroundHold {
    _count: Counted,
}

impl Checkpointer {
    /// Opens a second connection with the same key and starts the thread.
    pub(crate) fn start(path: &Path, enc: Encryption<'_>) -> Result<Checkpointer, StoreError> {
        let mut conn = Connection::open(path)?;
        set_key(&conn, enc)?;
        set_cache(&conn)?;
        conn.busy_handler(Some(short_waits))?;
        let (stop, rx) = channel();
        let holds = Arc::new(AtomicUsize::new(0));
        let held_by = Arc::clone(&holds);
        let thread = std::thread::Builder::new()
            .name("tsunagi-checkpoint".into())
            .spawn(move || run(&mut conn, &rx, &held_by))
            .map_err(|e| StoreError::Io {
                path: path.to_owned(),
                source: e,
            })?;
        Ok(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
            holds,
            foreground: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Marks a command of the app as running until the guard is dropped.
    pub(crate) fn foreground(&self) -> Foreground {
        Foreground {
            _count: Counted::new(&self.foreground),
        }
    }

    /// Waits (up to `max`) while a command of the app is running.
    pub(crate) fn yield_to_foreground(&self, max: Duration) {
        let started = std::time::Instant::now();
        while counted(&self.foreground) && started.elapsed() < max {
            std::thread::sleep(Duration::from_micros(100));
        }
    }

    /// Holds the background work (indexing, merges) until the hold is dropped.
    pub(crate) fn hold(&self) -> BackgroundHold {
        BackgroundHold {
            _count: Counted::new(&self.holds),
        }
    }
}

fn run(conn: &mut Connection, stop: &Receiver<()>, holds: &AtomicUsize) {
    loop {
        match stop.recv_timeout(PERIOD) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        if !counted(holds) {
            // A failure (e.g. the disk is full) is retried next period; searches index the
            // queue themselves, so results never miss a note.
            let _ = crate::fts::index_pending(conn, INDEX_BUDGET, INDEX_BATCH);
            merge_segments(conn, holds);
        }
        // (busy, log pages, checkpointed pages); a failure is retried next period, and the
        // closing connection checkpoints whatever is left.
        let t = std::time::Instant::now();
        let log: rusqlite::Result<(i64, i64, i64)> =
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            });
        crate::holds::record("checkpoint: passive (no lock)", t);
        // Under a steady stream of saves a PASSIVE checkpoint never copies the frames written
        // while it ran, so SQLite never starts the log over and it grows without bound. Past
        // the threshold, RESTART copies everything and makes the next save start the log from
        // the beginning. It holds the write lock from when it gets it until every reader has
        // moved past the log, so: never while a sync runs (a 100,000-record first sync made
        // saves wait 300–450 ms behind it, once a page; the sync's own slices let passive
        // checkpoints through, and the log restarts when one copies everything), and waiting
        // for the lock and the readers only briefly (else it does what PASSIVE does).
        if let Ok((_, pages, _)) = log
            && pages > RESTART_PAGES
            && !counted(holds)
        {
            let t = std::time::Instant::now();
            if conn.busy_handler(Some(brief_waits)).is_ok() {
                let _ =
                    conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0));
                let _ = conn.busy_handler(Some(short_waits));
            }
            crate::holds::record("checkpoint: restart", t);
        }
    }
}

/// Busy handler of a RESTART checkpoint: 5 ms at most (25 × 200 µs), so that it never keeps
/// the write lock long while it waits for a reader.
fn brief_waits(attempt: i32) -> bool {
    if attempt >= 25 {
        return false;
    }
    std::thread::sleep(Duration::from_micros(200));
    true
}

/// Merges full-text index segments (`grams`) in short steps (a save waits at most for one)
/// until none needs merging or the period's time budget is spent. Every indexing batch writes
/// a segment; left alone, a search would read hundreds of them.
fn merge_segments(conn: &Connection, holds: &AtomicUsize) {
    let started = std::time::Instant::now();
    while started.elapsed() < MERGE_BUDGET && !counted(holds) {
        // A failure (e.g. the disk is full) is retried next period; the merge resumes where
        // its last committed step left it.
        match crate::grams::merge_step(conn, MERGE_STEP) {
            Ok(true) => {}
            Ok(false) | Err(_) => break,
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
