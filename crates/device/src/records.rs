//! Use cases that change records beyond the first capture: a person's profile, support plans
//! through their lifecycle, households, conflict resolutions, and the drafts of forms being
//! typed. Each validates what was typed into domain types before one change set is written.

use chrono::{Local, NaiveDate, Utc};
use serde_json::Value;
use std::collections::BTreeMap;
use tsunagi_core::DomainError;
use tsunagi_core::change::EntityKind;
use tsunagi_core::contact::Contact;
use tsunagi_core::household::{Household, HouseholdFields, HouseholdMember, Relation};
use tsunagi_core::ids::{EntityId, HouseholdId, PersonId, PlanId};
use tsunagi_core::meeting::{Meeting, MeetingId};
use tsunagi_core::person::{
    BirthInfo, Kana, Person, PersonName, PersonStatus, Phone, Sex, parse_date,
};
use tsunagi_core::plan::{Plan, PlanState, Role};
use tsunagi_core::text::{Note, ShortText};
use tsunagi_store::DraftRow;
use uuid::Uuid;

use crate::api::{
    DraftSave, HouseholdForm, PersonEditForm, PlanEditForm, PlanForm, PlanMeetingForm,
    PlanTransitionForm, ResolveConflictForm, RoleView,
};
use crate::device::to_fields;
use crate::error::Refusal;
use crate::view::decode;
use crate::{Device, DeviceError};

/// `Some("")` clears an optional field, `Some(text)` sets it, `None` leaves it.
fn edit_opt<T>(
    current: Option<T>,
    given: &Option<String>,
    parse: impl FnOnce(&str) -> Result<T, DomainError>,
) -> Result<Option<T>, DomainError> {
    match given.as_deref().map(str::trim) {
        None => Ok(current),
        Some("") => Ok(None),
        Some(s) => parse(s).map(Some),
    }
}

fn roles(given: &[RoleView]) -> Result<Vec<Role>, DomainError> {
    given
        .iter()
        .filter(|r| !(r.agency.trim().is_empty() && r.task.trim().is_empty()))
        .map(|r| {
            Ok(Role {
                agency: ShortText::parse("agency", &r.agency)?,
                task: ShortText::parse("task", &r.task)?,
            })
        })
        .collect()
}

fn goals(given: &[String]) -> Result<Vec<ShortText>, DomainError> {
    given
        .iter()
        .filter(|g| !g.trim().is_empty())
        .map(|g| ShortText::parse("goals", g))
        .collect()
}

fn optional_date(
    field: &'static str,
    given: &Option<String>,
) -> Result<Option<NaiveDate>, DomainError> {
    match given.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => parse_date(field, s).map(Some),
    }
}

pub(crate) fn parse_entity_id(what: &'static str, s: &str) -> Result<EntityId, DomainError> {
    Uuid::parse_str(s.trim())
        .map(EntityId::from_uuid)
        .map_err(|_| DomainError::InvalidId {
            what,
            value: s.to_owned(),
        })
}

impl Device {
    /// Reads a live record of `kind`, decoded into its domain type.
    pub(crate) fn record<T: serde::de::DeserializeOwned>(
        &self,
        kind: EntityKind,
        id: EntityId,
        what: &'static str,
    ) -> Result<T, DeviceError> {
        match self.store.entity(id)? {
            Some(s) if s.kind() == kind && !s.is_deleted() => decode(&s),
            _ => Err(DeviceError::NotFound(format!("{what} {id}"))),
        }
    }

    /// Changes a person's record: the fields given change, the rest stay (a new version;
    /// concurrent edits on two devices stay visible as a conflict until resolved).
    pub fn edit_person(&mut self, form: &PersonEditForm) -> Result<(), DeviceError> {
        let pid = self.parse_person_id(&form.id)?;
        let person: Person = self.record(EntityKind::Person, pid.into(), "person")?;
        let today = Local::now().date_naive();
        let mut f = person.into_fields();
        if let Some(n) = &form.name {
            f.name = PersonName::parse(n)?;
        }
        f.kana = edit_opt(f.kana, &form.kana, Kana::parse)?;
        if let Some(d) = form.district.as_deref().filter(|s| !s.trim().is_empty()) {
            f.district = self.config().district(d)?;
        }
        if let Some(programs) = &form.programs {
            let mut list = Vec::new();
            for p in programs.iter().filter(|p| !p.trim().is_empty()) {
                list.push(self.config().program(p)?);
            }
            f.programs = list;
        }
        f.birth = edit_opt(f.birth, &form.birth, |s| BirthInfo::parse(s, today))?;
        f.sex = edit_opt(f.sex, &form.sex, Sex::parse)?;
        f.address = edit_opt(f.address, &form.address, |s| ShortText::parse("address", s))?;
        f.phone = edit_opt(f.phone, &form.phone, Phone::parse)?;
        if let Some(s) = form.status.as_deref().filter(|s| !s.trim().is_empty()) {
            f.status = PersonStatus::parse(s)?;
        }
        f.referred_on = edit_opt(f.referred_on, &form.referred_on, |s| {
            parse_date("referred_on", s)
        })?;
        if let Some(m) = &form.memo {
            f.memo = Note::parse("memo", m)?;
        }
        let person = Person::new(f)?;
        person.check_config(self.config())?;
        self.write_entity(EntityKind::Person, pid.into(), to_fields(&person))
    }

