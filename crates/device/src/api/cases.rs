//! The caseload (担当ケース), search, and a person's page with everything recorded about them:
//! profile, household, consents, timeline, assessments, plans, meetings, conflicts and who
//! opened the record.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::reference::{AlertView, BandView};

/// Filters of the caseload; empty means any.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(default)]
pub struct CaseloadRequest {
    /// Program key.
    pub program: Option<String>,
    /// District code or name.
    pub district: Option<String>,
    /// Status key.
    pub status: Option<String>,
    /// Current trust stage.
    pub stage: Option<u8>,
}

/// A person in a list (caseload, search, today).
#[derive(Debug, Clone, Serialize, TS)]
pub struct PersonRow {
    /// The person's id.
    pub id: String,
    /// 氏名.
    pub name: String,
    /// ふりがな.
    pub kana: String,
    /// District code.
    pub district: String,
    /// District name.
    pub district_name: String,
    /// Program keys.
    pub programs: Vec<String>,
    /// Program labels.
    pub program_labels: Vec<String>,
    /// Status key.
    pub status: String,
    /// Status label.
    pub status_label: String,
    /// Current trust stage.
    pub stage: Option<u8>,
    /// Its label.
    pub stage_label: Option<String>,
    /// Latest contact (RFC 3339).
    pub last_contact_at: Option<String>,
    /// Follow-up planned by the latest contact that planned one (YYYY-MM-DD).
    pub next_due: Option<String>,
    /// The follow-up date has passed.
    pub overdue: bool,
}

/// A search.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct SearchRequest {
    /// What to look for: names, kana, notes (space-separated terms must all match).
    pub text: String,
    /// At most this many contacts (default 50).
    pub limit: Option<u32>,
}

/// A contact whose note matched.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ContactHitView {
    /// The contact.
    pub id: String,
    /// Whose.
    pub person: String,
    /// The person's name.
    pub person_name: String,
    /// When (RFC 3339).
    pub at: String,
    /// The note around the first match.
    pub excerpt: String,
}

/// What a search found.
#[derive(Debug, Clone, Serialize, TS)]
pub struct SearchView {
    /// Persons by name or kana.
    pub persons: Vec<PersonRow>,
    /// Contacts by note, newest first.
    pub contacts: Vec<ContactHitView>,
    /// How many contacts matched in all (up to 10,000).
    pub contact_total: u32,
    /// More than 10,000 matched.
    pub contact_total_capped: bool,
}

/// The profile.
#[derive(Debug, Clone, Serialize, TS)]
pub struct PersonView {
    /// Id.
    pub id: String,
    /// 氏名.
    pub name: String,
    /// ふりがな.
    pub kana: Option<String>,
    /// Birth date (YYYY-MM-DD), if known.
    pub birth_date: Option<String>,
    /// Age band ("80代") when only that is known.
    pub age_band: Option<String>,
    /// Age today, when the birth date is known.
    pub age: Option<u32>,
    /// Age in months today (infants).
    pub age_months: Option<u32>,
    /// Sex key.
    pub sex: Option<String>,
    /// Sex label.
    pub sex_label: Option<String>,
    /// 住所.
    pub address: Option<String>,
    /// 電話番号.
    pub phone: Option<String>,
    /// District code.
    pub district: String,
    /// District name.
    pub district_name: String,
    /// Program keys.
    pub programs: Vec<String>,
    /// Program labels.
    pub program_labels: Vec<String>,
    /// Status key.
    pub status: String,
    /// Status label.
    pub status_label: String,
    /// Day of referral (相談受付日), which starts the dementia team's first-visit deadline.
    pub referred_on: Option<String>,
    /// Risk flags.
    pub risk_flags: Vec<String>,
    /// Free memo.
    pub memo: String,
}

/// A household member.
#[derive(Debug, Clone, Serialize, TS)]
pub struct HouseholdMemberView {
    /// The member's person id.
    pub person: String,
    /// Their name (when the person is on this device).
    pub name: Option<String>,
    /// Relation key.
    pub relation: String,
    /// Relation label.
    pub relation_label: String,
    /// Note (同居, 別居・市外).
    pub note: Option<String>,
}

