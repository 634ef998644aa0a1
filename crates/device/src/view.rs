//! What screens and the CLI show: records read back from the store into domain types, with
//! the labels of the configuration (district names, program and stage labels).

use serde::Serialize;
use serde_json::Value;
use tsunagi_core::assessment::Assessment;
use tsunagi_core::config::Config;
use tsunagi_core::contact::Contact;
use tsunagi_core::ids::{AssessmentId, ContactId, PersonId};
use tsunagi_core::merge::{EntityState, FieldConflict};
use tsunagi_core::person::Person;
use tsunagi_store::{AccessTicket, CaseloadRow, StoreError};

use crate::{Device, DeviceError};

pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    state: &EntityState,
) -> Result<T, DeviceError> {
    serde_json::from_value(Value::Object(state.to_object())).map_err(|e| {
        DeviceError::Store(StoreError::Unreadable {
            what: format!("{} {}", state.kind(), state.id()),
            detail: e.to_string(),
        })
    })
}

/// One contact on a timeline.
#[derive(Debug, Clone, Serialize)]
pub struct ContactView {
    /// Its id.
    pub id: ContactId,
    /// The record.
    pub contact: Contact,
    /// 訪問, 電話, ...
    pub channel_label: String,
    /// 会えた, 不在, ...
    pub outcome_label: String,
    /// The trust stage's label, if recorded.
    pub stage_label: Option<String>,
    /// Fields edited concurrently on two devices (both values kept).
    pub conflicts: Vec<FieldConflict>,
}

/// One assessment on a person's page.
#[derive(Debug, Clone, Serialize)]
pub struct AssessmentView {
    /// Its id.
    pub id: AssessmentId,
    /// The record, with its result.
    pub assessment: Assessment,
    /// The instrument's Japanese name.
    pub instrument_name: String,
}

/// A caseload row with labels.
#[derive(Debug, Clone, Serialize)]
pub struct CaseloadView {
    /// The row.
    #[serde(flatten)]
    pub row: CaseloadRow,
    /// District name (辻堂).
    pub district_name: String,
    /// Program labels.
    pub program_labels: Vec<String>,
    /// Trust stage label.
    pub stage_label: Option<String>,
}

impl CaseloadView {
    pub(crate) fn new(row: CaseloadRow, config: &Config) -> CaseloadView {
        let district_name = config
            .district(&row.district)
            .ok()
            .and_then(|d| config.district_name(&d).map(str::to_owned))
            .unwrap_or_else(|| row.district.clone());
        let program_labels = row
            .programs
            .iter()
            .map(|p| {
                config
                    .program(p)
                    .ok()
                    .and_then(|p| config.program_label(&p).map(str::to_owned))
                    .unwrap_or_else(|| p.clone())
            })
            .collect();
        let stage_label = row.stage.and_then(|s| {
            let level = u8::try_from(s).ok()?;
            let stage = config.trust_stage(level).ok()?;
            config.trust_stage_label(stage).map(str::to_owned)
        });
        CaseloadView {
            row,
            district_name,
            program_labels,
            stage_label,
        }
    }
}

/// A person's page: profile, current trust stage, timeline, assessments, conflicts.
#[derive(Debug, Serialize)]
pub struct PersonPage {
    /// The person's id.
    pub id: PersonId,
    /// The profile.
    pub person: Person,
    /// Caseload summary with labels (district name, stage, last contact, next due).
    pub summary: Option<CaseloadView>,
    /// Contacts, newest first.
    pub timeline: Vec<ContactView>,
    /// Assessments, newest first.
    pub assessments: Vec<AssessmentView>,
    /// Profile fields edited concurrently on two devices.
    pub conflicts: Vec<FieldConflict>,
    #[serde(skip)]
    ticket: Option<AccessTicket>,
}

impl PersonPage {
    pub(crate) fn build(
        device: &Device,
        id: PersonId,
        limit: u32,
        ticket: AccessTicket,
    ) -> Result<PersonPage, DeviceError> {
        let store = &device.store;
        let config = device.config();
        let state = store
            .entity(id.into())?
            .ok_or_else(|| DeviceError::UnknownPerson(id.to_string()))?;
        let person: Person = decode(&state)?;
        let summary = store
            .caseload_row(id)?
            .map(|r| CaseloadView::new(r, config));
        let mut timeline = Vec::new();
        for s in store.timeline(id, limit)? {
            let contact: Contact = decode(&s)?;
            let f = contact.fields();
            let stage_label = f
                .stage
                .and_then(|st| config.trust_stage_label(st).map(str::to_owned));
            timeline.push(ContactView {
                id: s.id().into(),
                channel_label: f.channel.label_ja().to_owned(),
                outcome_label: f.outcome.label_ja().to_owned(),
                stage_label,
                conflicts: s.conflicts(),
                contact,
            });
        }
        let mut assessments = Vec::new();
        for s in store.assessments(id, limit)? {
            let assessment: Assessment = decode(&s)?;
            let instrument_name = device
                .instruments()
                .get(&assessment.instrument)
                .map(|i| i.name_ja().to_owned())
                .unwrap_or_else(|_| assessment.instrument.clone());
            assessments.push(AssessmentView {
                id: s.id().into(),
                assessment,
                instrument_name,
            });
        }
        Ok(PersonPage {
            id,
            person,
            summary,
            timeline,
            assessments,
            conflicts: state.conflicts(),
            ticket: Some(ticket),
        })
    }

    pub(crate) fn into_ticket(self) -> Option<AccessTicket> {
        self.ticket
    }
}
