//! Team statements on the device (docs/identity.md, *Team statement*): a statement counts only
//! when the pinned admin key signed it and it is no older than the one this device holds; an
//! older one (a server rolling the team back to before a revocation or a rotation) or another
//! one of the same version is refused and reported, and the held one stays.

use tsunagi_crypto::identity::{SigPublic, Signature};
use tsunagi_protocol::api::{StatementAnswer, TeamStatement};
use tsunagi_protocol::auth::MAX_SKEW_MS;
use tsunagi_protocol::client::Client;

use crate::enroll::Enrollment;
use crate::{Device, DeviceError};

fn meta_key(team: &str) -> String {
    format!("statement/{team}")
}

/// Meta key: when this device first took a statement listing `device` as revoked.
fn revoked_key(device: &uuid::Uuid) -> String {
    format!("revoked/{device}")
}

/// What a served statement is, against the held one.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Newer than the held one (or the first): keep it.
    Newer,
    /// The held one again.
    Same,
}

/// Checks a served statement of `team` against the admin key and the held statement. `Err`
/// says why it is refused, in words for the report.
pub(crate) fn check(
    st: &TeamStatement,
    admin: &SigPublic,
    team: &str,
    held: Option<&TeamStatement>,
) -> Result<Verdict, String> {
    if st.team != team {
        return Err(format!(
            "the server sent the statement of team {} for team {team}",
            st.team
        ));
    }
    let sig = Signature::from_bytes(&st.sig).map_err(|_| {
        format!(
            "statement {} of team {team}: malformed signature",
            st.version
        )
    })?;
    admin.verify(&st.signed_message(), &sig).map_err(|_| {
        format!(
            "statement {} of team {team} is not signed by the pinned admin key",
            st.version
        )
    })?;
    let Some(held) = held else {
        return Ok(Verdict::Newer);
    };
    if st.version < held.version {
        return Err(format!(
            "statement_rollback: the server sent statement {} of team {team}, older than the held {} — kept the held one",
            st.version, held.version
        ));
    }
    if st.version == held.version {
        return if st.signed_message() == held.signed_message() {
            Ok(Verdict::Same)
        } else {
            Err(format!(
                "statement_fork: two different statements {} of team {team} — kept the held one",
                st.version
            ))
        };
    }
    Ok(Verdict::Newer)
}

impl Device {
    /// The statement of `team` this device holds.
    pub(crate) fn held_statement(&self, team: &str) -> Result<Option<TeamStatement>, DeviceError> {
        match self.store.meta(&meta_key(team))? {
            None => Ok(None),
            Some(json) => serde_json::from_str(&json)
                .map(Some)
                .map_err(|e| DeviceError::Untrusted(format!("held statement unreadable: {e}"))),
        }
    }

    /// The latest time (ms since the epoch) at which `device` may have written before IT
    /// revoked it, by the first signed statement this device took that lists it; `None` when
    /// no statement it took does. The statement's time (whole seconds, signed just after the
    /// server's revocation) plus the clock skew the server allows a device's requests
    /// ([`MAX_SKEW_MS`]): an honest device whose clock ran that far ahead pushed its last
    /// notes before the revocation, and they are not refused.
    pub(crate) fn revoked_at(&self, device: &uuid::Uuid) -> Result<Option<u64>, DeviceError> {
        let Some(at) = self.store.meta(&revoked_key(device))? else {
            return Ok(None);
        };
        let t = chrono::DateTime::parse_from_rfc3339(&at)
            .map_err(|e| DeviceError::Untrusted(format!("revocation time unreadable: {e}")))?;
        let signed = u64::try_from(t.timestamp_millis()).unwrap_or(0);
        Ok(Some(signed + 999 + MAX_SKEW_MS.unsigned_abs()))
    }

