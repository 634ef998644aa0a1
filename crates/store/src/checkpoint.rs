//! Background WAL checkpoints. With SQLite's automatic checkpoint, the write that crosses the
//! threshold copies the whole log into the file and syncs it (tens of milliseconds) while the
//! worker waits on the save button. Here a second connection does that work on its own thread
//! (PASSIVE: it never blocks writers or readers); the write path only appends to the log.
//! The same thread merges the full-text indexes' segments in small steps, for the same reason.

use rusqlite::Connection;
use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::StoreError;
use crate::open::{Encryption, set_key, short_waits};

/// Check the log this often.
const PERIOD: Duration = Duration::from_millis(500);
/// Checkpoint once the log holds this many pages (SQLite's own default threshold).
const THRESHOLD_PAGES: i64 = 1000;
/// Pages of full-text index merged per step.
const MERGE_PAGES: u32 = 16;

/// The checkpointer of one open store; stopped (and joined) when dropped.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Opens a second connection with the same key and starts the thread.
    pub(crate) fn start(path: &Path, enc: Encryption<'_>) -> Result<Checkpointer, StoreError> {
        let mut conn = Connection::open(path)?;
        set_key(&conn, enc)?;
        conn.busy_handler(Some(short_waits))?;
        let (stop, rx) = channel();
        let thread = std::thread::Builder::new()
            .name("tsunagi-checkpoint".into())
            .spawn(move || run(&conn, &rx))
            .map_err(|e| StoreError::Io {
                path: path.to_owned(),
                source: e,
            })?;
        Ok(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

fn run(conn: &Connection, stop: &Receiver<()>) {
    loop {
        match stop.recv_timeout(PERIOD) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        // Merge full-text index segments a little at a time (short write transactions; the
        // worker's save waits at most for one of them).
        for table in ["contact_fts", "contact_bigram"] {
            let _ = conn.execute(
                &format!("INSERT INTO {table} ({table}, rank) VALUES ('merge', {MERGE_PAGES})"),
                [],
            );
        }
        // (busy, log pages, checkpointed pages); a failure is retried next period, and the
        // closing connection checkpoints whatever is left.
        let log: rusqlite::Result<(i64, i64, i64)> =
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            });
        if let Ok((_, pages, done)) = log
            && pages - done > THRESHOLD_PAGES
        {
            // A long log that could not be copied (a reader held it): try again sooner.
            let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0));
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
