//! The error every domain validation returns: one variant, and one stable code, per way input
//! can be wrong, with structured details; an English message for logs and the CLI, a Japanese
//! one for the app ([`DomainError::message_ja`]), and the input field it concerns.

use chrono::{Datelike, NaiveDate};
use thiserror::Error;

use crate::contact::{ContactChannel, ContactOutcome};
use crate::ids::{MeetingId, PersonId};
use crate::meeting::MeetingKind;
use crate::plan::PlanState;

/// Why a value was refused at the domain boundary. The UI decides by [`DomainError::code`],
/// marks the input named by [`DomainError::field`] and shows [`DomainError::message_ja`]; the
/// English `Display` is for logs and the CLI.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DomainError {
    // ------------------------------------------------------------ ids, configuration, choices
    /// Not a well-formed identifier (`what`: "person id", "district code", ...).
    #[error("invalid {what}: {value:?}")]
    InvalidId { what: &'static str, value: String },
    /// A district that the configuration does not know.
    #[error("unknown district {value:?} (known: {})", .known.join(", "))]
    UnknownDistrict {
        value: String,
        /// The Japanese names of the configured districts.
        known: Vec<String>,
    },
    /// A program that the configuration does not know.
    #[error("unknown program {value:?} (known: {})", programs_en(.known))]
    UnknownProgram {
        value: String,
        /// The configured programs: (key, Japanese label).
        known: Vec<(String, String)>,
    },
    /// A trust stage outside the configured scale.
    #[error("unknown trust stage {value:?} (known: {})", stages_en(.known))]
    UnknownTrustStage {
        value: String,
        /// The configured scale: (level, Japanese label).
        known: Vec<(u8, String)>,
    },
    /// A value that is not one of the allowed choices (channel, outcome, status, ...).
    #[error("invalid {}: {value:?} (allowed: {})", field_en(.field), choices_en(.allowed))]
    InvalidChoice {
        field: &'static str,
        value: String,
        /// Every choice: (stable key, Japanese label).
        allowed: &'static [(&'static str, &'static str)],
    },
    /// A choice (or district, program) left empty.
    #[error("invalid {}: nothing chosen", field_en(.field))]
    ChoiceEmpty { field: &'static str },
    /// A change set names a kind of record this version does not know.
    #[error("unknown entity kind {value:?} (known: {})", entity_kinds_en())]
    UnknownEntityKind { value: String },
    /// A plan transition the lifecycle does not allow.
    #[error("a plan cannot go from {from} to {to}")]
    InvalidTransition { from: PlanState, to: PlanState },

    // ------------------------------------------------------------ text
    /// A required text is empty (or only spaces).
    #[error("invalid {}: must not be empty", field_en(.field))]
    TextEmpty { field: &'static str },
    /// A text longer than its field allows.
    #[error("invalid {}: {len} characters, at most {max} allowed", field_en(.field))]
    TextTooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    /// A control character (other than newline and tab) or a bidirectional override.
    #[error("invalid {}: contains the {}", field_en(.field), forbidden_en(.ch))]
    TextForbiddenChar { field: &'static str, ch: char },
    /// A newline or tab in a one-line field.
    #[error("invalid {}: must be a single line", field_en(.field))]
    TextMultiline { field: &'static str },
    /// A reading with a character that is not kana.
    #[error("invalid kana: {ch:?} is not kana (hiragana or katakana only)")]
    NotKana { ch: char },
    /// A phone number with a character other than digits, `-`, `+`, parentheses, spaces.
    #[error("invalid phone: {ch:?} is not allowed (digits, -, +, parentheses)")]
    PhoneInvalidChar { ch: char },
    /// A phone number with `+` elsewhere than first.
    #[error("invalid phone: + may only come first")]
    PhonePlusNotFirst,
    /// A phone number with fewer than 3 digits.
    #[error("invalid phone: too few digits (at least 3)")]
    PhoneTooFewDigits,
    /// A stored clock value that does not parse (data from another device or version).
    #[error("invalid hlc: not a hybrid logical clock value: {value:?}")]
    HlcMalformed { value: String },

    // ------------------------------------------------------------ dates
    /// A date that does not have the shape of a date.
    #[error("invalid {}: {value:?} (expected YYYY-MM-DD)", field_en(.field))]
    DateMalformed { field: &'static str, value: String },
    /// A date whose month is not 1–12.
    #[error("invalid {}: {value:?} (there is no month {month})", field_en(.field))]
    DateNoSuchMonth {
        field: &'static str,
        value: String,
        month: u32,
    },
    /// A date whose day the month does not have (2024-02-30).
    #[error(
        "invalid {}: {value:?} ({year}-{month:02} has {days_in_month} days, there is no day {day})",
        field_en(.field)
    )]
    DateNoSuchDay {
        field: &'static str,
        value: String,
        year: i32,
        month: u32,
        day: u32,
        days_in_month: u32,
    },
    /// A date and time that does not parse.
    #[error("invalid {}: {value:?} (expected YYYY-MM-DDTHH:MM or RFC 3339)", field_en(.field))]
    DateTimeMalformed { field: &'static str, value: String },
    /// A local time that the device's time zone skips (a daylight-saving gap).
    #[error("invalid {}: {value:?} (that local time does not exist)", field_en(.field))]
    LocalTimeMissing { field: &'static str, value: String },
    /// A birth date after today.
    #[error("invalid birth date: \"{date}\" (is in the future (today is {today}))")]
    BirthInFuture { date: NaiveDate, today: NaiveDate },
    /// A birth date before the earliest any record may claim.
    #[error("invalid birth date: \"{date}\" (is before {earliest})")]
    BirthTooEarly {
        date: NaiveDate,
        earliest: NaiveDate,
    },
    /// An age band that is not a decade from 0 to 120 (`80代`, `80s`).
    #[error("invalid age band: {value:?} (a decade such as 80代 or 80s, from 0 to 120)")]
    AgeBandInvalid { value: String },
    /// A contact's next due date before the contact's own date.
    #[error("invalid next due: \"{due}\" (is before the contact's date {contact_date})")]
    NextDueBeforeContact {
        due: NaiveDate,
        contact_date: NaiveDate,
    },
    /// A consent that expires on or before the day it was given.
    #[error(
        "invalid expires on: \"{expires_on}\" (must be after the day consent was given ({given_on}))"
    )]
    ConsentExpiryNotAfterGiven {
        expires_on: NaiveDate,
        given_on: NaiveDate,
    },
    /// A consent withdrawn before the day it was given.
    #[error(
        "invalid withdrawn on: \"{withdrawn_on}\" (is before the day consent was given ({given_on}))"
    )]
    ConsentWithdrawnBeforeGiven {
        withdrawn_on: NaiveDate,
        given_on: NaiveDate,
    },
    /// A meeting's follow-up due before the meeting.
    #[error("invalid follow-up due: \"{due}\" (is before the meeting on {meeting_date})")]
    FollowUpDueBeforeMeeting {
        due: NaiveDate,
        meeting_date: NaiveDate,
    },
    /// A plan transition dated before the previous one.
    #[error(
        "invalid transition date: \"{date}\" (is before the previous transition on {previous})"
    )]
    TransitionBeforePrevious {
        date: NaiveDate,
        previous: NaiveDate,
    },

    // ------------------------------------------------------------ record rules
    /// A list holds the same value twice (staff, programs, agencies, ...).
    #[error("{}: {value} appears more than once", field_en(.field))]
    DuplicateValue { field: &'static str, value: String },
    /// A person without any program.
    #[error("a person needs at least one program")]
    PersonWithoutProgram,
    /// A household without members (also: removing its last member).
    #[error("a household needs at least one member")]
    HouseholdWithoutMember,
    /// The same person twice in one household.
    #[error("{person} appears more than once in the household")]
    HouseholdMemberTwice { person: PersonId },
    /// Two members related as 本人.
    #[error("a household has at most one 本人")]
    HouseholdTwoPrincipals,
    /// A contact without staff.
    #[error("a contact needs at least one staff member")]
    ContactWithoutStaff,
    /// A letter text on a contact that is neither by letter nor left a letter.
    #[error("a letter text needs the letter channel or the letter-left outcome")]
    LetterTextWithoutLetter,
    /// `through_door` on a contact that was not a visit.
    #[error("outcome through_door does not fit channel {channel} (only a visit)")]
    ThroughDoorNeedsVisit { channel: ContactChannel },
    /// `letter_left` on a contact that was neither a visit nor by letter.
    #[error("outcome letter_left does not fit channel {channel} (only a visit or a letter)")]
    LetterLeftNeedsVisitOrLetter { channel: ContactChannel },
    /// A consent that names no agency.
    #[error("a consent must name at least one agency")]
    ConsentWithoutScope,
    /// A meeting without attending agencies.
    #[error("a meeting needs at least one agency")]
    MeetingWithoutAgency,

    // ------------------------------------------------------------ plans
    /// A plan past draft without goals.
    #[error("a plan needs at least one goal once it leaves draft")]
    PlanWithoutGoal,
    /// An edit of a closed, interrupted or discarded plan.
    #[error("a {state} plan cannot be edited")]
    PlanNotEditable { state: PlanState },
    /// A meeting recorded for a transition the plan does not have.
    #[error("the plan has no transition number {index}")]
    PlanNoSuchTransition { index: usize },
    /// A meeting recorded for a transition that needs none.
    #[error("{from} → {to} needs no meeting")]
    PlanStepNeedsNoMeeting { from: PlanState, to: PlanState },
    /// A meeting of the wrong kind recorded for a transition.
    #[error(
        "{from} → {to} needs a {} ({needed}), not a {} ({given})",
        .needed.label_ja(),
        .given.label_ja()
    )]
    PlanWrongMeetingKind {
        from: PlanState,
        to: PlanState,
        needed: MeetingKind,
        given: MeetingKind,
    },
    /// A second, different meeting recorded for a transition.
    #[error("{from} → {to} already has meeting {meeting}")]
    PlanMeetingAlreadyRecorded {
        from: PlanState,
        to: PlanState,
        meeting: MeetingId,
    },
    /// Stored history: a step does not start where the previous one ended.
    #[error("plan history: a step from {from} follows state {after}")]
    PlanHistoryOutOfStep { from: PlanState, after: PlanState },
    /// Stored history: a step records another meeting requirement than the lifecycle's.
    #[error("plan history: {from} → {to} records the wrong meeting requirement")]
    PlanHistoryWrongMeetingRequirement { from: PlanState, to: PlanState },
    /// Stored history: a meeting on a step that needs none.
    #[error("plan history: {from} → {to} needs no meeting but has one")]
    PlanHistoryUnneededMeeting { from: PlanState, to: PlanState },
    /// Stored history: steps out of date order.
    #[error("plan history is not in date order")]
    PlanHistoryNotInDateOrder,
    /// Stored plan: the state is not where its history leads.
    #[error("plan state {state} does not match its history ({history})")]
    PlanHistoryStateMismatch {
        state: PlanState,
        history: PlanState,
    },

    // ------------------------------------------------------------ disclosure
    /// A disclosure with neither consent nor 支援会議 offered as its basis.
    #[error(
        "disclosure refused: no legal basis: give the person's consent or a 支援会議 (art. 106-6)"
    )]
    DisclosureWithoutBasis,
    /// The consent offered is another person's.
    #[error("disclosure refused: the consent is another person's")]
    DisclosureConsentOfAnotherPerson,
    /// The consent offered does not hold on the day.
    #[error("disclosure refused: the consent is not active on {on}")]
    DisclosureConsentNotActive { on: NaiveDate },
    /// The consent offered does not name the recipient.
    #[error("disclosure refused: the consent does not cover {to}")]
    DisclosureConsentNotCovering { to: String },
    /// The meeting offered is not a 支援会議, so it shares only with consent.
    #[error(
        "disclosure refused: a {} ({kind}) shares only with consent; only a {} may share without",
        .kind.label_ja(),
        MeetingKind::Shien.label_ja()
    )]
    DisclosureMeetingNeedsConsent { kind: MeetingKind },
    /// The 支援会議 offered was held after the day.
    #[error("disclosure refused: the meeting on {date} had not been held yet")]
    DisclosureMeetingNotYetHeld { date: NaiveDate },
    /// The 支援会議 offered did not discuss the person.
    #[error("disclosure refused: the meeting did not discuss this person")]
    DisclosureMeetingOtherPerson,
    /// The recipient did not attend the 支援会議 offered.
    #[error("disclosure refused: {to} is not a member of the meeting")]
    DisclosureRecipientNotMember { to: String },
}