    /// Takes a served statement if it checks out and is newer; returns the statement that
    /// counts now (the held one when the served one is refused, with the reason in `refused`).
    pub(crate) fn take_statement(
        &mut self,
        served: Option<&TeamStatement>,
        admin: &SigPublic,
        team: &str,
        refused: &mut Vec<String>,
    ) -> Result<Option<TeamStatement>, DeviceError> {
        let held = self.held_statement(team)?;
        let Some(st) = served else {
            if let Some(h) = &held {
                refused.push(format!(
                    "statement_withheld: the server sent no statement of team {team}; kept the held {}",
                    h.version
                ));
            }
            return Ok(held);
        };
        match check(st, admin, team, held.as_ref()) {
            Ok(Verdict::Same) => Ok(held),
            Ok(Verdict::Newer) => {
                let json =
                    serde_json::to_string(st).map_err(|e| DeviceError::Untrusted(e.to_string()))?;
                // The revocation's time is that of the first statement that lists it: a
                // later statement lists it too, with a later time.
                for device in &st.revoked {
                    if self.store.meta(&revoked_key(device))?.is_none() {
                        self.store.set_meta(&revoked_key(device), &st.issued_at)?;
                    }
                }
                self.store.set_meta(&meta_key(team), &json)?;
                Ok(Some(st.clone()))
            }
            Err(why) => {
                refused.push(why);
                Ok(held)
            }
        }
    }

    /// The statement of another team (one this device shares a case with), fetched, checked
    /// and kept like its own. `Err` when there is none that counts.
    pub(crate) async fn statement_of(
        &mut self,
        client: &Client,
        enrollment: &Enrollment,
        team: &str,
    ) -> Result<TeamStatement, DeviceError> {
        let ans: StatementAnswer = client.get(&format!("/v1/teams/{team}/statement")).await?;
        let mut refused = Vec::new();
        let st = self.take_statement(
            ans.statement.as_ref(),
            &enrollment.admin_key()?,
            team,
            &mut refused,
        )?;
        match (st, refused.is_empty()) {
            (Some(st), true) => Ok(st),
            (_, false) => Err(DeviceError::Untrusted(refused.join("; "))),
            (None, true) => Err(DeviceError::Untrusted(format!(
                "team {team} has no statement signed by IT yet"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tsunagi_crypto::identity::SigKey;
    use tsunagi_protocol::api::{Role, StatementMember};
    use uuid::Uuid;

    fn signed(admin: &SigKey, version: u64, epoch: u32, revoked: Vec<Uuid>) -> TeamStatement {
        let mut st = TeamStatement {
            team: "t".into(),
            version,
            epoch,
            issued_at: "2026-12-03T00:00:00Z".into(),
            members: vec![StatementMember {
                device: Uuid::from_u128(1),
                user: Uuid::from_u128(2),
                user_name: "佐藤".into(),
                role: Role::Worker,
                sig_pub: vec![1; 32],
                kem_pub: vec![2; 32],
            }],
            revoked,
            sig: Vec::new(),
        };
        st.sig = admin.sign(&st.signed_message()).0.to_vec();
        st
    }

    #[test]
    fn a_statement_counts_when_signed_and_not_older_than_the_held_one() {
        let admin = SigKey::generate().unwrap();
        let v1 = signed(&admin, 1, 1, vec![]);
        let v2 = signed(&admin, 2, 2, vec![Uuid::from_u128(9)]);
        let pk = admin.public();
        assert_eq!(check(&v1, &pk, "t", None), Ok(Verdict::Newer));
        assert_eq!(check(&v2, &pk, "t", Some(&v1)), Ok(Verdict::Newer));
        assert_eq!(check(&v2, &pk, "t", Some(&v2)), Ok(Verdict::Same));
        let rollback = check(&v1, &pk, "t", Some(&v2)).unwrap_err();
        assert!(rollback.starts_with("statement_rollback"), "{rollback}");
        // Another statement of the held version, even one the admin signed: a fork.
        let other = signed(&admin, 2, 3, vec![]);
        assert!(
            check(&other, &pk, "t", Some(&v2))
                .unwrap_err()
                .starts_with("statement_fork")
        );
        // Forged: signed by another key, or altered after signing.
        let forged = signed(&SigKey::generate().unwrap(), 3, 3, vec![]);
        assert!(check(&forged, &pk, "t", Some(&v2)).is_err());
        let mut altered = v2.clone();
        altered.revoked.clear();
        altered.version = 3;
        assert!(check(&altered, &pk, "t", Some(&v2)).is_err());
        assert!(check(&v2, &pk, "other-team", None).is_err());
    }
}