    /// Starts a 支援プラン in draft.
    pub fn add_plan(&mut self, form: &PlanForm) -> Result<PlanId, DeviceError> {
        let person = self.parse_person_id(&form.person)?;
        let plan = Plan::draft(
            person,
            goals(&form.goals)?,
            roles(&form.roles)?,
            optional_date("review_on", &form.review_on)?,
        );
        let id = PlanId::from_uuid(Uuid::now_v7());
        self.write_entity(EntityKind::Plan, id.into(), to_fields(&plan))?;
        Ok(id)
    }

    fn load_plan(&self, id: &str) -> Result<(EntityId, Plan), DeviceError> {
        let eid = parse_entity_id("plan id", id)?;
        Ok((eid, self.record(EntityKind::Plan, eid, "plan")?))
    }

    /// Changes a plan's goals, roles or review date (not in a terminal state).
    pub fn edit_plan(&mut self, form: &PlanEditForm) -> Result<(), DeviceError> {
        let (eid, mut plan) = self.load_plan(&form.id)?;
        if let Some(g) = &form.goals {
            plan.set_goals(goals(g)?)?;
        }
        if let Some(r) = &form.roles {
            plan.set_roles(roles(r)?)?;
        }
        if form.review_on.is_some() {
            plan.set_review_on(optional_date("review_on", &form.review_on)?)?;
        }
        self.write_entity(EntityKind::Plan, eid, to_fields(&plan))
    }

    /// Moves a plan to another state; with a meeting, records that it decided the step.
    pub fn move_plan(&mut self, form: &PlanTransitionForm) -> Result<(), DeviceError> {
        let (eid, mut plan) = self.load_plan(&form.id)?;
        let to = PlanState::parse(&form.to)?;
        let on = match form.on.as_deref().map(str::trim) {
            None | Some("") => Local::now().date_naive(),
            Some(s) => parse_date("on", s)?,
        };
        let step = plan.transition(to, on)?;
        if let Some(meeting) = form.meeting.as_deref().filter(|m| !m.trim().is_empty())
            && step.needs_meeting.is_some()
        {
            let (mid, m) = self.load_meeting(meeting)?;
            plan.record_meeting(plan.history().len() - 1, m.kind(), mid)?;
        }
        self.write_entity(EntityKind::Plan, eid, to_fields(&plan))
    }

    fn load_meeting(&self, id: &str) -> Result<(MeetingId, Meeting), DeviceError> {
        let eid = parse_entity_id("meeting id", id)?;
        let m: Meeting = self.record(EntityKind::Meeting, eid, "meeting")?;
        Ok((MeetingId::from_uuid(*eid.as_uuid()), m))
    }

    /// Records that a meeting decided the oldest step of the plan still waiting for one.
    pub fn plan_meeting(&mut self, form: &PlanMeetingForm) -> Result<(), DeviceError> {
        let (eid, mut plan) = self.load_plan(&form.id)?;
        let (mid, m) = self.load_meeting(&form.meeting)?;
        let Some((index, _)) = plan.pending_meetings().into_iter().next() else {
            return Err(DeviceError::NothingPending);
        };
        plan.record_meeting(index, m.kind(), mid)?;
        self.write_entity(EntityKind::Plan, eid, to_fields(&plan))
    }