/// The person's 世帯.
#[derive(Debug, Clone, Serialize, TS)]
pub struct HouseholdView {
    /// Id.
    pub id: String,
    /// 住所.
    pub address: Option<String>,
    /// Members.
    pub members: Vec<HouseholdMemberView>,
}

/// Two or more values of one field written at once on different devices.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ConflictView {
    /// The record.
    pub entity: String,
    /// Its kind (`person`, `contact`, ...).
    pub kind: String,
    /// Whose case it is.
    pub person: Option<String>,
    /// The person's name.
    pub person_name: Option<String>,
    /// The field.
    pub field: String,
    /// The field's Japanese label.
    pub field_label: String,
    /// The values, each as written.
    pub versions: Vec<ConflictVersion>,
}

/// One of the values of a conflicted field.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ConflictVersion {
    /// The value as stored (JSON).
    pub value: serde_json::Value,
    /// The value as shown.
    pub display: String,
    /// The device that wrote it.
    pub device: String,
    /// Whether that is this device (the other is a colleague's, or this worker's other one).
    pub this_device: bool,
    /// When (RFC 3339).
    pub at: String,
}

/// One contact on the timeline.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ContactView {
    /// Id.
    pub id: String,
    /// When (RFC 3339).
    pub at: String,
    /// Staff who went.
    pub staff: Vec<String>,
    /// Channel key.
    pub channel: String,
    /// Channel label.
    pub channel_label: String,
    /// Outcome key.
    pub outcome: String,
    /// Outcome label.
    pub outcome_label: String,
    /// The narrative.
    pub note: String,
    /// Observations.
    pub observations: String,
    /// Trust stage after the contact.
    pub stage: Option<u8>,
    /// Its label.
    pub stage_label: Option<String>,
    /// What the 置き手紙 said.
    pub letter_text: Option<String>,
    /// Next step.
    pub next_step: Option<String>,
    /// Its date.
    pub next_due: Option<String>,
    /// Fields with conflicting values.
    pub conflicts: Vec<String>,
}

/// A point of the trust-stage line.
#[derive(Debug, Clone, Serialize, TS)]
pub struct StagePoint {
    /// When (RFC 3339).
    pub at: String,
    /// The stage then.
    pub stage: u8,
}

/// An assessment on the person's page.
#[derive(Debug, Clone, Serialize, TS)]
pub struct AssessmentView {
    /// Id.
    pub id: String,
    /// When (RFC 3339).
    pub at: String,
    /// Instrument key.
    pub instrument: String,
    /// Its Japanese name.
    pub instrument_name: String,
    /// Definition version.
    pub version: String,
    /// Complete.
    pub complete: bool,
    /// Total (null when incomplete or a checklist).
    pub total: Option<u32>,
    /// Highest possible total.
    pub max: Option<u32>,
    /// Unanswered items.
    pub missing_items: Vec<u16>,
    /// Bands reached.
    pub bands: Vec<BandView>,
    /// Alerts raised.
    pub alerts: Vec<AlertView>,
    /// Checklist items flagged.
    pub flagged_items: Vec<u16>,
    /// The answers as entered.
    pub answers: Vec<Option<String>>,
}

/// A step in a plan's history.
#[derive(Debug, Clone, Serialize, TS)]
pub struct PlanEventView {
    /// State before.
    pub from: String,
    /// State after.
    pub to: String,
    /// Label of the state after.
    pub to_label: String,
    /// When decided (YYYY-MM-DD).
    pub on: String,
    /// The meeting kind this step calls for (its key).
    pub needs_meeting: Option<String>,
    /// The meeting that covered it, once recorded.
    pub meeting: Option<String>,
}

/// An agency's task in a plan.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct RoleView {
    /// The agency.
    pub agency: String,
    /// Its task.
    pub task: String,
}

/// A step a plan may take from its state.
#[derive(Debug, Clone, Serialize, TS)]
pub struct PlanStep {
    /// The state it moves to.
    pub to: String,
    /// The meeting kind the step calls for (its key), if any: the form can link it at once.
    pub needs_meeting: Option<String>,
}

