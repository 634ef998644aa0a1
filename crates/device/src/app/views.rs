//! Reading records back into the front door's answers: caseload rows, search hits, a
//! person's whole page, conflicts, reference lists and instrument forms. Domain types stop
//! here; what leaves is plain data with labels.

use chrono::{Datelike, Local, NaiveDate};
use serde_json::Value;
use std::collections::HashMap;
use tsunagi_core::assessment::Assessment;
use tsunagi_core::change::EntityKind;
use tsunagi_core::config::Config;
use tsunagi_core::consent::{Consent, Disclosure, LegalBasis};
use tsunagi_core::contact::{Contact, ContactChannel, ContactOutcome};
use tsunagi_core::household::{Household, Relation};
use tsunagi_core::ids::{DeviceId, PersonId};
use tsunagi_core::instrument::{Instrument, InstrumentKind, ItemTexts, ScoreResult};
use tsunagi_core::meeting::{Meeting, MeetingKind};
use tsunagi_core::merge::{EntityState, FieldConflict};
use tsunagi_core::person::{BirthInfo, Person, PersonStatus, Sex};
use tsunagi_core::plan::{Plan, PlanState};
use tsunagi_store::{AccessEntry, AccessEvent, CaseloadRow};

use crate::api::*;
use crate::view::decode;
use crate::{Device, DeviceError};

/// English labels of the closed choices (the Japanese ones live with the domain types).
fn label_en(field: &str, key: &str) -> String {
    let en = match (field, key) {
        ("status", "intake") => "Intake",
        ("status", "active") => "Supporting",
        ("status", "watching") => "Watching over",
        ("status", "closed") => "Closed",
        ("status", "interrupted") => "Interrupted",
        ("sex", "female") => "Female",
        ("sex", "male") => "Male",
        ("sex", "other") => "Other",
        ("sex", "unknown") => "Unknown",
        ("channel", "visit") => "Home visit",
        ("channel", "phone") => "Phone",
        ("channel", "letter") => "Letter / note",
        ("channel", "email") => "Email",
        ("channel", "office_visit") => "Office visit",
        ("channel", "accompany") => "Accompanied",
        ("channel", "via_agency") => "Via an agency",
        ("channel", "via_resident") => "Via a resident",
        ("outcome", "met") => "Met",
        ("outcome", "not_home") => "Not home",
        ("outcome", "through_door") => "Through the door",
        ("outcome", "refused") => "Refused",
        ("outcome", "family") => "Talked with family",
        ("outcome", "letter_left") => "Left a note",
        ("outcome", "third_party") => "Heard from others",
        ("relation", "principal") => "Principal",
        ("relation", "spouse") => "Spouse",
        ("relation", "child") => "Child",
        ("relation", "parent") => "Parent",
        ("relation", "sibling") => "Sibling",
        ("relation", "grandchild") => "Grandchild",
        ("relation", "other") => "Other",
        ("meeting", "jushoteki") => "Multi-agency support meeting",
        ("meeting", "shien") => "Support meeting (art. 106-6)",
        ("meeting", "team") => "Team meeting",
        ("meeting", "case_response") => "Case response meeting",
        ("meeting", "community_care") => "Community care meeting",
        ("consent", "written") => "Written",
        ("consent", "oral") => "Oral",
        ("plan", "draft") => "Draft",
        ("plan", "active") => "Active",
        ("plan", "re_planned") => "Re-planned",
        ("plan", "closed") => "Closed",
        ("plan", "interrupted") => "Interrupted",
        ("plan", "discarded") => "Discarded",
        _ => key,
    };
    en.to_owned()
}

macro_rules! choices {
    ($ty:ty, $field:literal) => {
        <$ty>::ALL
            .iter()
            .map(|c| Choice {
                key: c.key().to_owned(),
                label_ja: c.label_ja().to_owned(),
                label_en: label_en($field, c.key()),
            })
            .collect()
    };
}