    /// Records a household (new, or changed when the form names one), and points each member's
    /// record at it.
    pub fn save_household(&mut self, form: &HouseholdForm) -> Result<HouseholdId, DeviceError> {
        let mut members = Vec::new();
        for m in &form.members {
            members.push(HouseholdMember {
                person: self.parse_person_id(&m.person)?,
                relation: Relation::parse(&m.relation)?,
                note: match m.note.as_deref().map(str::trim) {
                    None | Some("") => None,
                    Some(n) => Some(ShortText::parse("note", n)?),
                },
            });
        }
        let household = Household::new(HouseholdFields {
            address: match form.address.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(a) => Some(ShortText::parse("address", a)?),
            },
            members,
        })?;
        let id = match form.id.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(s) => {
                let eid = parse_entity_id("household id", s)?;
                let _: Household = self.record(EntityKind::Household, eid, "household")?;
                HouseholdId::from_uuid(*eid.as_uuid())
            }
            None => HouseholdId::from_uuid(crate::device::new_case_uuid()?),
        };
        self.write_entity(EntityKind::Household, id.into(), to_fields(&household))?;
        for m in household.members() {
            let person: Person = self.record(EntityKind::Person, m.person.into(), "person")?;
            if person.fields().household != Some(id) {
                let mut f = person.into_fields();
                f.household = Some(id);
                let person = Person::new(f)?;
                self.write_entity(EntityKind::Person, m.person.into(), to_fields(&person))?;
            }
        }
        Ok(id)
    }

    /// Resolves a field written concurrently on two devices: the value kept (one of the
    /// versions, or a merged text) is written as a new change that supersedes every version,
    /// after the record with it passes the same checks as any edit.
    pub fn resolve_conflict(&mut self, form: &ResolveConflictForm) -> Result<(), DeviceError> {
        let eid = parse_entity_id("record id", &form.entity)?;
        let state = self
            .store
            .entity(eid)?
            .filter(|s| !s.is_deleted())
            .ok_or_else(|| DeviceError::NotFound(format!("record {eid}")))?;
        if !state.conflicts().iter().any(|c| c.field == form.field) {
            return Err(DeviceError::NoConflict {
                field: form.field.clone(),
            });
        }
        let mut object = state.to_object();
        object.insert(form.field.clone(), form.value.clone());
        let object = Value::Object(object);
        // The record as it would be: refused here if the value breaks a rule.
        let checked = match state.kind() {
            EntityKind::Person => {
                to_fields(&serde_json::from_value::<Person>(object).map_err(bad_value)?)
            }
            EntityKind::Contact => {
                let c: Contact = serde_json::from_value(object).map_err(bad_value)?;
                c.check_config(self.config())?;
                to_fields(&c)
            }
            EntityKind::Plan => {
                to_fields(&serde_json::from_value::<Plan>(object).map_err(bad_value)?)
            }
            EntityKind::Household => {
                to_fields(&serde_json::from_value::<Household>(object).map_err(bad_value)?)
            }
            EntityKind::Meeting => {
                to_fields(&serde_json::from_value::<Meeting>(object).map_err(bad_value)?)
            }
            EntityKind::Consent => to_fields(
                &serde_json::from_value::<tsunagi_core::consent::Consent>(object)
                    .map_err(bad_value)?,
            ),
            other => {
                return Err(Refusal::NotEditable {
                    kind: other.key().to_owned(),
                }
                .into());
            }
        };
        let value = checked.get(&form.field).cloned().unwrap_or(Value::Null);
        let mut values = BTreeMap::new();
        values.insert(form.field.clone(), value);
        self.write_entity(state.kind(), eid, values)
    }

    /// Keeps a draft of a form (encrypted in the store, never synced).
    pub fn save_draft(&mut self, draft: &DraftSave) -> Result<(), DeviceError> {
        let key = ShortText::parse("key", &draft.key)?;
        let label = ShortText::parse("label", &draft.label)?;
        serde_json::from_str::<Value>(&draft.body)
            .map_err(|e| DeviceError::BadDraft(e.to_string()))?;
        self.store.put_draft(&DraftRow {
            key: key.as_str().to_owned(),
            label: label.as_str().to_owned(),
            body: draft.body.clone(),
            saved_at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        })?;
        Ok(())
    }

    /// The draft with this key, if one is kept.
    pub fn draft(&self, key: &str) -> Result<Option<DraftRow>, DeviceError> {
        Ok(self.store.draft(key.trim())?)
    }

    /// Every kept draft, newest first.
    pub fn drafts(&self) -> Result<Vec<DraftRow>, DeviceError> {
        Ok(self.store.drafts()?)
    }

    /// Discards a draft (after saving the form, or when the worker throws it away).
    pub fn discard_draft(&mut self, key: &str) -> Result<(), DeviceError> {
        Ok(self.store.delete_draft(key.trim())?)
    }

    /// The live records of one kind in a case (a person's plans, consents, disclosures).
    pub(crate) fn live_case_records(
        &self,
        case: EntityId,
        kind: EntityKind,
    ) -> Result<Vec<tsunagi_core::merge::EntityState>, DeviceError> {
        let mut states = self.store.case_states_of(case, kind)?;
        states.retain(|s| !s.is_deleted());
        Ok(states)
    }

    /// Whether a case belongs to another team and is shared with this one to read only.
    pub(crate) fn is_read_only(&self, case: EntityId) -> Result<bool, DeviceError> {
        match self.ensure_writable(case) {
            Ok(()) => Ok(false),
            Err(DeviceError::ReadOnlyCase { .. }) => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// Whether a person is on this device (for lists that name persons by id).
    pub(crate) fn person_name(&self, id: PersonId) -> Result<Option<String>, DeviceError> {
        Ok(self
            .store
            .entity(id.into())?
            .filter(|s| s.kind() == EntityKind::Person && !s.is_deleted())
            .and_then(|s| s.value("name").and_then(Value::as_str).map(str::to_owned)))
    }
}

fn bad_value(e: serde_json::Error) -> DeviceError {
    DeviceError::BadValue(e.to_string())
}
