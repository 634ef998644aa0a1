//! Read-only looks into what a device holds, for tests, benchmarks and IT's tools: records as
//! merged, a record's change history, the case and team keys it holds (ids, epochs and
//! fingerprints, never key material), and the background indexer's queue. The store itself
//! stays inside the device: every write goes through a use case.

use tsunagi_core::change::ChangeSet;
use tsunagi_core::contact::Contact;
use tsunagi_core::ids::{ContactId, EntityId, PersonId};
use tsunagi_core::merge::EntityState;
use tsunagi_crypto::case::team_kem;

use crate::view::decode;
use crate::{Device, DeviceError};

/// A case key this device holds, without the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseKeyInfo {
    /// Case-key epoch.
    pub epoch: u32,
    /// The key's public id.
    pub key_id: [u8; 16],
    /// The team that owns the case.
    pub team: String,
    /// The owning team's key epoch when the key was made.
    pub team_epoch: u32,
}

impl Device {
    /// A record's merged state as this device holds it (tombstoned ones included), or `None`
    /// when it never reached this device.
    pub fn record_state(&self, id: EntityId) -> Result<Option<EntityState>, DeviceError> {
        Ok(self.store.entity(id)?)
    }

    /// Every record of a case held here (the person and everything about them), in the order
    /// they arrived.
    pub fn case_records(&self, case: EntityId) -> Result<Vec<EntityState>, DeviceError> {
        Ok(self.store.case_states(case)?)
    }

    /// The change sets recorded for a record, oldest first (its audit trail).
    pub fn history(&self, id: EntityId) -> Result<Vec<ChangeSet>, DeviceError> {
        Ok(self.store.history(id)?)
    }

    /// A person's contacts, newest first, at most `limit`, decoded.
    pub fn timeline(
        &self,
        person: PersonId,
        limit: u32,
    ) -> Result<Vec<(ContactId, Contact)>, DeviceError> {
        self.store
            .timeline(person, limit)?
            .iter()
            .map(|s| Ok((ContactId::from(s.id()), decode(s)?)))
            .collect()
    }

    /// The case keys held for a case, oldest epoch first.
    pub fn case_keys(&self, case: EntityId) -> Result<Vec<CaseKeyInfo>, DeviceError> {
        Ok(self
            .store
            .case_keys_of(case)?
            .into_iter()
            .map(|k| CaseKeyInfo {
                epoch: k.epoch,
                key_id: k.key_id,
                team: k.team,
                team_epoch: k.team_epoch,
            })
            .collect())
    }

    /// The team-key epochs held for `team`.
    pub fn team_key_epochs(&self, team: &str) -> Result<Vec<u32>, DeviceError> {
        Ok(self.store.team_key_epochs(team)?)
    }

    /// The fingerprint of the team's key-exchange key derived from the team key held for
    /// `epoch` (two devices holding the same team key show the same one), or `None` when
    /// this device does not hold that key.
    pub fn team_key_fingerprint(
        &self,
        team: &str,
        epoch: u32,
    ) -> Result<Option<String>, DeviceError> {
        match self.store.team_key(team, epoch)? {
            Some(tk) => Ok(Some(team_kem(&tk, team, epoch)?.public().fingerprint())),
            None => Ok(None),
        }
    }

    /// A case's snapshot payload, as the device seals it for the server (benchmarks).
    pub fn snapshot_payload(&self, case: EntityId) -> Result<Vec<u8>, DeviceError> {
        Ok(crate::snapshot_payload::of_case(&self.store, case)?)
    }

    /// Saved notes the background thread has not indexed yet (a search indexes them first).
    pub fn index_pending(&self) -> Result<u64, DeviceError> {
        Ok(self.store.index_pending()?)
    }

    /// Moves the write-ahead log into the store file (so that [`Device::disk_bytes`] counts
    /// what is kept).
    pub fn checkpoint(&self) -> Result<(), DeviceError> {
        Ok(self.store.checkpoint()?)
    }

    /// Bytes the store takes on disk (file and write-ahead log).
    pub fn disk_bytes(&self) -> u64 {
        self.store.disk_bytes()
    }
}
