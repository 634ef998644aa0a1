//! Keys in a sync round: the team KEM key published for other teams, case keys made at push
//! time (sealed to the owning team and every team with an open grant) and re-sealed to a new
//! team epoch after a rotation.

use tsunagi_core::ids::EntityId;
use tsunagi_crypto::case::{CaseKey, CaseKeyContext, seal_case_key, team_kem};
use tsunagi_crypto::identity::{KemPublic, Signature};
use tsunagi_crypto::random_array;
use tsunagi_protocol::api::{TeamKem, TeamKemAnswer};
use tsunagi_protocol::client::{Client, ClientError};
use tsunagi_protocol::wire::{Aux, Envelope, Kind};
use tsunagi_store::{CaseKeyRow, QueuedEnvelope};

use super::{Round, now_rfc3339};
use crate::enroll::{Enrollment, Identity, verified_certs};
use crate::error::Refusal;
use crate::{Device, DeviceError};

impl Device {
    /// The team key epoch to seal under: the one the held team statement names, never the
    /// newest key the server happened to hand over (keys beyond it are not taken) nor an older
    /// one the server would have this device keep using after a rotation.
    pub(crate) fn current_team_epoch(&self, enrollment: &Enrollment) -> Result<u32, DeviceError> {
        let statement = self
            .held_statement(&enrollment.team)?
            .filter(|s| s.epoch > 0)
            .ok_or(Refusal::NotApproved)?;
        let epoch = statement.epoch;
        if self.store.team_key(&enrollment.team, epoch)?.is_none() {
            return Err(Refusal::TeamKeyNotHeld { epoch }.into());
        }
        Ok(epoch)
    }

    /// Publishes the public half of TeamKEM for each team epoch held (once each), so members
    /// of other teams can share cases with this team.
    pub(super) async fn publish_team_kems(
        &mut self,
        round: &mut Round<'_>,
    ) -> Result<(), DeviceError> {
        let team = round.enrollment.team.clone();
        for epoch in self.store.team_key_epochs(&team)? {
            let flag = format!("sync.kem_published.{epoch}");
            if self.store.meta(&flag)?.is_some() {
                continue;
            }
            let Some(tk) = self.store.team_key(&team, epoch)? else {
                continue;
            };
            let kem = team_kem(&tk, &team, epoch)?;
            let mut msg = TeamKem {
                team: team.clone(),
                epoch,
                kem_pub: kem.public().as_bytes().to_vec(),
                device: round.enrollment.device,
                sig: Vec::new(),
            };
            msg.sig = round.identity.sig.sign(&msg.signed_message()).0.to_vec();
            let _: TeamKem = round
                .client
                .post(&format!("/v1/teams/{team}/kem"), &msg)
                .await?;
            self.store.set_meta(&flag, &now_rfc3339())?;
        }
        Ok(())
    }

    /// Another team's current KEM key, verified: the publisher's certificate against the
    /// pinned admin key, its team, and its signature.
    pub(crate) async fn team_kem_of(
        &mut self,
        client: &Client,
        enrollment: &Enrollment,
        team: &str,
    ) -> Result<(u32, KemPublic), DeviceError> {
        let ans: TeamKemAnswer =
            client
                .get(&format!("/v1/teams/{team}/kem"))
                .await
                .map_err(|e| match e {
                    ClientError::Refused { status: 404, .. } => {
                        DeviceError::from(Refusal::TeamKeyNotPublished {
                            team: team.to_owned(),
                        })
                    }
                    other => DeviceError::from(other),
                })?;
        let admin = enrollment.admin_key()?;
        let mut why = Vec::new();
        let certs = verified_certs(std::slice::from_ref(&ans.cert), &admin, &mut why);
        let Some((pk, cert)) = certs.get(&ans.kem.device.to_string()) else {
            return Err(DeviceError::Untrusted(format!(
                "the key of team {team} is published by a device whose certificate does not verify"
            )));
        };
        let sig = Signature::from_bytes(&ans.kem.sig)
            .map_err(|_| DeviceError::Untrusted("malformed team key signature".into()))?;
        if cert.team != team
            || ans.kem.team != team
            || pk.verify(&ans.kem.signed_message(), &sig).is_err()
        {
            return Err(DeviceError::Untrusted(format!(
                "the published key of team {team} is not signed by one of its devices"
            )));
        }
        // The team's own statement says which epoch is current and who its members are: an
        // older epoch's key (one a revoked device still holds) or a publisher outside the
        // statement is refused.
        let statement = self.statement_of(client, enrollment, team).await?;
        let publisher_ok = statement
            .member(&ans.kem.device)
            .is_some_and(|m| m.sig_pub == pk.as_bytes());
        if ans.kem.epoch != statement.epoch || !publisher_ok {
            return Err(DeviceError::Untrusted(format!(
                "the published key of team {team} is for epoch {} by device {}, its statement {} says epoch {} and its members",
                ans.kem.epoch, ans.kem.device, statement.version, statement.epoch
            )));
        }
        let kem = KemPublic::from_bytes(&ans.kem.kem_pub)
            .map_err(|_| DeviceError::Untrusted("malformed team key".into()))?;
        Ok((ans.kem.epoch, kem))
    }

