//! Consent-scoped sharing and corrections: recording a consent or a meeting (会議記録),
//! sharing a person's case with another team on the basis of a consent or of a 支援会議 (the
//! case keys sealed to the other team's key, a grant, and a 情報提供記録 in the person's
//! history), withdrawing consent (a new case-key epoch the other team cannot read), and
//! correcting a contact (a new version; the old one stays).

use chrono::Local;
use serde::Serialize;
use tsunagi_core::DomainError;
use tsunagi_core::change::EntityKind;
use tsunagi_core::consent::{
    Consent, ConsentFields, ConsentId, ConsentMethod, Disclosure, DisclosureRequest, Evidence,
    LegalBasis,
};
use tsunagi_core::contact::{Contact, ContactOutcome};
use tsunagi_core::ids::{DisclosureId, EntityId};
use tsunagi_core::meeting::{Meeting, MeetingFields, MeetingId, MeetingKind};
use tsunagi_core::person::parse_date;
use tsunagi_core::text::{Note, ShortText};
use tsunagi_protocol::wire::{Aux, Envelope, Kind};
use tsunagi_store::keys::Keystore;
use tsunagi_store::{GrantRow, QueuedEnvelope};
use uuid::Uuid;

use crate::api::{ConsentForm, ContactEditForm, MeetingForm};
use crate::error::Refusal;
use crate::{Device, DeviceError, SyncReport};

/// A case's bases for sharing that outlive the withdrawal of one consent.
#[derive(Debug, Default)]
struct OtherBases {
    /// The person's other consents, active on the day.
    consents: Vec<Consent>,
    /// Teams the case was disclosed to on a 支援会議 decision.
    meetings: Vec<ShortText>,
}

impl OtherBases {
    /// Whether sharing with `team` still has a basis.
    fn allows(&self, team: &ShortText) -> bool {
        self.meetings.contains(team) || self.consents.iter().any(|c| c.covers(team))
    }
}

/// The legal basis offered for sharing a case: the id of a recorded consent, or of a
/// recorded 支援会議 that discussed the person and that the receiving team attended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareBasis<'a> {
    /// A 同意 (consent id).
    Consent(&'a str),
    /// A 支援会議 under Social Welfare Act art. 106-6 (meeting id).
    Meeting(&'a str),
}

/// What sharing did.
#[derive(Debug, Clone, Serialize)]
pub struct ShareReport {
    /// The 情報提供記録 written.
    pub disclosure: DisclosureId,
    /// The receiving team.
    pub team: String,
    /// Case-key epochs sealed to it.
    pub epochs: Vec<u32>,
    /// The sync that sent it (None when the server could not be reached: it goes next time).
    pub sync: Option<SyncReport>,
}

/// What withdrawing a consent did.
#[derive(Debug, Clone, Serialize)]
pub struct WithdrawReport {
    /// Teams that stop receiving the case's new changes (their grant ends).
    pub ended: Vec<String>,
    /// Teams in the consent's scope that go on receiving the case on another basis (a 支援会議
    /// disclosure, or another active consent).
    pub kept: Vec<String>,
    /// The sync that sent the ended grants (None when none ended, or when the server could not
    /// be reached: they go next time).
    pub sync: Option<SyncReport>,
}

/// The non-blank entries of a repeated text field.
fn short_texts(field: &'static str, values: &[String]) -> Result<Vec<ShortText>, DomainError> {
    values
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| ShortText::parse(field, s))
        .collect()
}

/// A day given as YYYY-MM-DD, today when left out or blank.
fn date_or_today(
    field: &'static str,
    value: Option<&str>,
) -> Result<chrono::NaiveDate, DomainError> {
    match value.map(str::trim) {
        None | Some("") => Ok(Local::now().date_naive()),
        Some(s) => parse_date(field, s),
    }
}

impl Device {
    fn load<T: serde::de::DeserializeOwned>(
        &self,
        kind: EntityKind,
        id: &str,
        what: &'static str,
    ) -> Result<(EntityId, T), DeviceError> {
        let uuid = Uuid::parse_str(id.trim()).map_err(|_| DomainError::InvalidId {
            what,
            value: id.to_owned(),
        })?;
        let eid = EntityId::from_uuid(uuid);
        match self.store.entity(eid)? {
            Some(s) if s.kind() == kind && !s.is_deleted() => Ok((eid, crate::view::decode(&s)?)),
            _ => Err(DeviceError::NotFound(format!("{what} {id}"))),
        }
    }

