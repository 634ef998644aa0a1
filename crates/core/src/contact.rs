//! The 接触・訪問記録 (contact), the heart of the app: one record per attempt to reach someone,
//! successful or not, with the channel, the outcome, the narrative and the next step.

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::config::{Config, TrustStage};
use crate::ids::{AssessmentId, PersonId};
use crate::text::{Note, ShortText, choice_enum, ensure_unique};

choice_enum! {
    /// How the contact was attempted.
    ContactChannel (field = "channel") {
        Visit = "visit", "訪問";
        Phone = "phone", "電話";
        Letter = "letter", "手紙・置き手紙" | "手紙" | "置き手紙";
        Email = "email", "メール";
        OfficeVisit = "office_visit", "来所";
        Accompany = "accompany", "同行" | "同行支援";
        ViaAgency = "via_agency", "関係機関経由";
        ViaResident = "via_resident", "地域住民経由";
    }
}

choice_enum! {
    /// What came of the attempt.
    ContactOutcome (field = "outcome") {
        Met = "met", "会えた";
        NotHome = "not_home", "不在";
        ThroughDoor = "through_door", "ドア越し";
        Refused = "refused", "拒否";
        Family = "family", "家族と話した";
        LetterLeft = "letter_left", "手紙を置いた" | "置き手紙";
        ThirdParty = "third_party", "第三者から情報";
    }
}

/// The fields of a [`Contact`]; also its stored shape. Start from [`ContactFields::new`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactFields {
    /// Whom the contact was about.
    pub person: PersonId,
    /// When, with the local offset (the date of the contact is the local date).
    pub at: DateTime<FixedOffset>,
    /// Who went: one or more staff, no duplicates.
    pub staff: Vec<ShortText>,
    /// How.
    pub channel: ContactChannel,
    /// What came of it.
    pub outcome: ContactOutcome,
    /// The narrative (伴走の記録).
    pub note: Note,
    /// What was observed (home, health, mood), kept apart from the narrative for review.
    pub observations: Note,
    /// つながりの段階 after this contact, when the worker judged it.
    pub stage: Option<TrustStage>,
    /// What the 置き手紙 said (only with a letter channel or a letter-left outcome).
    pub letter_text: Option<Note>,
    /// The next planned step.
    pub next_step: Option<ShortText>,
    /// When the next step is due: not before the contact's date.
    pub next_due: Option<NaiveDate>,
    /// Assessments taken during the contact, no duplicates.
    pub assessments: Vec<AssessmentId>,
}

impl ContactFields {
    /// The required fields; everything else empty.
    pub fn new(
        person: PersonId,
        at: DateTime<FixedOffset>,
        staff: Vec<ShortText>,
        channel: ContactChannel,
        outcome: ContactOutcome,
    ) -> ContactFields {
        ContactFields {
            person,
            at,
            staff,
            channel,
            outcome,
            note: Note::empty(),
            observations: Note::empty(),
            stage: None,
            letter_text: None,
            next_step: None,
            next_due: None,
            assessments: Vec::new(),
        }
    }
}

/// A contact whose fields agree with each other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ContactFields", into = "ContactFields")]
pub struct Contact(ContactFields);

