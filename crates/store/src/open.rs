//! Opening and creating the store file: key, integrity checks before anything is written,
//! pragmas, migrations.

use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use tsunagi_crypto::StoreKey;

use crate::StoreError;
use crate::checkpoint::Checkpointer;
use crate::error::is_corruption;
use crate::migrate::{self, MIGRATIONS, Migration};

/// How the file is protected.
#[derive(Debug, Clone, Copy)]
pub enum Encryption<'a> {
    /// SQLCipher with this raw 256-bit key (every device store).
    Key(&'a StoreKey),
    /// No encryption. Only for the benchmark baseline that measures SQLCipher's cost.
    Plain,
}

/// An open device store.
#[derive(Debug)]
pub struct Store {
    // Fields drop in order: the checkpointer's thread is joined (and its connection closed)
    // before `conn`, the last connection, closes and checkpoints whatever is left.
    _checkpointer: std::sync::Arc<Checkpointer>,
    pub(crate) conn: Connection,
    path: PathBuf,
    /// What the last time-sliced sync transaction spent after its records (see
    /// `Store::commit_page_sliced`), kept from one page to the next.
    pub(crate) slice_tail: std::time::Duration,
}

impl Store {
    /// Creates a new store file (refuses to overwrite one) and applies the schema.
    pub fn create(path: &Path, enc: Encryption<'_>) -> Result<Store, StoreError> {
        if path.exists() {
            return Err(StoreError::AlreadyExists(path.to_owned()));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        set_key(&conn, enc)?;
        Self::finish_open(conn, path, enc, MIGRATIONS)
    }

    /// Opens an existing store. `key_check` is the key's check value recorded at creation
    /// ([`StoreKey::check_value`]); with it a wrong key is told apart from a damaged file.
    /// Nothing is written to the file until the key and the file have been checked.
    pub fn open(
        path: &Path,
        enc: Encryption<'_>,
        key_check: Option<&[u8; 32]>,
    ) -> Result<Store, StoreError> {
        Self::open_with(path, enc, key_check, MIGRATIONS)
    }

    /// [`Store::open`] with an explicit migration list (tests of the migration machinery).
    pub fn open_with(
        path: &Path,
        enc: Encryption<'_>,
        key_check: Option<&[u8; 32]>,
        migrations: &[Migration],
    ) -> Result<Store, StoreError> {
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => StoreError::NotFound(path.to_owned()),
            _ => StoreError::Io {
                path: path.to_owned(),
                source: e,
            },
        })?;
        if meta.len() == 0 {
            return Err(StoreError::Damaged {
                detail: "the file is empty".into(),
            });
        }
        if let (Encryption::Key(key), Some(expected)) = (enc, key_check)
            && key.check_value() != *expected
        {
            return Err(StoreError::WrongKey);
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        set_key(&conn, enc)?;
        // First read: decrypts and authenticates page 1.
        let first_read = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
            r.get::<_, i64>(0)
        });
        if let Err(e) = first_read {
            // A wrong key fails page 1's authentication ("not a database"); "corrupt" means
            // page 1 decrypted, so the key is right and the file is what is wrong.
            let page_one_read = e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseCorrupt);
            return Err(match (is_corruption(&e), enc, key_check) {
                // The key matched its check value, so the file is what is wrong.
                (true, Encryption::Key(_), Some(_)) | (true, Encryption::Plain, _) => {
                    StoreError::Damaged {
                        detail: e.to_string(),
                    }
                }
                (true, Encryption::Key(_), None) if page_one_read => StoreError::Damaged {
                    detail: e.to_string(),
                },
                (true, Encryption::Key(_), None) => StoreError::WrongKey,
                (false, _, _) => StoreError::Sqlite(e),
            });
        }
        check_length(&conn, path, meta.len())?;
        Self::finish_open(conn, path, enc, migrations)
    }

    fn finish_open(
        mut conn: Connection,
        path: &Path,
        enc: Encryption<'_>,
        migrations: &[Migration],
    ) -> Result<Store, StoreError> {
        // Refuse a newer schema before changing anything (journal mode included).
        let found = migrate::current_version(&conn)?;
        let supported = migrate::latest_version(migrations);
        if found > supported {
            return Err(StoreError::NewerSchema { found, supported });
        }
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON;
             PRAGMA temp_store = MEMORY;",
        )?;
        set_backstop(&conn)?;
        set_cache(&conn)?;
        conn.busy_handler(Some(short_waits))?;
        migrate::apply(&mut conn, migrations)?;
        let checkpointer = Checkpointer::start(path, enc)?;
        let mut store = Store {
            _checkpointer: std::sync::Arc::new(checkpointer),
            conn,
            path: path.to_owned(),
            slice_tail: std::time::Duration::ZERO,
        };
        if migrate::latest_version(migrations) >= 3 {
            store.backfill_cases()?;
        }
        Ok(store)
    }

    /// Another connection to the same open store, for work that must not wait for this one's
    /// (the app's sync runs on its own connection while the worker reads and saves on the
    /// first). It shares the background thread; SQLite serializes the two connections'
    /// writes, and each reads the last committed state. `enc` must be the key this store was
    /// opened with.
    pub fn sibling(&self, enc: Encryption<'_>) -> Result<Store, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(&self.path, flags)?;
        set_key(&conn, enc)?;
        conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(|e| {
            if is_corruption(&e) {
                StoreError::WrongKey
            } else {
                StoreError::Sqlite(e)
            }
        })?;
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON;
             PRAGMA temp_store = MEMORY;",
        )?;
        set_backstop(&conn)?;
        set_cache(&conn)?;
        conn.busy_handler(Some(short_waits))?;
        Ok(Store {
            _checkpointer: std::sync::Arc::clone(&self._checkpointer),
            conn,
            path: self.path.clone(),
            slice_tail: std::time::Duration::ZERO,
        })
    }

    /// Holds the background thread's indexing and index merges until the returned value is
    /// dropped (the device holds them while it syncs); checkpoints go on.
    pub fn hold_background_work(&self) -> crate::BackgroundHold {
        self._checkpointer.hold()
    }

    /// Marks a command of the app (on any connection of this store) as running until the
    /// guard is dropped: a time-sliced sync yields to it between its transactions.
    pub fn foreground(&self) -> crate::Foreground {
        self._checkpointer.foreground()
    }

    /// A time-sliced sync, before each transaction: waits while a command of the app runs
    /// (at most `max`, so a sync is never starved).
    pub(crate) fn yield_to_foreground(&self, max: std::time::Duration) {
        self._checkpointer.yield_to_foreground(max);
    }

    /// The store file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Full integrity check of every page (slow on large stores: for an explicit check
    /// command, not for every open).
    pub fn integrity_check(&self) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let rows: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        if rows == ["ok"] {
            Ok(())
        } else {
            Err(StoreError::Damaged {
                detail: rows.join("; "),
            })
        }
    }

    /// Bytes on disk: the file plus its write-ahead log.
    pub fn disk_bytes(&self) -> u64 {
        let wal = wal_path(&self.path);
        [self.path.clone(), wal]
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }

    /// Moves the write-ahead log into the main file now (the background checkpointer does it
    /// continually; this is for a clean hand-over, e.g. before copying the file).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        // The background thread may hold the checkpoint lock for a moment: retry briefly.
        for _ in 0..100 {
            let busy: i64 = self
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
            if busy == 0 {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            Some("checkpoint stayed busy".into()),
        )))
    }
}