/// The vocabulary of the app's lists.
pub(crate) fn reference(device: &Device) -> Reference {
    let config = device.config();
    Reference {
        municipality: config.municipality().to_owned(),
        districts: config
            .districts()
            .iter()
            .map(|d| DistrictChoice {
                code: d.district().code().to_owned(),
                name: d.name_ja().to_owned(),
                kana: d.kana().to_owned(),
            })
            .collect(),
        programs: config
            .programs()
            .iter()
            .map(|p| ProgramChoice {
                key: p.program().code().to_owned(),
                label_ja: p.label_ja().to_owned(),
                label_en: p.label_en().to_owned(),
                follow_up_days: p.follow_up_days(),
            })
            .collect(),
        stages: config
            .trust_stages()
            .iter()
            .map(|s| StageChoice {
                level: s.stage().level(),
                label_ja: s.label_ja().to_owned(),
                label_en: s.label_en().to_owned(),
            })
            .collect(),
        statuses: choices!(PersonStatus, "status"),
        sexes: choices!(Sex, "sex"),
        channels: choices!(ContactChannel, "channel"),
        outcomes: choices!(ContactOutcome, "outcome"),
        relations: choices!(Relation, "relation"),
        meeting_kinds: choices!(MeetingKind, "meeting"),
        consent_methods: choices!(tsunagi_core::consent::ConsentMethod, "consent"),
        plan_states: choices!(PlanState, "plan"),
        instruments: device
            .instruments()
            .iter()
            .map(|i| InstrumentChoice {
                key: i.key().to_owned(),
                name_ja: i.name_ja().to_owned(),
                name_en: i.name_en().to_owned(),
                programs: i.programs().to_vec(),
            })
            .collect(),
    }
}

/// An instrument as a form.
pub(crate) fn instrument_form(i: &Instrument) -> InstrumentForm {
    InstrumentForm {
        key: i.key().to_owned(),
        name_ja: i.name_ja().to_owned(),
        name_en: i.name_en().to_owned(),
        version: i.version().to_owned(),
        kind: match i.kind() {
            InstrumentKind::Score => "score",
            InstrumentKind::Checklist => "checklist",
        }
        .to_owned(),
        period_ja: i.period_ja().map(str::to_owned),
        items: i
            .items()
            .iter()
            .map(|item| FormItem {
                number: item.number,
                text_ja: item.text_ja.clone(),
                choices: item
                    .choices
                    .iter()
                    .map(|c| FormChoice {
                        key: c.key.clone(),
                        label_ja: c.label_ja.clone(),
                        points: c.points,
                        flag: c.flag,
                    })
                    .collect(),
            })
            .collect(),
        range_min: i.range().map(|r| r.min),
        range_max: i.range().map(|r| r.max),
        cutoffs: i
            .cutoffs()
            .iter()
            .map(|c| FormCutoff {
                key: c.key.clone(),
                min: c.min,
                label_ja: c.label_ja.clone(),
            })
            .collect(),
        notes: i.notes().to_vec(),
        licence: i.licence().to_owned(),
        texts_available: i.item_texts() == ItemTexts::Included || i.texts_imported(),
    }
}

/// A score as the form shows it.
pub(crate) fn score_view(result: &ScoreResult, instrument: &Instrument) -> ScoreView {
    ScoreView {
        instrument: result.instrument_key.clone(),
        version: result.instrument_version.clone(),
        complete: result.complete,
        total: result.total,
        partial_total: result
            .items
            .iter()
            .filter_map(|i| i.points)
            .map(u32::from)
            .sum(),
        max: instrument.range().map(|r| r.max),
        missing_items: result.missing_items.clone(),
        bands: result
            .bands
            .iter()
            .map(|b| BandView {
                key: b.key.clone(),
                label_ja: b.label_ja.clone(),
                label_en: b.label_en.clone(),
            })
            .collect(),
        alerts: result
            .alerts
            .iter()
            .map(|a| AlertView {
                key: a.key.clone(),
                item: a.item,
                label_ja: a.label_ja.clone(),
                label_en: a.label_en.clone(),
            })
            .collect(),
        subscales: result
            .subscales
            .iter()
            .map(|s| SubscaleView {
                key: s.key.clone(),
                name_ja: instrument
                    .subscales()
                    .iter()
                    .find(|d| d.key == s.key)
                    .map(|d| d.name_ja.clone())
                    .unwrap_or_else(|| s.key.clone()),
                total: s.total,
            })
            .collect(),
        flagged_items: result.flagged_items.clone(),
    }
}

fn today() -> NaiveDate {
    Local::now().date_naive()
}

/// A caseload row with labels.
pub(crate) fn person_row(row: CaseloadRow, config: &Config) -> PersonRow {
    let view = crate::view::CaseloadView::new(row, config);
    let row = view.row;
    let overdue = row
        .next_due
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .is_some_and(|due| {
            due < today()
                && row
                    .last_contact_at
                    .as_deref()
                    .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
                    .is_none_or(|at| at.with_timezone(&Local).date_naive() < due)
        });
    PersonRow {
        id: row.id.to_string(),
        status_label: PersonStatus::parse(&row.status)
            .map(|s| s.label_ja().to_owned())
            .unwrap_or_else(|_| row.status.clone()),
        name: row.name,
        kana: row.kana,
        district: row.district,
        district_name: view.district_name,
        programs: row.programs,
        program_labels: view.program_labels,
        status: row.status,
        stage: row.stage.and_then(|s| u8::try_from(s).ok()),
        stage_label: view.stage_label,
        last_contact_at: row.last_contact_at,
        next_due: row.next_due,
        overdue,
    }
}