impl DomainError {
    /// A stable machine code for the UI and `--json` output (the UI decides by code). Each
    /// variant has its own; disclosure refusals all start with `disclosure_`.
    pub fn code(&self) -> &'static str {
        use DomainError as E;
        match self {
            E::InvalidId { .. } => "invalid_id",
            E::UnknownDistrict { .. } => "unknown_district",
            E::UnknownProgram { .. } => "unknown_program",
            E::UnknownTrustStage { .. } => "unknown_trust_stage",
            E::InvalidChoice { .. } => "invalid_choice",
            E::ChoiceEmpty { .. } => "choice_empty",
            E::UnknownEntityKind { .. } => "unknown_entity_kind",
            E::InvalidTransition { .. } => "invalid_transition",
            E::TextEmpty { .. } => "text_empty",
            E::TextTooLong { .. } => "text_too_long",
            E::TextForbiddenChar { .. } => "text_forbidden_char",
            E::TextMultiline { .. } => "text_multiline",
            E::NotKana { .. } => "not_kana",
            E::PhoneInvalidChar { .. } => "phone_invalid_char",
            E::PhonePlusNotFirst => "phone_plus_not_first",
            E::PhoneTooFewDigits => "phone_too_few_digits",
            E::HlcMalformed { .. } => "hlc_malformed",
            E::DateMalformed { .. } => "date_malformed",
            E::DateNoSuchMonth { .. } => "date_no_such_month",
            E::DateNoSuchDay { .. } => "date_no_such_day",
            E::DateTimeMalformed { .. } => "datetime_malformed",
            E::LocalTimeMissing { .. } => "local_time_missing",
            E::BirthInFuture { .. } => "birth_in_future",
            E::BirthTooEarly { .. } => "birth_too_early",
            E::AgeBandInvalid { .. } => "age_band_invalid",
            E::NextDueBeforeContact { .. } => "next_due_before_contact",
            E::ConsentExpiryNotAfterGiven { .. } => "consent_expiry_not_after_given",
            E::ConsentWithdrawnBeforeGiven { .. } => "consent_withdrawn_before_given",
            E::FollowUpDueBeforeMeeting { .. } => "follow_up_due_before_meeting",
            E::TransitionBeforePrevious { .. } => "transition_before_previous",
            E::DuplicateValue { .. } => "duplicate_value",
            E::PersonWithoutProgram => "person_without_program",
            E::HouseholdWithoutMember => "household_without_member",
            E::HouseholdMemberTwice { .. } => "household_member_twice",
            E::HouseholdTwoPrincipals => "household_two_principals",
            E::ContactWithoutStaff => "contact_without_staff",
            E::LetterTextWithoutLetter => "letter_text_without_letter",
            E::ThroughDoorNeedsVisit { .. } => "through_door_needs_visit",
            E::LetterLeftNeedsVisitOrLetter { .. } => "letter_left_needs_visit_or_letter",
            E::ConsentWithoutScope => "consent_without_scope",
            E::MeetingWithoutAgency => "meeting_without_agency",
            E::PlanWithoutGoal => "plan_without_goal",
            E::PlanNotEditable { .. } => "plan_not_editable",
            E::PlanNoSuchTransition { .. } => "plan_no_such_transition",
            E::PlanStepNeedsNoMeeting { .. } => "plan_step_needs_no_meeting",
            E::PlanWrongMeetingKind { .. } => "plan_wrong_meeting_kind",
            E::PlanMeetingAlreadyRecorded { .. } => "plan_meeting_already_recorded",
            E::PlanHistoryOutOfStep { .. } => "plan_history_out_of_step",
            E::PlanHistoryWrongMeetingRequirement { .. } => {
                "plan_history_wrong_meeting_requirement"
            }
            E::PlanHistoryUnneededMeeting { .. } => "plan_history_unneeded_meeting",
            E::PlanHistoryNotInDateOrder => "plan_history_not_in_date_order",
            E::PlanHistoryStateMismatch { .. } => "plan_history_state_mismatch",
            E::DisclosureWithoutBasis => "disclosure_without_basis",
            E::DisclosureConsentOfAnotherPerson => "disclosure_consent_of_another_person",
            E::DisclosureConsentNotActive { .. } => "disclosure_consent_not_active",
            E::DisclosureConsentNotCovering { .. } => "disclosure_consent_not_covering",
            E::DisclosureMeetingNeedsConsent { .. } => "disclosure_meeting_needs_consent",
            E::DisclosureMeetingNotYetHeld { .. } => "disclosure_meeting_not_yet_held",
            E::DisclosureMeetingOtherPerson => "disclosure_meeting_other_person",
            E::DisclosureRecipientNotMember { .. } => "disclosure_recipient_not_member",
        }
    }

    /// The input field the error concerns (a key of [`field_label_ja`]'s table, e.g. `"name"`,
    /// `"next_due"`), so a form can mark it; `None` when no single field is at fault (stored
    /// data, a disclosure without any basis).
    pub fn field(&self) -> Option<&'static str> {
        use DomainError as E;
        match self {
            E::InvalidId { what, .. } => id_field(what),
            E::UnknownDistrict { .. } => Some("district"),
            E::UnknownProgram { .. } | E::PersonWithoutProgram => Some("programs"),
            E::UnknownTrustStage { .. } => Some("stage"),
            E::InvalidChoice { field, .. }
            | E::ChoiceEmpty { field }
            | E::TextEmpty { field }
            | E::TextTooLong { field, .. }
            | E::TextForbiddenChar { field, .. }
            | E::TextMultiline { field }
            | E::DateMalformed { field, .. }
            | E::DateNoSuchMonth { field, .. }
            | E::DateNoSuchDay { field, .. }
            | E::DateTimeMalformed { field, .. }
            | E::LocalTimeMissing { field, .. }
            | E::DuplicateValue { field, .. } => Some(field),
            E::InvalidTransition { .. } => Some("state"),
            E::NotKana { .. } => Some("kana"),
            E::PhoneInvalidChar { .. } | E::PhonePlusNotFirst | E::PhoneTooFewDigits => {
                Some("phone")
            }
            E::BirthInFuture { .. } | E::BirthTooEarly { .. } | E::AgeBandInvalid { .. } => {
                Some("birth")
            }
            E::NextDueBeforeContact { .. } => Some("next_due"),
            E::ConsentExpiryNotAfterGiven { .. } => Some("expires_on"),
            E::ConsentWithdrawnBeforeGiven { .. } => Some("withdrawn_on"),
            E::FollowUpDueBeforeMeeting { .. } => Some("follow_ups"),
            E::TransitionBeforePrevious { .. } => Some("date"),
            E::HouseholdWithoutMember
            | E::HouseholdMemberTwice { .. }
            | E::HouseholdTwoPrincipals => Some("members"),
            E::ContactWithoutStaff => Some("staff"),
            E::LetterTextWithoutLetter => Some("letter_text"),
            E::ThroughDoorNeedsVisit { .. } | E::LetterLeftNeedsVisitOrLetter { .. } => {
                Some("outcome")
            }
            E::ConsentWithoutScope => Some("scope"),
            E::MeetingWithoutAgency => Some("agencies"),
            E::PlanWithoutGoal => Some("goals"),
            E::PlanWrongMeetingKind { .. } | E::PlanMeetingAlreadyRecorded { .. } => {
                Some("meeting")
            }
            E::DisclosureConsentOfAnotherPerson
            | E::DisclosureConsentNotActive { .. }
            | E::DisclosureConsentNotCovering { .. } => Some("consent"),
            E::DisclosureMeetingNeedsConsent { .. }
            | E::DisclosureMeetingNotYetHeld { .. }
            | E::DisclosureMeetingOtherPerson
            | E::DisclosureRecipientNotMember { .. } => Some("meeting"),
            E::UnknownEntityKind { .. }
            | E::HlcMalformed { .. }
            | E::PlanNotEditable { .. }
            | E::PlanNoSuchTransition { .. }
            | E::PlanStepNeedsNoMeeting { .. }
            | E::PlanHistoryOutOfStep { .. }
            | E::PlanHistoryWrongMeetingRequirement { .. }
            | E::PlanHistoryUnneededMeeting { .. }
            | E::PlanHistoryNotInDateOrder
            | E::PlanHistoryStateMismatch { .. }
            | E::DisclosureWithoutBasis => None,
        }
    }

    /// The message in whole Japanese, for the app's screens: it names the field by its label,
    /// says what to do, and quotes the user's own input in 「」 where that helps.
    pub fn message_ja(&self) -> String {
        use DomainError as E;
        let label = |field: &str| field_label_ja(field).unwrap_or("入力内容");
        match self {
            E::InvalidId { what, value } => format!(
                "{}の指定「{value}」が正しくありません。一覧から選び直してください。",
                id_field(what).and_then(field_label_ja).unwrap_or("記録")
            ),
            E::UnknownDistrict { value, known } => format!(
                "地区「{value}」は登録されていません（選べる地区: {}）。",
                known.join("、")
            ),
            E::UnknownProgram { value, known } => format!(
                "事業「{value}」は登録されていません（選べる事業: {}）。",
                known
                    .iter()
                    .map(|(_, l)| l.as_str())
                    .collect::<Vec<_>>()
                    .join("、")
            ),
            E::UnknownTrustStage { value, known } => format!(
                "つながりの段階「{value}」はありません（選べる段階: {}）。",
                known
                    .iter()
                    .map(|(n, l)| format!("{n} {l}"))
                    .collect::<Vec<_>>()
                    .join("、")
            ),
            E::InvalidChoice {
                field,
                value,
                allowed,
            } => format!(
                "{}「{value}」は選べません（選べるもの: {}）。",
                label(field),
                allowed
                    .iter()
                    .map(|(_, l)| *l)
                    .collect::<Vec<_>>()
                    .join("、")
            ),
            E::ChoiceEmpty { field } => format!("{}を選んでください。", label(field)),
            E::UnknownEntityKind { value } => format!(
                "同期データの記録の種類「{value}」に対応していません。アプリを更新してください。"
            ),
            E::InvalidTransition { from, to } => format!(
                "支援プランを「{}」から「{}」に変えることはできません。",
                from.label_ja(),
                to.label_ja()
            ),
            E::TextEmpty { field } => format!("{}を入力してください。", label(field)),
            E::TextTooLong { field, len, max } => format!(
                "{}が長すぎます（{len}文字あります。{max}文字までにしてください）。",
                label(field)
            ),
            E::TextForbiddenChar { field, .. } => format!(
                "{}に使えない特殊な文字（制御文字など、画面に見えない文字）が含まれています。貼り付けた部分を入力し直してください。",
                label(field)
            ),
            E::TextMultiline { field } => format!(
                "{}は1行で入力してください（改行やタブは使えません）。",
                label(field)
            ),
            E::NotKana { ch } => format!(
                "ふりがなはひらがなかカタカナで入力してください（「{ch}」は使えません）。"
            ),
            E::PhoneInvalidChar { ch } => format!(
                "電話番号は数字と「-」「+」「(」「)」だけで入力してください（「{ch}」は使えません）。"
            ),
            E::PhonePlusNotFirst => "電話番号の「+」は先頭にだけ付けられます。".into(),
            E::PhoneTooFewDigits => {
                "電話番号の数字が足りません（3桁以上入力してください）。".into()
            }
            E::HlcMalformed { value } => format!(
                "同期データの時刻情報「{value}」が読み取れません。情報システム担当に連絡してください。"
            ),
            E::DateMalformed { field, value } => format!(
                "{}「{value}」を日付として読み取れません。2024-04-01 や 2024年4月1日 の形で入力してください。",
                label(field)
            ),
            E::DateNoSuchMonth {
                field,
                value,
                month,
            } => format!(
                "{}「{value}」は存在しない日付です（{month}月という月はありません）。",
                label(field)
            ),
            E::DateNoSuchDay {
                field,
                value,
                year,
                month,
                days_in_month,
                ..
            } => format!(
                "{}「{value}」は存在しない日付です（{year}年{month}月は{days_in_month}日までです）。",
                label(field)
            ),
            E::DateTimeMalformed { field, value } => format!(
                "{}「{value}」を日時として読み取れません。2024-04-01 10:30 の形で入力してください。",
                label(field)
            ),
            E::LocalTimeMissing { field, value } => format!(
                "{}「{value}」は、この端末の時間帯では存在しない時刻です。時刻を確認してください。",
                label(field)
            ),
            E::BirthInFuture { date, today } => format!(
                "生年月日（{}）が今日（{}）より後になっています。",
                ja_date(*date),
                ja_date(*today)
            ),
            E::BirthTooEarly { date, earliest } => format!(
                "生年月日（{}）が{}より前になっています。",
                ja_date(*date),
                ja_date(*earliest)
            ),
            E::AgeBandInvalid { value } => format!(
                "年代「{value}」は「80代」のように、0代から120代までの10年単位で入力してください。"
            ),
            E::NextDueBeforeContact { due, contact_date } => format!(
                "次回予定日（{}）が訪問・接触の日（{}）より前になっています。",
                ja_date(*due),
                ja_date(*contact_date)
            ),
            E::ConsentExpiryNotAfterGiven {
                expires_on,
                given_on,
            } => format!(
                "有効期限（{}）は同意日（{}）より後の日にしてください。",
                ja_date(*expires_on),
                ja_date(*given_on)
            ),
            E::ConsentWithdrawnBeforeGiven {
                withdrawn_on,
                given_on,
            } => format!(
                "撤回日（{}）が同意日（{}）より前になっています。",
                ja_date(*withdrawn_on),
                ja_date(*given_on)
            ),
            E::FollowUpDueBeforeMeeting { due, meeting_date } => format!(
                "今後の対応の期限（{}）が会議の日（{}）より前になっています。",
                ja_date(*due),
                ja_date(*meeting_date)
            ),
            E::TransitionBeforePrevious { date, previous } => format!(
                "支援プランの変更日（{}）が前回の変更日（{}）より前になっています。",
                ja_date(*date),
                ja_date(*previous)
            ),
            E::DuplicateValue { field, value } => format!(
                "{}に「{value}」が2回入っています。1回だけにしてください。",
                label(field)
            ),
            E::PersonWithoutProgram => "事業を1つ以上選んでください。".into(),
            E::HouseholdWithoutMember => {
                "世帯には世帯員が1人以上必要です（最後の1人は外せません）。".into()
            }
            E::HouseholdMemberTwice { .. } => "同じ人が世帯に2回入っています。".into(),
            E::HouseholdTwoPrincipals => {
                "世帯の「本人」は1人だけです。ほかの世帯員の続柄を選び直してください。".into()
            }
            E::ContactWithoutStaff => "担当者を1人以上入力してください。".into(),
            E::LetterTextWithoutLetter => format!(
                "置き手紙の内容は、接触方法が「{}」か、結果が「{}」のときだけ記録できます。",
                ContactChannel::Letter.label_ja(),
                ContactOutcome::LetterLeft.label_ja()
            ),
            E::ThroughDoorNeedsVisit { channel } => format!(
                "結果「{}」は接触方法が「{}」のときだけ選べます（今は「{}」）。",
                ContactOutcome::ThroughDoor.label_ja(),
                ContactChannel::Visit.label_ja(),
                channel.label_ja()
            ),
            E::LetterLeftNeedsVisitOrLetter { channel } => format!(
                "結果「{}」は接触方法が「{}」か「{}」のときだけ選べます（今は「{}」）。",
                ContactOutcome::LetterLeft.label_ja(),
                ContactChannel::Visit.label_ja(),
                ContactChannel::Letter.label_ja(),
                channel.label_ja()
            ),
            E::ConsentWithoutScope => {
                "同意の範囲（情報を提供してよい機関）を1つ以上入力してください。".into()
            }
            E::MeetingWithoutAgency => "参加機関を1つ以上入力してください。".into(),
            E::PlanWithoutGoal => {
                "目標を1つ以上入力してください（作成中でない支援プランには目標が必要です）。"
                    .into()
            }
            E::PlanNotEditable { state } => format!(
                "「{}」になった支援プランは変更できません。支援を再開するときは新しいプランを作ってください。",
                state.label_ja()
            ),
            E::PlanNoSuchTransition { index } => {
                format!("この支援プランには{index}番の状態変更がありません。")
            }
            E::PlanStepNeedsNoMeeting { from, to } => format!(
                "「{}」から「{}」への変更には会議は必要ありません。",
                from.label_ja(),
                to.label_ja()
            ),
            E::PlanWrongMeetingKind {
                from,
                to,
                needed,
                given,
            } => format!(
                "「{}」から「{}」への変更に必要なのは{}です（{}ではありません）。",
                from.label_ja(),
                to.label_ja(),
                needed.label_ja(),
                given.label_ja()
            ),
            E::PlanMeetingAlreadyRecorded { from, to, .. } => format!(
                "「{}」から「{}」への変更には、すでに別の会議記録が登録されています。",
                from.label_ja(),
                to.label_ja()
            ),
            E::PlanHistoryOutOfStep { from, after } => format!(
                "支援プランの履歴が食い違っています（「{}」の次に「{}」からの変更があります）。{STORED_DATA}",
                after.label_ja(),
                from.label_ja()
            ),
            E::PlanHistoryWrongMeetingRequirement { from, to } => format!(
                "支援プランの履歴で、「{}」から「{}」への変更に必要な会議が正しく記録されていません。{STORED_DATA}",
                from.label_ja(),
                to.label_ja()
            ),
            E::PlanHistoryUnneededMeeting { from, to } => format!(
                "支援プランの履歴で、会議の要らない「{}」から「{}」への変更に会議が記録されています。{STORED_DATA}",
                from.label_ja(),
                to.label_ja()
            ),
            E::PlanHistoryNotInDateOrder => {
                format!("支援プランの履歴が日付順になっていません。{STORED_DATA}")
            }
            E::PlanHistoryStateMismatch { state, history } => format!(
                "支援プランの状態「{}」が履歴（「{}」）と合っていません。{STORED_DATA}",
                state.label_ja(),
                history.label_ja()
            ),
            E::DisclosureWithoutBasis => {
                "情報提供には根拠が必要です。本人の同意か、支援会議（社会福祉法第106条の6）の記録を選んでください。"
                    .into()
            }
            E::DisclosureConsentOfAnotherPerson => {
                "選んだ同意は別の対象者のものです。この対象者の同意を選んでください。".into()
            }
            E::DisclosureConsentNotActive { on } => format!(
                "選んだ同意は{}の時点で有効ではありません（同意日より前、有効期限切れ、または撤回済みです）。",
                ja_date(*on)
            ),
            E::DisclosureConsentNotCovering { to } => format!(
                "選んだ同意の範囲に「{to}」が含まれていません。範囲に含む同意を選ぶか、新しく同意を記録してください。"
            ),
            E::DisclosureMeetingNeedsConsent { kind } => format!(
                "{}では本人の同意なしに情報を提供できません（同意なしで提供できるのは{}だけです）。",
                kind.label_ja(),
                MeetingKind::Shien.label_ja()
            ),
            E::DisclosureMeetingNotYetHeld { date } => format!(
                "選んだ会議（{}）はまだ開かれていません。",
                ja_date(*date)
            ),
            E::DisclosureMeetingOtherPerson => {
                "選んだ会議ではこの対象者が取り上げられていません。".into()
            }
            E::DisclosureRecipientNotMember { to } => format!(
                "「{to}」はこの支援会議の参加機関ではないため、同意なしには提供できません。"
            ),
        }
    }
}