pub(crate) fn set_key(conn: &Connection, enc: Encryption<'_>) -> Result<(), StoreError> {
    if let Encryption::Key(key) = enc {
        // The literal is zeroized on drop; SQLCipher copies the key and wipes its own copy
        // when the connection closes.
        let literal = key.sqlcipher_literal();
        conn.execute_batch(&format!("PRAGMA key = \"{}\";", &*literal))?;
        let version: Option<String> = conn
            .query_row("PRAGMA cipher_version", [], |r| r.get(0))
            .ok();
        if version.is_none_or(|v| v.is_empty()) {
            return Err(StoreError::Damaged {
                detail: "SQLCipher is not linked".into(),
            });
        }
    }
    Ok(())
}

/// Page cache of each connection, KiB. SQLite's default (2 MiB) holds little of a store of
/// 100,000 notes; every page read again from the file is decrypted and authenticated again
/// by SQLCipher. Measured with tsunagi-syncbench at 100,000 (2 MiB → 32 MiB): capture
/// 103 → 93–96 s, fresh pull 57.6 → 51–55 s, for ~70 MB more resident memory.
const CACHE_KIB: u32 = 32 * 1024;

/// Sets the connection's page cache ([`CACHE_KIB`]).
pub(crate) fn set_cache(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(&format!("PRAGMA cache_size = -{CACHE_KIB};"))?;
    Ok(())
}