fn opt_string<T: ToString>(v: &Option<T>) -> Option<String> {
    v.as_ref().map(ToString::to_string)
}

fn person_view(id: PersonId, p: &Person, config: &Config) -> PersonView {
    let f = p.fields();
    let (birth_date, age_band) = match &f.birth {
        Some(BirthInfo::Date(d)) => (Some(d.to_string()), None),
        Some(BirthInfo::AgeBand(b)) => (None, Some(format!("{}代", b.decade()))),
        None => (None, None),
    };
    let age_months = match &f.birth {
        Some(BirthInfo::Date(d)) => {
            let t = today();
            let months = (t.year() - d.year()) * 12 + t.month() as i32
                - d.month() as i32
                - i32::from(t.day() < d.day());
            u32::try_from(months).ok()
        }
        _ => None,
    };
    PersonView {
        id: id.to_string(),
        name: f.name.as_str().to_owned(),
        kana: f.kana.as_ref().map(|k| k.as_str().to_owned()),
        birth_date,
        age_band,
        age: f.birth.as_ref().and_then(|b| b.age_on(today())),
        age_months,
        sex: f.sex.map(|s| s.key().to_owned()),
        sex_label: f.sex.map(|s| s.label_ja().to_owned()),
        address: opt_string(&f.address),
        phone: opt_string(&f.phone),
        district: f.district.code().to_owned(),
        district_name: config
            .district_name(&f.district)
            .unwrap_or(f.district.code())
            .to_owned(),
        programs: f.programs.iter().map(|p| p.code().to_owned()).collect(),
        program_labels: f
            .programs
            .iter()
            .map(|p| config.program_label(p).unwrap_or(p.code()).to_owned())
            .collect(),
        status: f.status.key().to_owned(),
        status_label: f.status.label_ja().to_owned(),
        referred_on: opt_string(&f.referred_on),
        risk_flags: f.risk_flags.iter().map(ToString::to_string).collect(),
        memo: f.memo.to_string(),
    }
}

fn contact_view(state: &EntityState, config: &Config) -> Result<ContactView, DeviceError> {
    let c: Contact = decode(state)?;
    let f = c.fields();
    Ok(ContactView {
        id: state.id().to_string(),
        at: f.at.to_rfc3339(),
        staff: f.staff.iter().map(ToString::to_string).collect(),
        channel: f.channel.key().to_owned(),
        channel_label: f.channel.label_ja().to_owned(),
        outcome: f.outcome.key().to_owned(),
        outcome_label: f.outcome.label_ja().to_owned(),
        note: f.note.to_string(),
        observations: f.observations.to_string(),
        stage: f.stage.map(|s| s.level()),
        stage_label: f
            .stage
            .and_then(|s| config.trust_stage_label(s).map(str::to_owned)),
        letter_text: opt_string(&f.letter_text),
        next_step: opt_string(&f.next_step),
        next_due: opt_string(&f.next_due),
        conflicts: state.conflicts().into_iter().map(|c| c.field).collect(),
    })
}

pub(crate) fn assessment_view(
    state: &EntityState,
    device: &Device,
) -> Result<AssessmentView, DeviceError> {
    let a: Assessment = decode(state)?;
    let instrument = device.instruments().get(&a.instrument).ok();
    let r = &a.result;
    Ok(AssessmentView {
        id: state.id().to_string(),
        at: a.at.to_rfc3339(),
        instrument_name: instrument
            .map(|i| i.name_ja().to_owned())
            .unwrap_or_else(|| a.instrument.clone()),
        instrument: a.instrument.clone(),
        version: a.version.clone(),
        complete: r.complete,
        total: r.total,
        max: instrument.and_then(|i| i.range()).map(|r| r.max),
        missing_items: r.missing_items.clone(),
        bands: r
            .bands
            .iter()
            .map(|b| BandView {
                key: b.key.clone(),
                label_ja: b.label_ja.clone(),
                label_en: b.label_en.clone(),
            })
            .collect(),
        alerts: r
            .alerts
            .iter()
            .map(|al| AlertView {
                key: al.key.clone(),
                item: al.item,
                label_ja: al.label_ja.clone(),
                label_en: al.label_en.clone(),
            })
            .collect(),
        flagged_items: r.flagged_items.clone(),
        answers: a.answers.as_slice().to_vec(),
    })
}