    /// Records a person's consent (同意).
    pub fn record_consent(&mut self, input: &ConsentForm) -> Result<ConsentId, DeviceError> {
        let person = self.parse_person_id(&input.person)?;
        let scope = short_texts("scope", &input.scope)?;
        let given_on = date_or_today("given_on", input.given_on.as_deref())?;
        let expires_on = match input.expires_on.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(parse_date("expires_on", s)?),
        };
        let consent = Consent::new(ConsentFields {
            person,
            scope,
            method: ConsentMethod::parse(&input.method)?,
            given_on,
            expires_on,
            withdrawn_on: None,
        })?;
        let id = ConsentId::from_uuid(Uuid::now_v7());
        self.write_entity(
            EntityKind::Consent,
            id.into(),
            crate::device::to_fields(&consent),
        )?;
        Ok(id)
    }

    /// Records a meeting (会議記録). Every person discussed must be known to this device.
    pub fn record_meeting(&mut self, input: &MeetingForm) -> Result<MeetingId, DeviceError> {
        let persons = input
            .persons
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| self.parse_person_id(s))
            .collect::<Result<Vec<_>, _>>()?;
        let agencies = short_texts("agencies", &input.agencies)?;
        let date = date_or_today("date", input.date.as_deref())?;
        let meeting = Meeting::new(MeetingFields {
            kind: MeetingKind::parse(&input.kind)?,
            date,
            agencies,
            persons,
            decisions: Note::parse("decisions", &input.decisions)?,
            follow_ups: Vec::new(),
        })?;
        let id = MeetingId::from_uuid(crate::device::new_case_uuid()?);
        self.write_entity(
            EntityKind::Meeting,
            id.into(),
            crate::device::to_fields(&meeting),
        )?;
        Ok(id)
    }

    /// Shares a person's case with another team on the basis of a consent or a 支援会議: the
    /// disclosure is authorized (refused without a consent that is active today and covers
    /// the team, or a 支援会議 held by today that discussed the person and that the team
    /// attended), the case keys are sealed to the team's published key, a grant naming the
    /// basis is queued, the 情報提供記録 is written to the person's history, and a sync sends
    /// it all.
    pub async fn share_case<K: Keystore>(
        &mut self,
        person: &str,
        team: &str,
        basis: ShareBasis<'_>,
        keystore: &K,
    ) -> Result<ShareReport, DeviceError> {
        let person_id = self.parse_person_id(person)?;
        let team = team.trim().to_owned();
        let request = DisclosureRequest {
            person: person_id,
            what: Note::parse("what", "ケース記録一式（つなぎでの共有）")?,
            to: ShortText::parse("to", &team)?,
            at: Local::now().fixed_offset(),
        };
        let (disclosure, basis_kind, basis_eid) = match basis {
            ShareBasis::Consent(id) => {
                let (eid, c): (EntityId, Consent) =
                    self.load(EntityKind::Consent, id, "consent id")?;
                let evidence = Evidence::Consent(ConsentId::from_uuid(*eid.as_uuid()), &c);
                (
                    Disclosure::authorize(request, Some(evidence))?,
                    "consent",
                    eid,
                )
            }
            ShareBasis::Meeting(id) => {
                let (eid, m): (EntityId, Meeting) =
                    self.load(EntityKind::Meeting, id, "meeting id")?;
                let evidence = Evidence::SupportMeeting(MeetingId::from_uuid(*eid.as_uuid()), &m);
                (
                    Disclosure::authorize(request, Some(evidence))?,
                    "meeting",
                    eid,
                )
            }
        };
        let (client, enrollment, identity) = self.signed_client(keystore)?;
        if team == enrollment.team {
            return Err(Refusal::ShareWithOwnTeam.into());
        }
        self.refresh_keys(keystore).await?;
        let epoch = self.current_team_epoch(&enrollment)?;
        let case: EntityId = person_id.into();
        // The case needs a key before it can be shared (a person never synced has none).
        let (Some(_), _) = self
            .usable_key(&client, &enrollment, &identity, case, epoch, false)
            .await?
        else {
            return Err(Refusal::NotOwnCase.into());
        };
        let (te, kem) = self.team_kem_of(&client, &enrollment, &team).await?;
        let keys = self.store.case_keys_of(case)?;
        let mut queued = Vec::new();
        for k in &keys {
            queued.push(Self::slot_envelope(
                &enrollment,
                &identity,
                k,
                &team,
                te,
                &kem,
            )?);
        }
        let latest = keys.last().map_or(1, |k| k.epoch);
        let grant = GrantRow {
            case,
            team: team.clone(),
            from_epoch: 1,
            until_epoch: 0,
            version: *Uuid::now_v7().as_bytes(),
        };
        queued.push(self.grant_envelope(
            &enrollment,
            &identity,
            &grant,
            latest,
            basis_kind,
            *basis_eid.as_uuid().as_bytes(),
        )?);
        self.store.add_local_keys(&[], &[grant], &queued)?;
        let id = DisclosureId::from_uuid(Uuid::now_v7());
        self.write_entity(
            EntityKind::Disclosure,
            id.into(),
            crate::device::to_fields(&disclosure),
        )?;
        let sync = match self.sync(keystore).await {
            Ok(r) => Some(r),
            Err(DeviceError::Server(tsunagi_protocol::client::ClientError::Unreachable(_))) => None,
            Err(e) => return Err(e),
        };
        Ok(ShareReport {
            disclosure: id,
            team,
            epochs: keys.iter().map(|k| k.epoch).collect(),
            sync,
        })
    }

    /// Withdraws a consent from `on` (default today): the consent record says so, every team
    /// in its scope that holds a grant on the case loses it from a new case-key epoch on, and
    /// the next changes are sealed under that epoch only. What was shared before stays shared.
    /// A team keeps its grant where another basis allows it: another of the person's consents
    /// active that day that covers it, or a disclosure to it on a 支援会議 decision.
    pub async fn withdraw_consent<K: Keystore>(
        &mut self,
        consent: &str,
        on: Option<&str>,
        keystore: &K,
    ) -> Result<WithdrawReport, DeviceError> {
        let (eid, mut c): (EntityId, Consent) =
            self.load(EntityKind::Consent, consent, "consent id")?;
        let day = date_or_today("on", on)?;
        c.withdraw(day)?;
        self.write_entity(EntityKind::Consent, eid, crate::device::to_fields(&c))?;
        let case: EntityId = c.person().into();
        // Which open grants end is the store's to say; a device that shared nothing under this
        // consent (most of them) records the withdrawal offline and is done.
        let mut report = WithdrawReport {
            ended: Vec::new(),
            kept: Vec::new(),
            sync: None,
        };
        let mut covered = Vec::new();
        for g in self.store.grants_of(case)? {
            let team = ShortText::parse("scope", &g.team)?;
            if g.until_epoch == 0 && c.covers(&team) {
                covered.push((g, team));
            }
        }
        let mut ending = Vec::new();
        if !covered.is_empty() {
            let kept = self.other_bases(case, eid, day)?;
            for (g, team) in covered {
                if kept.allows(&team) {
                    report.kept.push(g.team);
                } else {
                    report.ended.push(g.team.clone());
                    ending.push(g);
                }
            }
        }
        if ending.is_empty() {
            return Ok(report);
        }
        let (client, enrollment, identity) = self.signed_client(keystore)?;
        self.refresh_keys(keystore).await?;
        let epoch = self.current_team_epoch(&enrollment)?;
        let latest = self.store.case_keys_of(case)?.last().map_or(0, |k| k.epoch);
        let mut grants = Vec::new();
        let mut queued = Vec::new();
        for g in ending {
            let ended = GrantRow {
                until_epoch: latest + 1,
                version: *Uuid::now_v7().as_bytes(),
                ..g
            };
            queued.push(self.grant_envelope(
                &enrollment,
                &identity,
                &ended,
                latest.max(1),
                "consent",
                *eid.as_uuid().as_bytes(),
            )?);
            grants.push(ended);
        }
        self.store.add_local_keys(&[], &grants, &queued)?;
        self.usable_key(&client, &enrollment, &identity, case, epoch, true)
            .await?;
        report.sync = match self.sync(keystore).await {
            Ok(r) => Some(r),
            Err(DeviceError::Server(tsunagi_protocol::client::ClientError::Unreachable(_))) => None,
            Err(e) => return Err(e),
        };
        Ok(report)
    }

    /// What else allows sharing the case on `day` besides the consent `withdrawn`: the
    /// person's other consents active that day, and the teams it was disclosed to on a 支援会議
    /// decision (art. 106-6 needs no consent, so a withdrawal does not end that sharing).
    fn other_bases(
        &self,
        case: EntityId,
        withdrawn: EntityId,
        day: chrono::NaiveDate,
    ) -> Result<OtherBases, DeviceError> {
        let live = |kind| -> Result<Vec<_>, DeviceError> {
            Ok(self
                .store
                .case_states_of(case, kind)?
                .into_iter()
                .filter(|s| !s.is_deleted() && s.id() != withdrawn)
                .collect())
        };
        let mut kept = OtherBases::default();
        for s in live(EntityKind::Consent)? {
            let c: Consent = crate::view::decode(&s)?;
            if EntityId::from(c.person()) == case && c.is_active(day) {
                kept.consents.push(c);
            }
        }
        for s in live(EntityKind::Disclosure)? {
            let d: Disclosure = crate::view::decode(&s)?;
            if let LegalBasis::SupportMeeting(_) = d.basis() {
                kept.meetings.push(d.request().to.clone());
            }
        }
        Ok(kept)
    }

    fn grant_envelope(
        &self,
        enrollment: &crate::Enrollment,
        identity: &crate::enroll::Identity,
        g: &GrantRow,
        epoch: u32,
        basis: &str,
        basis_id: [u8; 16],
    ) -> Result<QueuedEnvelope, DeviceError> {
        // The envelope's id is the grant's version (a UUIDv7): receivers keep the newest grant
        // of a case and team, so a replayed older one changes nothing.
        let mut env = Envelope {
            kind: Kind::Grant,
            id: g.version,
            case: *g.case.as_uuid().as_bytes(),
            epoch: epoch.max(1),
            key_id: [0; 16],
            author: *enrollment.device.as_bytes(),
            aux: Aux::Grant {
                team: g.team.clone(),
                from_epoch: g.from_epoch,
                until_epoch: g.until_epoch,
                basis: basis.to_owned(),
                basis_id,
            },
            nonce: [0; 12],
            ct: Vec::new(),
            sig: [0; 64],
        };
        env.sign(&identity.sig);
        Ok(QueuedEnvelope {
            id: env.id,
            case: g.case,
            epoch: epoch.max(1),
            body: env.encode(),
        })
    }

    /// Corrects a contact: a new version of the fields given (the old one stays in history).
    pub fn edit_contact(&mut self, edit: &ContactEditForm) -> Result<(), DeviceError> {
        let (eid, contact): (EntityId, Contact) =
            self.load(EntityKind::Contact, &edit.id, "contact id")?;
        let mut f = contact.fields().clone();
        if let Some(o) = edit.outcome.as_deref().filter(|s| !s.trim().is_empty()) {
            f.outcome = ContactOutcome::parse(o)?;
        }
        if let Some(n) = &edit.note {
            f.note = Note::parse("note", n)?;
        }
        if let Some(o) = &edit.observations {
            f.observations = Note::parse("observations", o)?;
        }
        match (edit.stage, edit.clear_stage) {
            (Some(_), true) => {
                return Err(DeviceError::BadValue(
                    "give a trust stage or clear it, not both".into(),
                ));
            }
            (Some(level), false) => f.stage = Some(self.config().trust_stage(level)?),
            (None, true) => f.stage = None,
            (None, false) => {}
        }
        match edit.next_step.as_deref().map(str::trim) {
            None => {}
            Some("") => f.next_step = None,
            Some(s) => f.next_step = Some(ShortText::parse("next_step", s)?),
        }
        match edit.next_due.as_deref().map(str::trim) {
            None => {}
            Some("") => f.next_due = None,
            Some(s) => f.next_due = Some(parse_date("next_due", s)?),
        }
        let contact = Contact::new(f)?;
        contact.check_config(self.config())?;
        self.write_entity(EntityKind::Contact, eid, crate::device::to_fields(&contact))
    }
}