/// Runs `f` in a write transaction begun by hand on a shared `&Connection` (a search, the
/// background thread): committed when `f` succeeds, rolled back when it fails.
pub(crate) fn immediate<T>(
    conn: &Connection,
    what: &'static str,
    f: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let held = std::time::Instant::now();
    match f() {
        Ok(v) => {
            conn.execute_batch("COMMIT")?;
            crate::holds::record(what, held);
            Ok(v)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Busy handler: wait in 200 µs steps, up to 10 s. SQLite's default handler sleeps 1, 2, 5,
/// 10 ... ms, so a save that meets the background thread's short transaction would wait
/// several milliseconds longer than needed.
pub(crate) fn short_waits(attempt: i32) -> bool {
    if attempt >= 50_000 {
        return false;
    }
    std::thread::sleep(std::time::Duration::from_micros(200));
    true
}

/// A file shorter than its header says was truncated (a WAL may legitimately hold pages that
/// are not in the main file yet, so the check only runs without one).
fn check_length(conn: &Connection, path: &Path, file_len: u64) -> Result<(), StoreError> {
    let wal = std::fs::metadata(wal_path(path))
        .map(|m| m.len())
        .unwrap_or(0);
    if wal > 0 {
        return Ok(());
    }
    let pages = pragma_u64(conn, "page_count")?;
    let page_size = pragma_u64(conn, "page_size")?;
    if pages * page_size > file_len {
        return Err(StoreError::Damaged {
            detail: format!(
                "the file is truncated: {file_len} bytes where the header says {}",
                pages * page_size
            ),
        });
    }
    Ok(())
}

/// A numeric pragma; SQLCipher answers some (page_size) as text.
fn pragma_u64(conn: &Connection, name: &str) -> Result<u64, StoreError> {
    let v: rusqlite::types::Value = conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))?;
    let n = match v {
        rusqlite::types::Value::Integer(i) => u64::try_from(i).ok(),
        rusqlite::types::Value::Text(t) => t.trim().parse().ok(),
        _ => None,
    };
    n.ok_or_else(|| StoreError::Damaged {
        detail: format!("unreadable {name}"),
    })
}

fn wal_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push("-wal");
    PathBuf::from(s)
}

/// The write path's backstop against an unbounded log: the background thread starts the log
/// over past 16 MiB, but while it cannot (a sync's hold, or a loaded machine where it never
/// gets the write lock between back-to-back saves) the log would grow by every save. Past
/// [`crate::checkpoint::BACKSTOP_PAGES`] the committing connection checkpoints itself (SQLite's
/// automatic PASSIVE checkpoint): that one save waits, and the log stays bounded.
fn set_backstop(conn: &Connection) -> Result<(), StoreError> {
    conn.pragma_update(
        None,
        "wal_autocheckpoint",
        crate::checkpoint::BACKSTOP_PAGES,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_connection_has_the_larger_page_cache() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(&dir.path().join("s.db"), Encryption::Plain).unwrap();
        let kib: i64 = store
            .conn
            .query_row("PRAGMA cache_size", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kib, -i64::from(CACHE_KIB));
    }
}
