//! IT's own registry of approved device keys and of each team's signed state (`registry.json`
//! beside `admin.json`): team keys are sealed only to keys recorded here when IT approved a
//! device after comparing its code, never to a key the server lists; team statements are
//! signed from it, with a version that only grows.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use tsunagi_crypto::identity::SigKey;
use tsunagi_protocol::api::{StatementMember, TeamStatement};
use uuid::Uuid;

use crate::error::AdminError;

/// The registry's file name.
pub const REGISTRY_FILE: &str = "registry.json";

/// One team as IT last signed it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamRecord {
    /// Version of the last statement signed and sent (0: none yet).
    pub version: u64,
    /// The team key epoch whose slots the server accepted (0: no key yet).
    pub epoch: u32,
    /// Approved, unrevoked devices with the keys IT approved.
    pub members: Vec<StatementMember>,
    /// Revoked devices.
    pub revoked: Vec<Uuid>,
}

impl TeamRecord {
    /// The member entry of `device`.
    pub fn member(&self, device: &Uuid) -> Option<&StatementMember> {
        self.members.iter().find(|m| m.device == *device)
    }

    /// The next statement: `version + 1` with these members, revocations and epoch, signed.
    pub fn sign_next(
        &self,
        admin: &SigKey,
        team: &str,
        epoch: u32,
        members: Vec<StatementMember>,
        revoked: Vec<Uuid>,
        issued_at: &str,
    ) -> Result<TeamStatement, AdminError> {
        let version = self
            .version
            .checked_add(1)
            .ok_or_else(|| AdminError::Untrusted("the statement version is exhausted".into()))?;
        let mut st = TeamStatement {
            team: team.to_owned(),
            version,
            epoch,
            issued_at: issued_at.to_owned(),
            members,
            revoked,
            sig: Vec::new(),
        };
        st.sig = admin.sign(&st.signed_message()).0.to_vec();
        Ok(st)
    }
}

/// Every team's record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registry {
    /// Format version (1).
    pub v: u32,
    /// Records by team id.
    pub teams: BTreeMap<String, TeamRecord>,
}

impl Registry {
    /// Reads `DIR/registry.json`; an org without one has approved nothing yet.
    pub fn load(dir: &Path) -> Result<Registry, AdminError> {
        let path = dir.join(REGISTRY_FILE);
        let text = match fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Registry {
                    v: 1,
                    teams: BTreeMap::new(),
                });
            }
            Err(e) => return Err(AdminError::io(&path, e)),
        };
        let reg: Registry =
            serde_json::from_slice(&text).map_err(|e| AdminError::RegistryUnreadable {
                path: path.clone(),
                detail: e.to_string(),
            })?;
        if reg.v != 1 {
            return Err(AdminError::RegistryUnreadable {
                path,
                detail: format!("unknown version {}", reg.v),
            });
        }
        Ok(reg)
    }

    /// Writes it through a temporary file and a rename, synced, so a crash leaves the old or
    /// the new registry, never half of one.
    pub fn save(&self, dir: &Path) -> Result<(), AdminError> {
        let path = dir.join(REGISTRY_FILE);
        let tmp: PathBuf = dir.join(format!("{REGISTRY_FILE}.tmp"));
        let text = serde_json::to_vec_pretty(self).map_err(|e| AdminError::RegistryUnreadable {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&text)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            fs::File::open(dir)?.sync_all()
        };
        write().map_err(|e| AdminError::io(&path, e))
    }

    /// The record of `team` (empty when IT has approved nobody in it).
    pub fn team(&self, team: &str) -> TeamRecord {
        self.teams.get(team).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registry_survives_a_save_and_an_absent_one_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Registry::load(dir.path()).unwrap().teams.len(), 0);
        let mut reg = Registry::load(dir.path()).unwrap();
        reg.teams.insert(
            "t".into(),
            TeamRecord {
                version: 3,
                epoch: 2,
                members: vec![],
                revoked: vec![Uuid::nil()],
            },
        );
        reg.save(dir.path()).unwrap();
        assert_eq!(Registry::load(dir.path()).unwrap(), reg);
        fs::write(dir.path().join(REGISTRY_FILE), b"{").unwrap();
        assert!(matches!(
            Registry::load(dir.path()),
            Err(AdminError::RegistryUnreadable { .. })
        ));
    }
}
