//! 評価票: one scored instance of an instrument for a person, keeping the instrument version and
//! the answers with the result so that a later definition change never rewrites history.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::ids::{ContactId, PersonId};
use crate::instrument::{Answers, Instrument, InstrumentError, ScoreResult};
use crate::text::ShortText;

/// An assessment as stored: who, when, which instrument version, the answers and the result
/// computed when it was taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assessment {
    /// Whose.
    pub person: PersonId,
    /// When it was taken.
    pub at: DateTime<FixedOffset>,
    /// The contact (visit) it was taken in, if any.
    #[serde(default)]
    pub contact: Option<ContactId>,
    /// Who took it.
    #[serde(default)]
    pub staff: Vec<ShortText>,
    /// The instrument's key.
    pub instrument: String,
    /// The definition version used.
    pub version: String,
    /// The answers as given (one per scored item; `None` = not answered).
    pub answers: Answers,
    /// The result computed with that version.
    pub result: ScoreResult,
}

impl Assessment {
    /// Scores `answers` with `instrument` and records the result. Fails only when the answers do
    /// not fit the instrument; missing answers give an incomplete result.
    pub fn take(
        person: PersonId,
        at: DateTime<FixedOffset>,
        instrument: &Instrument,
        answers: Answers,
    ) -> Result<Assessment, InstrumentError> {
        let result = instrument.score(&answers)?;
        Ok(Assessment {
            person,
            at,
            contact: None,
            staff: Vec::new(),
            instrument: instrument.key().to_owned(),
            version: instrument.version().to_owned(),
            answers,
            result,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instrument::InstrumentCatalog;

    #[test]
    fn take_scores_and_keeps_version_and_answers() {
        let catalog = InstrumentCatalog::builtin();
        let epds = catalog.get("epds").unwrap();
        let answers = epds.parse_answers("0,0,3,0,3,3,3,3,3,0").unwrap();
        let person = PersonId::from_uuid(uuid::Uuid::nil());
        let at = DateTime::parse_from_rfc3339("2026-11-01T10:00:00+09:00").unwrap();
        let a = Assessment::take(person, at, epds, answers.clone()).unwrap();
        assert_eq!(a.instrument, "epds");
        assert_eq!(a.version, epds.version());
        assert_eq!(a.answers, answers);
        assert_eq!(
            a.result.total,
            Some(epds.score(&answers).unwrap().total.unwrap())
        );
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(serde_json::from_value::<Assessment>(json).unwrap(), a);
    }
}
