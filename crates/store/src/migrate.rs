//! Schema migrations of the device store, embedded from `migrations/device/`. Each runs in its
//! own transaction together with the version bump, so a failure leaves the previous version.

use rusqlite::Connection;

use crate::StoreError;

/// One migration: a version (1, 2, ...), a name, and its SQL.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// `PRAGMA user_version` after this migration.
    pub version: i64,
    /// Short name (the file name).
    pub name: &'static str,
    /// The SQL script.
    pub sql: &'static str,
}

/// The device schema, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_init",
        sql: include_str!("../../../migrations/device/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "0002_team_keys",
        sql: include_str!("../../../migrations/device/0002_team_keys.sql"),
    },
    Migration {
        version: 3,
        name: "0003_sync",
        sql: include_str!("../../../migrations/device/0003_sync.sql"),
    },
    Migration {
        version: 4,
        name: "0004_gram_index",
        sql: include_str!("../../../migrations/device/0004_gram_index.sql"),
    },
    Migration {
        version: 5,
        name: "0005_fts_hashsize",
        sql: include_str!("../../../migrations/device/0005_fts_hashsize.sql"),
    },
    Migration {
        version: 6,
        name: "0006_rust_gram_index",
        sql: include_str!("../../../migrations/device/0006_rust_gram_index.sql"),
    },
    Migration {
        version: 7,
        name: "0007_app",
        sql: include_str!("../../../migrations/device/0007_app.sql"),
    },
    Migration {
        version: 8,
        name: "0008_chain",
        sql: include_str!("../../../migrations/device/0008_chain.sql"),
    },
    Migration {
        version: 9,
        name: "0009_grant_versions",
        sql: include_str!("../../../migrations/device/0009_grant_versions.sql"),
    },
];

/// The schema version this program writes.
pub fn latest_version(migrations: &[Migration]) -> i64 {
    migrations.last().map_or(0, |m| m.version)
}

/// The store's schema version.
pub fn current_version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Applies every migration newer than the store's version. Refuses a store from a newer
/// program. Each migration and its version bump commit together or not at all.
pub fn apply(conn: &mut Connection, migrations: &[Migration]) -> Result<i64, StoreError> {
    let found = current_version(conn)?;
    let supported = latest_version(migrations);
    if found > supported {
        return Err(StoreError::NewerSchema { found, supported });
    }
    for m in migrations.iter().filter(|m| m.version > found) {
        let tx = conn.transaction()?;
        tx.execute_batch(m.sql)
            .and_then(|()| tx.execute_batch(&format!("PRAGMA user_version = {}", m.version)))
            .map_err(|source| StoreError::Migration {
                version: m.version,
                name: m.name,
                source,
            })?;
        tx.commit().map_err(|source| StoreError::Migration {
            version: m.version,
            name: m.name,
            source,
        })?;
    }
    current_version(conn)
}
