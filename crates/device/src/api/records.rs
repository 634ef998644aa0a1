//! Forms that record something: persons, contacts, assessments, plans, households, meetings,
//! consents and sharing, conflict resolutions. Fields arrive as typed (strings); the device
//! validates them into domain types before anything is stored.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::cases::RoleView;
use super::reference::ScoreView;

/// What a write created.
#[derive(Debug, Clone, Serialize, TS)]
pub struct Created {
    /// The new record's id.
    pub id: String,
}

/// A new person (対象者の登録).
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(default)]
pub struct PersonForm {
    /// 氏名.
    pub name: String,
    /// ふりがな.
    pub kana: Option<String>,
    /// District code or name.
    pub district: String,
    /// Program keys (at least one).
    pub programs: Vec<String>,
    /// Birth date (YYYY-MM-DD) or age band (80代).
    pub birth: Option<String>,
    /// Sex key.
    pub sex: Option<String>,
    /// 住所.
    pub address: Option<String>,
    /// 電話番号.
    pub phone: Option<String>,
    /// Status key (default 受付).
    pub status: Option<String>,
    /// Day of referral (YYYY-MM-DD).
    pub referred_on: Option<String>,
    /// Free memo.
    pub memo: Option<String>,
}

/// A change to a person's record: the fields given change, the rest stay.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(default)]
pub struct PersonEditForm {
    /// The person.
    pub id: String,
    /// 氏名.
    pub name: Option<String>,
    /// ふりがな (empty clears).
    pub kana: Option<String>,
    /// District.
    pub district: Option<String>,
    /// Programs (replaces the list).
    pub programs: Option<Vec<String>>,
    /// Birth date or age band (empty clears).
    pub birth: Option<String>,
    /// Sex (empty clears).
    pub sex: Option<String>,
    /// 住所 (empty clears).
    pub address: Option<String>,
    /// 電話番号 (empty clears).
    pub phone: Option<String>,
    /// Status.
    pub status: Option<String>,
    /// Day of referral (empty clears).
    pub referred_on: Option<String>,
    /// Memo.
    pub memo: Option<String>,
}

/// A new contact (接触・訪問記録). The quick 不在・置き手紙 is this with channel `visit` and
/// outcome `letter_left`.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(default)]
pub struct ContactForm {
    /// The person.
    pub person: String,
    /// When (YYYY-MM-DDTHH:MM local, or RFC 3339); default now.
    pub at: Option<String>,
    /// Channel key.
    pub channel: String,
    /// Outcome key.
    pub outcome: String,
    /// The narrative.
    pub note: String,
    /// Observations.
    pub observations: Option<String>,
    /// Trust stage after the contact.
    pub stage: Option<u8>,
    /// What the 置き手紙 said.
    pub letter_text: Option<String>,
    /// Next step.
    pub next_step: Option<String>,
    /// Its date (YYYY-MM-DD).
    pub next_due: Option<String>,
    /// Staff who went (default: this device's user).
    pub staff: Vec<String>,
}

/// A correction of a contact: the fields given change (the old version stays in history).
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(default)]
pub struct ContactEditForm {
    /// The contact.
    pub id: String,
    /// Outcome key.
    pub outcome: Option<String>,
    /// The narrative.
    pub note: Option<String>,
    /// Observations.
    pub observations: Option<String>,
    /// Trust stage (null keeps it).
    pub stage: Option<u8>,
    /// Removes the recorded trust stage (the contact said nothing about it after all).
    pub clear_stage: bool,
    /// Next step (empty clears).
    pub next_step: Option<String>,
    /// Its date (empty clears).
    pub next_due: Option<String>,
}

/// A completed (or partly completed) instrument.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(default)]
pub struct AssessmentForm {
    /// The person.
    pub person: String,
    /// Instrument key.
    pub instrument: String,
    /// One entry per item: the chosen key, or null when not answered.
    pub answers: Vec<Option<String>>,
    /// When; default now.
    pub at: Option<String>,
}

/// What recording an assessment gave.
#[derive(Debug, Clone, Serialize, TS)]
pub struct AssessmentSaved {
    /// The assessment's id.
    pub id: String,
    /// Its score.
    pub score: ScoreView,
}