/// Said after an error in stored data: the worker can do nothing about it but report it.
const STORED_DATA: &str = "情報システム担当に連絡してください。";

/// Every input field key the domain names in its errors: (key, Japanese label, English name).
/// The keys are those of the device's input structs (`PersonInput`, `ContactInput`, ...).
const FIELDS: &[(&str, &str, &str)] = &[
    // 対象者
    ("name", "氏名", "name"),
    ("kana", "ふりがな", "kana"),
    ("birth", "生年月日", "birth date"),
    ("sex", "性別", "sex"),
    ("address", "住所", "address"),
    ("phone", "電話番号", "phone"),
    ("district", "地区", "district"),
    ("programs", "事業", "programs"),
    ("status", "支援の状況", "status"),
    ("risk_flags", "リスク", "risk flags"),
    ("memo", "メモ", "memo"),
    ("person", "対象者", "person"),
    ("referred_on", "相談受付日", "referral date"),
    ("support_started_on", "支援開始日", "support start date"),
    ("handed_over_on", "引き継ぎ日", "hand-over date"),
    // 世帯
    ("household", "世帯", "household"),
    ("members", "世帯員", "household members"),
    ("relation", "続柄", "relation"),
    // 接触・訪問記録
    ("contact", "接触・訪問記録", "contact"),
    ("at", "日時", "time"),
    ("staff", "担当者", "staff"),
    ("channel", "接触方法", "channel"),
    ("outcome", "結果", "outcome"),
    ("note", "記録", "note"),
    ("observations", "観察", "observations"),
    ("stage", "つながりの段階", "trust stage"),
    ("letter_text", "置き手紙の内容", "letter text"),
    ("next_step", "次の予定", "next step"),
    ("next_due", "次回予定日", "next due"),
    // 評価票
    ("assessment", "評価票", "assessment"),
    ("assessments", "評価票", "assessments"),
    ("instrument", "評価票", "instrument"),
    ("answers", "回答", "answers"),
    // 同意・会議・情報提供
    ("consent", "同意", "consent"),
    ("scope", "同意の範囲", "consent scope"),
    ("method", "同意の方法", "consent method"),
    ("given_on", "同意日", "given on"),
    ("expires_on", "有効期限", "expires on"),
    ("withdrawn_on", "撤回日", "withdrawn on"),
    ("meeting", "会議記録", "meeting"),
    ("kind", "会議の種類", "meeting kind"),
    ("date", "日付", "date"),
    ("agencies", "参加機関", "agencies"),
    ("persons", "取り上げた対象者", "persons"),
    ("decisions", "決定事項", "decisions"),
    ("follow_ups", "今後の対応", "follow-ups"),
    ("disclosure", "情報提供記録", "disclosure"),
    ("what", "提供する情報", "what"),
    ("to", "提供先", "recipient"),
    // 支援プラン
    ("plan", "支援プラン", "plan"),
    ("goals", "目標", "goals"),
    ("roles", "役割分担", "roles"),
    ("review_on", "次回見直し日", "review date"),
    ("state", "支援プランの状態", "plan state"),
    ("agency", "関係機関", "agency"),
    ("task", "役割", "task"),
    ("on", "日付", "date"),
    // 下書き
    ("key", "下書きの種類", "draft key"),
    ("label", "下書きの名前", "draft label"),
    // 端末
    ("device", "端末", "device"),
    ("actor", "利用者名", "user name"),
    ("text", "入力内容", "text"),
];

