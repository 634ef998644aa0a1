//! 同意 (consent) and 情報提供記録 (disclosure): every disclosure to another agency records its
//! legal basis — the person's consent, or a 支援会議 under Social Welfare Act art. 106-6 — and
//! [`Disclosure::authorize`] refuses one without a basis that covers it.

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::ids::PersonId;
use crate::meeting::{Meeting, MeetingId};
use crate::text::{Note, ShortText, choice_enum, ensure_unique};

pub use crate::ids::ConsentId;

choice_enum! {
    /// How consent was given.
    ConsentMethod (field = "method") {
        Written = "written", "書面";
        Oral = "oral", "口頭";
    }
}

/// The stored shape of a [`Consent`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentFields {
    /// Who consented.
    pub person: PersonId,
    /// The teams and agencies information may go to: at least one, none twice. Compared after
    /// NFKC, so write each agency the same way as in meeting records.
    pub scope: Vec<ShortText>,
    /// 書面 or 口頭.
    pub method: ConsentMethod,
    /// The day consent was given.
    pub given_on: NaiveDate,
    /// The last day it holds (有効期限), after `given_on`; `None` for no expiry.
    pub expires_on: Option<NaiveDate>,
    /// The day it was withdrawn (it no longer holds from that day on), not before `given_on`.
    pub withdrawn_on: Option<NaiveDate>,
}

/// A 同意 whose dates agree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ConsentFields", into = "ConsentFields")]
pub struct Consent(ConsentFields);

impl Consent {
    /// Checks the rules: a non-empty scope without duplicates, expiry after the day given,
    /// withdrawal not before it.
    pub fn new(fields: ConsentFields) -> Result<Consent, DomainError> {
        if fields.scope.is_empty() {
            return Err(DomainError::ConsentWithoutScope);
        }
        ensure_unique("scope", &fields.scope)?;
        if let Some(e) = fields.expires_on
            && e <= fields.given_on
        {
            return Err(DomainError::ConsentExpiryNotAfterGiven {
                expires_on: e,
                given_on: fields.given_on,
            });
        }
        if let Some(w) = fields.withdrawn_on
            && w < fields.given_on
        {
            return Err(DomainError::ConsentWithdrawnBeforeGiven {
                withdrawn_on: w,
                given_on: fields.given_on,
            });
        }
        Ok(Consent(fields))
    }

    /// True on `on` if given by then, not past its expiry, and not withdrawn by then.
    pub fn is_active(&self, on: NaiveDate) -> bool {
        let f = &self.0;
        f.given_on <= on
            && f.expires_on.is_none_or(|e| on <= e)
            && f.withdrawn_on.is_none_or(|w| on < w)
    }

    /// True if `agency` is in the scope.
    pub fn covers(&self, agency: &ShortText) -> bool {
        self.0.scope.contains(agency)
    }

    /// Records the withdrawal on `on` (an earlier withdrawal stays: the first one counts).
    pub fn withdraw(&mut self, on: NaiveDate) -> Result<(), DomainError> {
        if self.0.withdrawn_on.is_some() {
            return Ok(());
        }
        let mut f = self.0.clone();
        f.withdrawn_on = Some(on);
        *self = Consent::new(f)?;
        Ok(())
    }

    /// All fields.
    pub fn fields(&self) -> &ConsentFields {
        &self.0
    }
    /// Who consented.
    pub fn person(&self) -> PersonId {
        self.0.person
    }
}

impl TryFrom<ConsentFields> for Consent {
    type Error = DomainError;
    fn try_from(f: ConsentFields) -> Result<Self, Self::Error> {
        Consent::new(f)
    }
}

impl From<Consent> for ConsentFields {
    fn from(c: Consent) -> ConsentFields {
        c.0
    }
}

/// On which legal basis information was shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum LegalBasis {
    /// The person's consent.
    Consent(ConsentId),
    /// A 支援会議 (Social Welfare Act art. 106-6): sharing among its members without consent.
    SupportMeeting(MeetingId),
}

/// The evidence offered for a disclosure: the consent or the meeting record itself, so that
/// [`Disclosure::authorize`] can check it rather than trust an id.
#[derive(Debug, Clone, Copy)]
pub enum Evidence<'a> {
    /// A consent record.
    Consent(ConsentId, &'a Consent),
    /// A meeting record (must be a 支援会議).
    SupportMeeting(MeetingId, &'a Meeting),
}

/// What is about to be shared, before its basis is checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisclosureRequest {
    /// About whom.
    pub person: PersonId,
    /// What was shared.
    pub what: Note,
    /// To which agency.
    pub to: ShortText,
    /// When.
    pub at: DateTime<FixedOffset>,
}

/// A 情報提供記録: a disclosure with its legal basis. Only [`Disclosure::authorize`] creates
/// one; a stored one always carries a basis (the type has no way to leave it out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disclosure {
    #[serde(flatten)]
    request: DisclosureRequest,
    basis: LegalBasis,
}

impl Disclosure {
    /// Decides whether the disclosure is allowed and, if so, records it with its basis.
    ///
    /// - No evidence: refused (every disclosure needs a basis).
    /// - A consent: it must be the same person's, active on the day, and cover the recipient.
    /// - A meeting: it must be a 支援会議 (other meetings share on consent), held on or before
    ///   the day, have discussed the person, and the recipient must have attended (the legal
    ///   duty of confidentiality binds the meeting's members only).
    pub fn authorize(
        request: DisclosureRequest,
        evidence: Option<Evidence<'_>>,
    ) -> Result<Disclosure, DomainError> {
        use DomainError as E;
        let day = request.at.date_naive();
        let to = || request.to.to_string();
        let basis = match evidence {
            None => return Err(E::DisclosureWithoutBasis),
            Some(Evidence::Consent(id, c)) => {
                if c.person() != request.person {
                    return Err(E::DisclosureConsentOfAnotherPerson);
                }
                if !c.is_active(day) {
                    return Err(E::DisclosureConsentNotActive { on: day });
                }
                if !c.covers(&request.to) {
                    return Err(E::DisclosureConsentNotCovering { to: to() });
                }
                LegalBasis::Consent(id)
            }
            Some(Evidence::SupportMeeting(id, m)) => {
                if !m.kind().shares_without_consent() {
                    return Err(E::DisclosureMeetingNeedsConsent { kind: m.kind() });
                }
                if m.date() > day {
                    return Err(E::DisclosureMeetingNotYetHeld { date: m.date() });
                }
                if !m.discussed(request.person) {
                    return Err(E::DisclosureMeetingOtherPerson);
                }
                if !m.attended(&request.to) {
                    return Err(E::DisclosureRecipientNotMember { to: to() });
                }
                LegalBasis::SupportMeeting(id)
            }
        };
        Ok(Disclosure { request, basis })
    }

    /// What was shared, with whom, when.
    pub fn request(&self) -> &DisclosureRequest {
        &self.request
    }
    /// The legal basis.
    pub fn basis(&self) -> LegalBasis {
        self.basis
    }
}
