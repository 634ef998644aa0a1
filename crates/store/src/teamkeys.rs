//! Team keys TK[team, epoch] held by this device, inside the encrypted store. Only keys opened
//! from a key slot whose signer was verified are ever written here (crates/device checks).

use rusqlite::{OptionalExtension, params};
use tsunagi_crypto::identity::TeamKey;

use crate::{Store, StoreError};

impl Store {
    /// Records a team key (idempotent: the same key for the same epoch changes nothing; a
    /// different key for a known epoch is refused rather than silently replaced).
    pub fn put_team_key(
        &mut self,
        team: &str,
        epoch: u32,
        key: &TeamKey,
        signer: &str,
        now: &str,
    ) -> Result<(), StoreError> {
        if let Some(existing) = self.team_key(team, epoch)? {
            if existing == *key {
                return Ok(());
            }
            return Err(StoreError::Unreadable {
                what: format!("team key {team}/{epoch}"),
                detail: "a different key is already recorded for this epoch".into(),
            });
        }
        self.conn.execute(
            "INSERT INTO team_keys (team, epoch, key, signer, received_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![team, epoch, key.as_bytes().as_slice(), signer, now],
        )?;
        Ok(())
    }

    /// One team key.
    pub fn team_key(&self, team: &str, epoch: u32) -> Result<Option<TeamKey>, StoreError> {
        let bytes: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT key FROM team_keys WHERE team = ?1 AND epoch = ?2",
                params![team, epoch],
                |r| r.get(0),
            )
            .optional()?;
        bytes
            .map(|b| {
                TeamKey::from_bytes(&b).map_err(|e| StoreError::Unreadable {
                    what: format!("team key {team}/{epoch}"),
                    detail: e.to_string(),
                })
            })
            .transpose()
    }

    /// The epochs held for a team, ascending.
    pub fn team_key_epochs(&self, team: &str) -> Result<Vec<u32>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT epoch FROM team_keys WHERE team = ?1 ORDER BY epoch")?;
        let rows = stmt.query_map([team], |r| r.get::<_, u32>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