fn plan_view(state: &EntityState) -> Result<PlanView, DeviceError> {
    let p: Plan = decode(state)?;
    let f = p.fields();
    let next_states = PlanState::ALL
        .iter()
        .filter_map(|to| {
            let meeting = p.state().check_transition(*to).ok()?;
            Some(PlanStep {
                to: to.key().to_owned(),
                needs_meeting: meeting.map(|k| k.key().to_owned()),
            })
        })
        .collect();
    Ok(PlanView {
        id: state.id().to_string(),
        state: p.state().key().to_owned(),
        state_label: p.state().label_ja().to_owned(),
        goals: f.goals.iter().map(ToString::to_string).collect(),
        roles: f
            .roles
            .iter()
            .map(|r| RoleView {
                agency: r.agency.to_string(),
                task: r.task.to_string(),
            })
            .collect(),
        review_on: opt_string(&f.review_on),
        history: p
            .history()
            .iter()
            .map(|e| PlanEventView {
                from: e.transition.from.key().to_owned(),
                to: e.transition.to.key().to_owned(),
                to_label: e.transition.to.label_ja().to_owned(),
                on: e.transition.at.to_string(),
                needs_meeting: e.transition.needs_meeting.map(|k| k.key().to_owned()),
                meeting: e.meeting.map(|m| m.to_string()),
            })
            .collect(),
        next_states,
        meeting_pending: !p.pending_meetings().is_empty(),
    })
}

fn meeting_view(id: String, m: &Meeting) -> MeetingView {
    let f = m.fields();
    MeetingView {
        id,
        kind: f.kind.key().to_owned(),
        kind_label: f.kind.label_ja().to_owned(),
        date: f.date.to_string(),
        agencies: f.agencies.iter().map(ToString::to_string).collect(),
        persons: f.persons.iter().map(ToString::to_string).collect(),
        decisions: f.decisions.to_string(),
    }
}

/// The Japanese label of a record's field, for conflict lists.
fn field_label(field: &str) -> String {
    tsunagi_core::error::field_label_ja(field)
        .unwrap_or(field)
        .to_owned()
}

fn display_value(v: &Value) -> String {
    match v {
        Value::Null => "（なし）".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(display_value).collect::<Vec<_>>().join("、"),
        other => other.to_string(),
    }
}

pub(crate) fn conflict_views(
    state: &EntityState,
    person: Option<(String, Option<String>)>,
    me: DeviceId,
) -> Vec<ConflictView> {
    state
        .conflicts()
        .into_iter()
        .map(|FieldConflict { field, candidates }| ConflictView {
            entity: state.id().to_string(),
            kind: state.kind().key().to_owned(),
            person: person.as_ref().map(|p| p.0.clone()),
            person_name: person.as_ref().and_then(|p| p.1.clone()),
            field_label: field_label(&field),
            field,
            versions: candidates
                .into_iter()
                .map(|(version, value)| ConflictVersion {
                    display: display_value(&value),
                    value,
                    device: version.device.to_string(),
                    this_device: version.device == me,
                    at: chrono::DateTime::from_timestamp_millis(
                        i64::try_from(version.hlc.wall_ms).unwrap_or(0),
                    )
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default(),
                })
                .collect(),
        })
        .collect()
}

/// Who opened which record: opening rows with the duration of their closing.
pub(crate) fn access_views(entries: &[AccessEntry]) -> Vec<AccessView> {
    let closed: HashMap<i64, i64> = entries
        .iter()
        .filter(|e| e.event == AccessEvent::Close)
        .filter_map(|e| Some((e.opened_seq?, e.duration_ms?)))
        .collect();
    entries
        .iter()
        .filter(|e| e.event == AccessEvent::Open)
        .map(|e| AccessView {
            actor: e.actor.clone(),
            at: e.at.clone(),
            seconds: closed
                .get(&e.seq)
                .map(|ms| u32::try_from(ms / 1000).unwrap_or(u32::MAX)),
            person: e.person.to_string(),
        })
        .collect()
}

/// Contacts shown on a person's page (the timeline's first page; older ones on request).
pub(crate) const TIMELINE_PAGE: u32 = 200;