/// The Japanese label of an input field key (`"next_due"` → 次回予定日), as the screens name it.
pub fn field_label_ja(field: &str) -> Option<&'static str> {
    FIELDS.iter().find(|(k, _, _)| *k == field).map(|f| f.1)
}

/// The English name of a field key for `Display` (the key itself when not in the table).
fn field_en(field: &str) -> &str {
    FIELDS
        .iter()
        .find(|(k, _, _)| *k == field)
        .map_or(field, |f| f.2)
}

/// Which input an id of this kind is typed into (`InvalidId::what` → field key).
fn id_field(what: &str) -> Option<&'static str> {
    Some(match what {
        "person id" => "person",
        "household id" => "household",
        "contact id" => "contact",
        "assessment id" => "assessment",
        "meeting id" => "meeting",
        "consent id" => "consent",
        "plan id" => "plan",
        "disclosure id" => "disclosure",
        "device id" => "device",
        "district code" => "district",
        "program key" => "programs",
        _ => return None,
    })
}

fn ja_date(d: NaiveDate) -> String {
    format!("{}年{}月{}日", d.year(), d.month(), d.day())
}

fn forbidden_en(c: &char) -> String {
    let kind = if c.is_control() {
        "control character"
    } else {
        "direction override"
    };
    format!("{kind} U+{:04X}", u32::from(*c))
}