/// A new 支援プラン (in draft).
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(default)]
pub struct PlanForm {
    /// The person.
    pub person: String,
    /// Goals.
    pub goals: Vec<String>,
    /// Agencies and their tasks.
    pub roles: Vec<RoleView>,
    /// Next review (YYYY-MM-DD).
    pub review_on: Option<String>,
}

/// A change to a plan's contents (goals, roles, review date).
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(default)]
pub struct PlanEditForm {
    /// The plan.
    pub id: String,
    /// Goals (replaces the list).
    pub goals: Option<Vec<String>>,
    /// Roles (replaces the list).
    pub roles: Option<Vec<RoleView>>,
    /// Next review (empty clears).
    pub review_on: Option<String>,
}

/// Moving a plan to another state (作成中 → 実施中 → 再プラン → 終結 | 中断).
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(default)]
pub struct PlanTransitionForm {
    /// The plan.
    pub id: String,
    /// The state to move to.
    pub to: String,
    /// Day decided; default today.
    pub on: Option<String>,
    /// The 重層的支援会議 that decided it, if already recorded.
    pub meeting: Option<String>,
}

/// Recording that a meeting covered a plan's step that was waiting for one.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(default)]
pub struct PlanMeetingForm {
    /// The plan.
    pub id: String,
    /// The meeting.
    pub meeting: String,
}

/// A household member as entered.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(default)]
pub struct HouseholdMemberForm {
    /// The member's person id.
    pub person: String,
    /// Relation key.
    pub relation: String,
    /// Note.
    pub note: Option<String>,
}

/// A household: new (no id) or changed.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(default)]
pub struct HouseholdForm {
    /// The household, when changing one.
    pub id: Option<String>,
    /// 住所.
    pub address: Option<String>,
    /// Members (replaces the list).
    pub members: Vec<HouseholdMemberForm>,
}

/// A new 会議記録.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(default)]
pub struct MeetingForm {
    /// Kind key.
    pub kind: String,
    /// Day held; default today.
    pub date: Option<String>,
    /// Attending agencies or team ids.
    pub agencies: Vec<String>,
    /// Persons discussed.
    pub persons: Vec<String>,
    /// What was decided.
    pub decisions: String,
}

/// A new 同意.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(default)]
pub struct ConsentForm {
    /// The person.
    pub person: String,
    /// Teams or agencies covered.
    pub scope: Vec<String>,
    /// Method key (`written`, `oral`).
    pub method: String,
    /// Day given; default today.
    pub given_on: Option<String>,
    /// Last valid day.
    pub expires_on: Option<String>,
}

/// Withdrawing a consent.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(default)]
pub struct WithdrawForm {
    /// The consent.
    pub id: String,
    /// Day withdrawn; default today.
    pub on: Option<String>,
}

/// What withdrawing did.
#[derive(Debug, Clone, Serialize, TS)]
pub struct WithdrawResult {
    /// Teams that stop receiving the case.
    pub ended: Vec<String>,
    /// Teams that keep receiving it on another basis.
    pub kept: Vec<String>,
    /// Whether the change reached the server now (otherwise it goes with the next sync).
    pub sent: bool,
}

/// Sharing a case with another team.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(default)]
pub struct ShareForm {
    /// The person.
    pub person: String,
    /// The receiving team's id.
    pub team: String,
    /// A consent covering the team.
    pub consent: Option<String>,
    /// A 支援会議 the team attended that discussed the person.
    pub meeting: Option<String>,
}

/// What sharing did.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ShareResult {
    /// The 情報提供記録 written.
    pub disclosure: String,
    /// The receiving team.
    pub team: String,
    /// Whether it reached the server now.
    pub sent: bool,
}

/// Resolving a conflict: the value to keep (one of the versions, or a merged text). The
/// resolution is itself a recorded change that supersedes every version.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct ResolveConflictForm {
    /// The record.
    pub entity: String,
    /// The field.
    pub field: String,
    /// The value to keep (JSON, as in the versions).
    pub value: serde_json::Value,
}