    /// After a team key rotation: re-seal every case key of this team's cases to the new team
    /// epoch (keeping its `created`), so devices approved later read the whole history.
    pub(super) fn reseal(&mut self, round: &mut Round<'_>, epoch: u32) -> Result<(), DeviceError> {
        let team = round.enrollment.team.clone();
        let stale: Vec<CaseKeyRow> = self
            .store
            .all_case_keys()?
            .into_iter()
            .filter(|k| k.team == team && k.sealed_to < epoch)
            .collect();
        if stale.is_empty() {
            return Ok(());
        }
        let tk = self
            .store
            .team_key(&team, epoch)?
            .ok_or(Refusal::TeamKeyNotHeld { epoch })?;
        let kem = team_kem(&tk, &team, epoch)?.public();
        let mut keys = Vec::new();
        let mut queued = Vec::new();
        for mut k in stale {
            queued.push(Self::slot_envelope(
                round.enrollment,
                round.identity,
                &k,
                &team,
                epoch,
                &kem,
            )?);
            k.sealed_to = epoch;
            keys.push(k);
        }
        self.store.add_local_keys(&keys, &[], &queued)?;
        Ok(())
    }

    /// A case-key slot: `k` sealed to `team`'s KEM key of `team_epoch`, signed by this device.
    pub(crate) fn slot_envelope(
        enrollment: &Enrollment,
        identity: &Identity,
        k: &CaseKeyRow,
        team: &str,
        team_epoch: u32,
        kem: &KemPublic,
    ) -> Result<QueuedEnvelope, DeviceError> {
        let case = *k.case.as_uuid().as_bytes();
        let ctx = CaseKeyContext {
            case: &case,
            epoch: k.epoch,
            key_id: &k.key_id,
            team,
            team_epoch,
        };
        let sealed = seal_case_key(kem, &k.key, &ctx)?;
        let mut env = Envelope {
            kind: Kind::CaseKey,
            id: random_array()?,
            case,
            epoch: k.epoch,
            key_id: k.key_id,
            author: *enrollment.device.as_bytes(),
            aux: Aux::CaseKey {
                team: team.to_owned(),
                team_epoch,
                created: k.team_epoch,
                enc: sealed.enc,
            },
            nonce: [0; 12],
            ct: sealed.ct,
            sig: [0; 64],
        };
        env.sign(&identity.sig);
        Ok(QueuedEnvelope {
            id: env.id,
            case: k.case,
            epoch: k.epoch,
            body: env.encode(),
        })
    }

    /// The case key to seal new envelopes of `case` with: the latest, if it was made under the
    /// team's current key epoch and after the last withdrawn grant; otherwise a new epoch,
    /// sealed to the owning team and every team with an open grant (queued before use).
    pub(crate) async fn usable_key(
        &mut self,
        client: &Client,
        enrollment: &Enrollment,
        identity: &Identity,
        case: EntityId,
        epoch: u32,
        fresh: bool,
    ) -> Result<(Option<CaseKeyRow>, bool), DeviceError> {
        let keys = self.store.case_keys_of(case)?;
        let latest = keys.last().cloned();
        if let Some(k) = &latest {
            if k.team != enrollment.team {
                // Another team's case, shared with us: read only.
                return Ok((None, false));
            }
            let withdrawn_after = self
                .store
                .grants_of(case)?
                .iter()
                .any(|g| g.until_epoch > k.epoch);
            if k.team_epoch == epoch && !fresh && !withdrawn_after {
                return Ok((Some(k.clone()), false));
            }
        }
        let new_epoch = latest.as_ref().map_or(1, |k| k.epoch + 1);
        let row = CaseKeyRow {
            case,
            epoch: new_epoch,
            key_id: random_array()?,
            key: CaseKey::generate()?,
            team: enrollment.team.clone(),
            team_epoch: epoch,
            sealed_to: epoch,
            local: true,
        };
        let tk = self
            .store
            .team_key(&enrollment.team, epoch)?
            .ok_or(Refusal::TeamKeyNotHeld { epoch })?;
        let own = team_kem(&tk, &enrollment.team, epoch)?.public();
        let mut queued = vec![Self::slot_envelope(
            enrollment,
            identity,
            &row,
            &enrollment.team,
            epoch,
            &own,
        )?];
        for g in self.store.grants_of(case)? {
            if g.until_epoch == 0 && g.team != enrollment.team {
                let (te, kem) = self.team_kem_of(client, enrollment, &g.team).await?;
                queued.push(Self::slot_envelope(
                    enrollment, identity, &row, &g.team, te, &kem,
                )?);
            }
        }
        self.store
            .add_local_keys(std::slice::from_ref(&row), &[], &queued)?;
        Ok((Some(row), true))
    }
}