/// Everything on a person's page except the access-log ticket.
pub(crate) fn person_page(
    device: &Device,
    id: PersonId,
    page: String,
) -> Result<PersonPageView, DeviceError> {
    let store = &device.store;
    let config = device.config();
    let state = store
        .entity(id.into())?
        .filter(|s| s.kind() == EntityKind::Person && !s.is_deleted())
        .ok_or_else(|| DeviceError::UnknownPerson(id.to_string()))?;
    let person: Person = decode(&state)?;
    let summary = store
        .caseload_row(id)?
        .ok_or_else(|| DeviceError::UnknownPerson(id.to_string()))?;
    let timeline = store
        .timeline(id, TIMELINE_PAGE)?
        .iter()
        .map(|s| contact_view(s, config))
        .collect::<Result<Vec<_>, _>>()?;
    let stages = store
        .stage_line(id)?
        .into_iter()
        .filter_map(|(at, stage)| {
            Some(StagePoint {
                at,
                stage: u8::try_from(stage).ok()?,
            })
        })
        .collect();
    let assessments = store
        .assessments(id, TIMELINE_PAGE)?
        .iter()
        .map(|s| assessment_view(s, device))
        .collect::<Result<Vec<_>, _>>()?;
    let mut plans = device
        .live_case_records(id.into(), EntityKind::Plan)?
        .iter()
        .map(plan_view)
        .collect::<Result<Vec<_>, _>>()?;
    plans.sort_by(|a, b| b.id.cmp(&a.id));
    let today = today();
    let consents = device
        .live_case_records(id.into(), EntityKind::Consent)?
        .iter()
        .map(|s| {
            let c: Consent = decode(s)?;
            let f = c.fields();
            Ok(ConsentView {
                id: s.id().to_string(),
                scope: f.scope.iter().map(ToString::to_string).collect(),
                method: f.method.key().to_owned(),
                method_label: f.method.label_ja().to_owned(),
                given_on: f.given_on.to_string(),
                expires_on: opt_string(&f.expires_on),
                withdrawn_on: opt_string(&f.withdrawn_on),
                active: c.is_active(today),
            })
        })
        .collect::<Result<Vec<_>, DeviceError>>()?;
    let disclosures = device
        .live_case_records(id.into(), EntityKind::Disclosure)?
        .iter()
        .map(|s| {
            let d: Disclosure = decode(s)?;
            let (basis, basis_id) = match d.basis() {
                LegalBasis::Consent(c) => ("consent", c.to_string()),
                LegalBasis::SupportMeeting(m) => ("meeting", m.to_string()),
            };
            Ok(DisclosureView {
                id: s.id().to_string(),
                to: d.request().to.to_string(),
                what: d.request().what.to_string(),
                at: d.request().at.to_rfc3339(),
                basis: basis.to_owned(),
                basis_id,
            })
        })
        .collect::<Result<Vec<_>, DeviceError>>()?;
    let mut meetings = Vec::new();
    for s in store.records_of_kind(EntityKind::Meeting)? {
        let m: Meeting = decode(&s)?;
        if m.discussed(id) {
            meetings.push(meeting_view(s.id().to_string(), &m));
        }
    }
    meetings.sort_by(|a, b| b.date.cmp(&a.date));
    let household = match person.fields().household {
        Some(h) => match store.entity(h.into())? {
            Some(s) if s.kind() == EntityKind::Household && !s.is_deleted() => {
                let hh: Household = decode(&s)?;
                let mut members = Vec::new();
                for m in hh.members() {
                    members.push(HouseholdMemberView {
                        person: m.person.to_string(),
                        name: device.person_name(m.person)?,
                        relation: m.relation.key().to_owned(),
                        relation_label: m.relation.label_ja().to_owned(),
                        note: opt_string(&m.note),
                    });
                }
                Some(HouseholdView {
                    id: s.id().to_string(),
                    address: opt_string(&hh.fields().address),
                    members,
                })
            }
            _ => None,
        },
        None => None,
    };
    let name = Some(person.fields().name.as_str().to_owned());
    let conflicts = store
        .conflicted(Some(id.into()), 100)?
        .iter()
        .flat_map(|s| conflict_views(s, Some((id.to_string(), name.clone())), device.id()))
        .collect();
    let access = access_views(&store.access_log(Some(id), 100)?);
    Ok(PersonPageView {
        page,
        person: person_view(id, &person, config),
        summary: person_row(summary, config),
        household,
        consents,
        disclosures,
        timeline,
        contact_count: u32::try_from(store.contact_count(id)?).unwrap_or(u32::MAX),
        stages,
        assessments,
        plans,
        meetings,
        conflicts,
        access,
        read_only: device.is_read_only(id.into())?,
    })
}