impl Contact {
    /// Checks the rules:
    /// - at least one staff member, none twice;
    /// - `next_due` is not before the contact's (local) date;
    /// - a letter text only with the letter channel or the letter-left outcome;
    /// - `through_door` only on a visit, `letter_left` only on a visit or by letter: the
    ///   statistics count these outcomes as visits, so they must be visits;
    /// - no assessment attached twice.
    pub fn new(fields: ContactFields) -> Result<Contact, DomainError> {
        if fields.staff.is_empty() {
            return Err(DomainError::ContactWithoutStaff);
        }
        ensure_unique("staff", &fields.staff)?;
        ensure_unique("assessments", &fields.assessments)?;
        let day = fields.at.date_naive();
        if let Some(due) = fields.next_due
            && due < day
        {
            return Err(DomainError::NextDueBeforeContact {
                due,
                contact_date: day,
            });
        }
        use ContactChannel as C;
        use ContactOutcome as O;
        if fields.letter_text.is_some()
            && fields.channel != C::Letter
            && fields.outcome != O::LetterLeft
        {
            return Err(DomainError::LetterTextWithoutLetter);
        }
        let channel = fields.channel;
        match fields.outcome {
            O::ThroughDoor if channel != C::Visit => {
                return Err(DomainError::ThroughDoorNeedsVisit { channel });
            }
            O::LetterLeft if !matches!(channel, C::Visit | C::Letter) => {
                return Err(DomainError::LetterLeftNeedsVisitOrLetter { channel });
            }
            _ => {}
        }
        Ok(Contact(fields))
    }

    /// The one-tap "不在・置き手紙" capture: a visit, nobody answered, a note was left
    /// (outcome `letter_left`, which implies nobody was met). Add the letter's text or the
    /// next visit with the `with_*` methods.
    pub fn quick_not_home_letter(
        person: PersonId,
        at: DateTime<FixedOffset>,
        staff: Vec<ShortText>,
    ) -> Result<Contact, DomainError> {
        Contact::new(ContactFields::new(
            person,
            at,
            staff,
            ContactChannel::Visit,
            ContactOutcome::LetterLeft,
        ))
    }

    fn with(self, edit: impl FnOnce(&mut ContactFields)) -> Result<Contact, DomainError> {
        let mut f = self.0;
        edit(&mut f);
        Contact::new(f)
    }

    /// Sets what the letter said.
    pub fn with_letter_text(self, text: Note) -> Result<Contact, DomainError> {
        self.with(|f| f.letter_text = Some(text))
    }
    /// Sets the next step and its due date.
    pub fn with_next(
        self,
        step: Option<ShortText>,
        due: Option<NaiveDate>,
    ) -> Result<Contact, DomainError> {
        self.with(|f| {
            f.next_step = step;
            f.next_due = due;
        })
    }
    /// Sets the narrative note.
    pub fn with_note(self, note: Note) -> Result<Contact, DomainError> {
        self.with(|f| f.note = note)
    }
    /// Sets the つながりの段階 after the contact.
    pub fn with_stage(self, stage: TrustStage) -> Result<Contact, DomainError> {
        self.with(|f| f.stage = Some(stage))
    }

    /// Checks the values only the configuration can judge (the trust stage).
    pub fn check_config(&self, config: &Config) -> Result<(), DomainError> {
        self.0.stage.map_or(Ok(()), |s| config.check_trust_stage(s))
    }

    /// All fields.
    pub fn fields(&self) -> &ContactFields {
        &self.0
    }
    /// The fields, to edit and re-validate (a correction is a new version).
    pub fn into_fields(self) -> ContactFields {
        self.0
    }
    /// Whom the contact was about.
    pub fn person(&self) -> PersonId {
        self.0.person
    }
    /// When.
    pub fn at(&self) -> DateTime<FixedOffset> {
        self.0.at
    }
    /// The local date of the contact.
    pub fn date(&self) -> NaiveDate {
        self.0.at.date_naive()
    }
    /// How.
    pub fn channel(&self) -> ContactChannel {
        self.0.channel
    }
    /// What came of it.
    pub fn outcome(&self) -> ContactOutcome {
        self.0.outcome
    }
    /// Whether the person themself was reached (for "not met for N days" lists).
    pub fn met_person(&self) -> bool {
        matches!(
            self.0.outcome,
            ContactOutcome::Met | ContactOutcome::ThroughDoor
        )
    }
}

impl TryFrom<ContactFields> for Contact {
    type Error = DomainError;
    fn try_from(f: ContactFields) -> Result<Self, Self::Error> {
        Contact::new(f)
    }
}

impl From<Contact> for ContactFields {
    fn from(c: Contact) -> ContactFields {
        c.0
    }
}