/// A 支援プラン.
#[derive(Debug, Clone, Serialize, TS)]
pub struct PlanView {
    /// Id.
    pub id: String,
    /// State key.
    pub state: String,
    /// State label.
    pub state_label: String,
    /// Goals.
    pub goals: Vec<String>,
    /// Roles.
    pub roles: Vec<RoleView>,
    /// Next review date.
    pub review_on: Option<String>,
    /// History, oldest first.
    pub history: Vec<PlanEventView>,
    /// The steps it may take now.
    pub next_states: Vec<PlanStep>,
    /// A step still waits for its 重層的支援会議 to be recorded.
    pub meeting_pending: bool,
}

/// A meeting that discussed the person.
#[derive(Debug, Clone, Serialize, TS)]
pub struct MeetingView {
    /// Id.
    pub id: String,
    /// Kind key.
    pub kind: String,
    /// Kind label.
    pub kind_label: String,
    /// Day held.
    pub date: String,
    /// Attending agencies.
    pub agencies: Vec<String>,
    /// Persons discussed (ids).
    pub persons: Vec<String>,
    /// What was decided.
    pub decisions: String,
}

/// A consent (同意).
#[derive(Debug, Clone, Serialize, TS)]
pub struct ConsentView {
    /// Id.
    pub id: String,
    /// Teams or agencies covered.
    pub scope: Vec<String>,
    /// Method key.
    pub method: String,
    /// Method label.
    pub method_label: String,
    /// Day given.
    pub given_on: String,
    /// Last valid day.
    pub expires_on: Option<String>,
    /// Day withdrawn.
    pub withdrawn_on: Option<String>,
    /// In force today.
    pub active: bool,
}

/// A 情報提供記録.
#[derive(Debug, Clone, Serialize, TS)]
pub struct DisclosureView {
    /// Id.
    pub id: String,
    /// To whom.
    pub to: String,
    /// What was shared.
    pub what: String,
    /// When (RFC 3339).
    pub at: String,
    /// `consent` or `meeting`.
    pub basis: String,
    /// The consent's or meeting's id.
    pub basis_id: String,
}

/// One opening of the record.
#[derive(Debug, Clone, Serialize, TS)]
pub struct AccessView {
    /// Who.
    pub actor: String,
    /// When opened (RFC 3339).
    pub at: String,
    /// For how long, in seconds, once closed.
    pub seconds: Option<u32>,
    /// Whose record (the person's id).
    pub person: String,
}

/// A person's page.
#[derive(Debug, Clone, Serialize, TS)]
pub struct PersonPageView {
    /// Hand back to `refresh_person` to read the page again, and to `close_person` when it
    /// closes (the access log records one visit, with how long it lasted).
    pub page: String,
    /// The profile.
    pub person: PersonView,
    /// The caseload summary (stage, last contact, next due).
    pub summary: PersonRow,
    /// The household, if recorded.
    pub household: Option<HouseholdView>,
    /// Consents.
    pub consents: Vec<ConsentView>,
    /// Disclosures to other teams.
    pub disclosures: Vec<DisclosureView>,
    /// Contacts, newest first.
    pub timeline: Vec<ContactView>,
    /// Total number of contacts (the timeline may show fewer).
    pub contact_count: u32,
    /// The trust-stage line, oldest first.
    pub stages: Vec<StagePoint>,
    /// Assessments, newest first.
    pub assessments: Vec<AssessmentView>,
    /// Plans, newest first.
    pub plans: Vec<PlanView>,
    /// Meetings that discussed the person, newest first.
    pub meetings: Vec<MeetingView>,
    /// Fields of this case's records with conflicting values.
    pub conflicts: Vec<ConflictView>,
    /// Who opened the record, newest first.
    pub access: Vec<AccessView>,
    /// The case belongs to another team (shared to read only).
    pub read_only: bool,
}

/// An open person's page (to read it again, or to close it).
#[derive(Debug, Clone, Deserialize, TS)]
pub struct PageRef {
    /// The `page` from the opened page.
    pub page: String,
}

/// A record named by id (also what the CLI's `--json` answers for a change, which the front
/// door answers with nothing).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ById {
    /// The id.
    pub id: String,
}

/// The access log, optionally of one person.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(default)]
pub struct AccessLogRequest {
    /// Only this person.
    pub person: Option<String>,
    /// At most this many (default 100).
    pub limit: Option<u32>,
}
