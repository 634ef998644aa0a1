//! 会議記録 (meeting records): the meeting kinds, which one may share information without the
//! person's consent, and the record of one meeting.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::ids::PersonId;
use crate::text::{Note, ShortText, choice_enum, ensure_unique};

pub use crate::ids::MeetingId;

choice_enum! {
    /// The kind of meeting.
    MeetingKind (field = "kind") {
        Jushoteki = "jushoteki", "重層的支援会議";
        Shien = "shien", "支援会議";
        Team = "team", "チーム員会議";
        CaseResponse = "case_response", "ケース対応会議";
        CommunityCare = "community_care", "地域ケア会議";
    }
}

impl MeetingKind {
    /// True only for the 支援会議 (Social Welfare Act art. 106-6): its members are bound to
    /// confidentiality by law, so information may be shared there without the person's
    /// consent. Every other meeting shares on consent.
    pub fn shares_without_consent(self) -> bool {
        self == MeetingKind::Shien
    }
}

/// Something a meeting decided someone should do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowUp {
    /// What to do.
    pub task: ShortText,
    /// Who does it (agency or staff).
    pub owner: Option<ShortText>,
    /// By when: not before the meeting.
    pub due: Option<NaiveDate>,
}

/// The fields of a [`Meeting`]; also its stored shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeetingFields {
    /// Which meeting.
    pub kind: MeetingKind,
    /// When it was held.
    pub date: NaiveDate,
    /// Attending agencies: at least one, none twice. For a 支援会議 these are the members that
    /// may receive information without consent.
    pub agencies: Vec<ShortText>,
    /// Persons discussed, none twice.
    pub persons: Vec<PersonId>,
    /// What was decided.
    pub decisions: Note,
    /// Follow-ups.
    pub follow_ups: Vec<FollowUp>,
}

/// A 会議記録 whose fields agree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "MeetingFields", into = "MeetingFields")]
pub struct Meeting(MeetingFields);

impl Meeting {
    /// Checks the rules: at least one agency, no duplicates, follow-ups not due before the
    /// meeting.
    pub fn new(fields: MeetingFields) -> Result<Meeting, DomainError> {
        if fields.agencies.is_empty() {
            return Err(DomainError::MeetingWithoutAgency);
        }
        ensure_unique("agencies", &fields.agencies)?;
        ensure_unique("persons", &fields.persons)?;
        for f in &fields.follow_ups {
            if let Some(due) = f.due
                && due < fields.date
            {
                return Err(DomainError::FollowUpDueBeforeMeeting {
                    due,
                    meeting_date: fields.date,
                });
            }
        }
        Ok(Meeting(fields))
    }

    /// All fields.
    pub fn fields(&self) -> &MeetingFields {
        &self.0
    }
    /// The fields, to edit and re-validate.
    pub fn into_fields(self) -> MeetingFields {
        self.0
    }
    /// Which meeting.
    pub fn kind(&self) -> MeetingKind {
        self.0.kind
    }
    /// When it was held.
    pub fn date(&self) -> NaiveDate {
        self.0.date
    }
    /// True if the meeting discussed `person`.
    pub fn discussed(&self, person: PersonId) -> bool {
        self.0.persons.contains(&person)
    }
    /// True if `agency` attended.
    pub fn attended(&self, agency: &ShortText) -> bool {
        self.0.agencies.contains(agency)
    }
}

impl TryFrom<MeetingFields> for Meeting {
    type Error = DomainError;
    fn try_from(f: MeetingFields) -> Result<Self, Self::Error> {
        Meeting::new(f)
    }
}

impl From<Meeting> for MeetingFields {
    fn from(m: Meeting) -> MeetingFields {
        m.0
    }
}