fn choices_en(allowed: &[(&str, &str)]) -> String {
    allowed
        .iter()
        .map(|(k, l)| format!("{k} ({l})"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn programs_en(known: &[(String, String)]) -> String {
    known
        .iter()
        .map(|(k, l)| format!("{k} ({l})"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn stages_en(known: &[(u8, String)]) -> String {
    known
        .iter()
        .map(|(n, l)| format!("{n} {l}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn entity_kinds_en() -> String {
    crate::change::EntityKind::ALL.map(|k| k.key()).join(", ")
}

/// Asserts that `message` is whole Japanese: no ASCII letter outside 「」 (which quote the
/// user's own input, or a name written in a file), and a full sentence ending in 。.
#[cfg(test)]
#[track_caller]
pub(crate) fn assert_whole_japanese(message: &str) {
    let mut depth = 0usize;
    let outside: String = message
        .chars()
        .filter(|&c| match c {
            '「' => {
                depth += 1;
                false
            }
            '」' => {
                depth = depth.saturating_sub(1);
                false
            }
            _ => depth == 0,
        })
        .collect();
    assert!(
        !outside.chars().any(|c| c.is_ascii_alphabetic()),
        "ASCII letters outside 「」: {message}"
    );
    assert!(message.ends_with('。'), "not a full sentence: {message}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// One instance of every variant, with the index [`variant`] gives it.
    fn samples() -> Vec<DomainError> {
        use DomainError as E;
        use PlanState::*;
        let person = PersonId::from_uuid(Uuid::from_u128(1));
        let meeting = MeetingId::from_uuid(Uuid::from_u128(2));
        vec![
            E::InvalidId {
                what: "person id",
                value: "not-an-id".into(),
            },
            E::UnknownDistrict {
                value: "東京".into(),
                known: vec!["片瀬".into(), "鵠沼".into()],
            },
            E::UnknownProgram {
                value: "nursing".into(),
                known: vec![("csw".into(), "コミュニティソーシャルワーカー".into())],
            },
            E::UnknownTrustStage {
                value: "9".into(),
                known: vec![(0, "未接触".into()), (1, "存在を知ってもらえた".into())],
            },
            ContactChannel::parse("fax").unwrap_err(),
            E::ChoiceEmpty { field: "channel" },
            E::UnknownEntityKind {
                value: "invoice".into(),
            },
            E::InvalidTransition {
                from: Replanned,
                to: Active,
            },
            E::TextEmpty { field: "name" },
            E::TextTooLong {
                field: "note",
                len: 20_001,
                max: 20_000,
            },
            E::TextForbiddenChar {
                field: "memo",
                ch: '\u{1b}',
            },
            E::TextMultiline { field: "address" },
            E::NotKana { ch: 'A' },
            E::PhoneInvalidChar { ch: 'x' },
            E::PhonePlusNotFirst,
            E::PhoneTooFewDigits,
            E::HlcMalformed {
                value: "yesterday".into(),
            },
            E::DateMalformed {
                field: "birth",
                value: "yesterday".into(),
            },
            E::DateNoSuchMonth {
                field: "next_due",
                value: "2024-13-01".into(),
                month: 13,
            },
            E::DateNoSuchDay {
                field: "birth",
                value: "2024-02-30".into(),
                year: 2024,
                month: 2,
                day: 30,
                days_in_month: 29,
            },
            E::DateTimeMalformed {
                field: "at",
                value: "2026-13-01T10:00".into(),
            },
            E::LocalTimeMissing {
                field: "at",
                value: "2026-03-08T02:30".into(),
            },
            E::BirthInFuture {
                date: d("2999-01-01"),
                today: d("2025-06-01"),
            },
            E::BirthTooEarly {
                date: d("1850-01-01"),
                earliest: d("1900-01-01"),
            },
            E::AgeBandInvalid {
                value: "85s".into(),
            },
            E::NextDueBeforeContact {
                due: d("2026-01-05"),
                contact_date: d("2026-01-10"),
            },
            E::ConsentExpiryNotAfterGiven {
                expires_on: d("2025-04-01"),
                given_on: d("2025-04-01"),
            },
            E::ConsentWithdrawnBeforeGiven {
                withdrawn_on: d("2025-03-31"),
                given_on: d("2025-04-01"),
            },
            E::FollowUpDueBeforeMeeting {
                due: d("2025-05-19"),
                meeting_date: d("2025-05-20"),
            },
            E::TransitionBeforePrevious {
                date: d("2025-09-30"),
                previous: d("2025-10-01"),
            },
            E::DuplicateValue {
                field: "staff",
                value: "Sato".into(),
            },
            E::PersonWithoutProgram,
            E::HouseholdWithoutMember,
            E::HouseholdMemberTwice { person },
            E::HouseholdTwoPrincipals,
            E::ContactWithoutStaff,
            E::LetterTextWithoutLetter,
            E::ThroughDoorNeedsVisit {
                channel: ContactChannel::Phone,
            },
            E::LetterLeftNeedsVisitOrLetter {
                channel: ContactChannel::Email,
            },
            E::ConsentWithoutScope,
            E::MeetingWithoutAgency,
            E::PlanWithoutGoal,
            E::PlanNotEditable { state: Closed },
            E::PlanNoSuchTransition { index: 5 },
            E::PlanStepNeedsNoMeeting {
                from: Draft,
                to: Discarded,
            },
            E::PlanWrongMeetingKind {
                from: Draft,
                to: Active,
                needed: MeetingKind::Jushoteki,
                given: MeetingKind::Shien,
            },
            E::PlanMeetingAlreadyRecorded {
                from: Draft,
                to: Active,
                meeting,
            },
            E::PlanHistoryOutOfStep {
                from: Draft,
                after: Active,
            },
            E::PlanHistoryWrongMeetingRequirement {
                from: Draft,
                to: Active,
            },
            E::PlanHistoryUnneededMeeting {
                from: Draft,
                to: Discarded,
            },
            E::PlanHistoryNotInDateOrder,
            E::PlanHistoryStateMismatch {
                state: Active,
                history: Closed,
            },
            E::DisclosureWithoutBasis,
            E::DisclosureConsentOfAnotherPerson,
            E::DisclosureConsentNotActive {
                on: d("2026-04-01"),
            },
            E::DisclosureConsentNotCovering {
                to: "csw-south".into(),
            },
            E::DisclosureMeetingNeedsConsent {
                kind: MeetingKind::CaseResponse,
            },
            E::DisclosureMeetingNotYetHeld {
                date: d("2025-05-20"),
            },
            E::DisclosureMeetingOtherPerson,
            E::DisclosureRecipientNotMember {
                to: "police".into(),
            },
        ]
    }

    /// The position of `e`'s variant in [`samples`]. Exhaustive on purpose: a new variant does
    /// not compile until it is listed here, and then `every_variant_*` fail until it has a
    /// sample.
    fn variant(e: &DomainError) -> usize {
        use DomainError as E;
        match e {
            E::InvalidId { .. } => 0,
            E::UnknownDistrict { .. } => 1,
            E::UnknownProgram { .. } => 2,
            E::UnknownTrustStage { .. } => 3,
            E::InvalidChoice { .. } => 4,
            E::ChoiceEmpty { .. } => 5,
            E::UnknownEntityKind { .. } => 6,
            E::InvalidTransition { .. } => 7,
            E::TextEmpty { .. } => 8,
            E::TextTooLong { .. } => 9,
            E::TextForbiddenChar { .. } => 10,
            E::TextMultiline { .. } => 11,
            E::NotKana { .. } => 12,
            E::PhoneInvalidChar { .. } => 13,
            E::PhonePlusNotFirst => 14,
            E::PhoneTooFewDigits => 15,
            E::HlcMalformed { .. } => 16,
            E::DateMalformed { .. } => 17,
            E::DateNoSuchMonth { .. } => 18,
            E::DateNoSuchDay { .. } => 19,
            E::DateTimeMalformed { .. } => 20,
            E::LocalTimeMissing { .. } => 21,
            E::BirthInFuture { .. } => 22,
            E::BirthTooEarly { .. } => 23,
            E::AgeBandInvalid { .. } => 24,
            E::NextDueBeforeContact { .. } => 25,
            E::ConsentExpiryNotAfterGiven { .. } => 26,
            E::ConsentWithdrawnBeforeGiven { .. } => 27,
            E::FollowUpDueBeforeMeeting { .. } => 28,
            E::TransitionBeforePrevious { .. } => 29,
            E::DuplicateValue { .. } => 30,
            E::PersonWithoutProgram => 31,
            E::HouseholdWithoutMember => 32,
            E::HouseholdMemberTwice { .. } => 33,
            E::HouseholdTwoPrincipals => 34,
            E::ContactWithoutStaff => 35,
            E::LetterTextWithoutLetter => 36,
            E::ThroughDoorNeedsVisit { .. } => 37,
            E::LetterLeftNeedsVisitOrLetter { .. } => 38,
            E::ConsentWithoutScope => 39,
            E::MeetingWithoutAgency => 40,
            E::PlanWithoutGoal => 41,
            E::PlanNotEditable { .. } => 42,
            E::PlanNoSuchTransition { .. } => 43,
            E::PlanStepNeedsNoMeeting { .. } => 44,
            E::PlanWrongMeetingKind { .. } => 45,
            E::PlanMeetingAlreadyRecorded { .. } => 46,
            E::PlanHistoryOutOfStep { .. } => 47,
            E::PlanHistoryWrongMeetingRequirement { .. } => 48,
            E::PlanHistoryUnneededMeeting { .. } => 49,
            E::PlanHistoryNotInDateOrder => 50,
            E::PlanHistoryStateMismatch { .. } => 51,
            E::DisclosureWithoutBasis => 52,
            E::DisclosureConsentOfAnotherPerson => 53,
            E::DisclosureConsentNotActive { .. } => 54,
            E::DisclosureConsentNotCovering { .. } => 55,
            E::DisclosureMeetingNeedsConsent { .. } => 56,
            E::DisclosureMeetingNotYetHeld { .. } => 57,
            E::DisclosureMeetingOtherPerson => 58,
            E::DisclosureRecipientNotMember { .. } => 59,
        }
    }

    #[test]
    fn every_variant_has_a_sample_and_its_own_code() {
        let samples = samples();
        let variants: Vec<usize> = samples.iter().map(variant).collect();
        assert_eq!(variants, (0..samples.len()).collect::<Vec<_>>());
        let mut codes = std::collections::BTreeSet::new();
        for e in &samples {
            let code = e.code();
            assert!(
                code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code} is not snake_case"
            );
            assert!(codes.insert(code), "{code} is used twice");
        }
    }

    #[test]
    fn every_variant_has_english_whole_japanese_and_a_known_field() {
        for e in samples() {
            assert!(!e.to_string().is_empty(), "{e:?}");
            assert_whole_japanese(&e.message_ja());
            if let Some(field) = e.field() {
                assert!(
                    field_label_ja(field).is_some(),
                    "{}: field {field} has no label",
                    e.code()
                );
            }
        }
    }

    #[test]
    fn the_field_table_has_each_key_once_and_japanese_labels() {
        for (i, (key, ja, en)) in FIELDS.iter().enumerate() {
            assert!(!FIELDS[..i].iter().any(|(k, _, _)| k == key), "{key} twice");
            assert!(!ja.chars().any(|c| c.is_ascii()), "{key}: {ja}");
            assert!(!en.is_empty());
        }
    }
}
