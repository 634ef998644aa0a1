//! Answer sets: one optional answer key per scored item, parsed from what a worker types.

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use super::definition::is_answer_key;
use super::{Instrument, InstrumentError};

/// One entry per scored item, in item order; `None` is a missing answer. Keys are stored
/// normalised (NFKC, trimmed), so full-width digits typed with a Japanese IME compare equal to
/// the definition's keys. An `Answers` value is not tied to an instrument: scoring checks the
/// count and the keys again.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Answers(Vec<Option<String>>);

/// Full-width digits and letters become ASCII; surrounding space goes. `-` and the empty
/// string mean "no answer", as on the CLI.
fn normalise(raw: &str) -> Option<String> {
    let s: String = raw.nfkc().collect();
    let s = s.trim();
    if s.is_empty() || s == "-" {
        None
    } else {
        Some(s.to_owned())
    }
}

impl Answers {
    /// Builds an answer set from keys; `None`, `""` and `"-"` are missing answers.
    pub fn new<S: AsRef<str>>(keys: Vec<Option<S>>) -> Self {
        Answers(
            keys.into_iter()
                .map(|k| k.and_then(|k| normalise(k.as_ref())))
                .collect(),
        )
    }

    /// Builds an answer set from numeric keys (for instruments whose keys are digits).
    pub fn from_numbers(keys: Vec<Option<u8>>) -> Self {
        Answers(keys.into_iter().map(|k| k.map(|k| k.to_string())).collect())
    }

    /// The answers, in item order.
    pub fn as_slice(&self) -> &[Option<String>] {
        &self.0
    }

    /// Number of entries (answered or not).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no entries at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The CLI form, `-` for missing: `"0,1,-,3"`. [`Instrument::parse_answers`] reads it back.
    pub fn to_text(&self) -> String {
        self.0
            .iter()
            .map(|a| a.as_deref().unwrap_or("-"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl From<Vec<Option<u8>>> for Answers {
    fn from(keys: Vec<Option<u8>>) -> Self {
        Answers::from_numbers(keys)
    }
}

impl From<Vec<Option<String>>> for Answers {
    fn from(keys: Vec<Option<String>>) -> Self {
        Answers::new(keys)
    }
}

impl From<Vec<Option<&str>>> for Answers {
    fn from(keys: Vec<Option<&str>>) -> Self {
        Answers::new(keys)
    }
}

impl Instrument {
    /// Parses answers as typed on the CLI: keys separated by `,` (or `、`), `-` or nothing
    /// for a missing answer, e.g. `"0,1,2,-,3"`. Full-width characters are accepted.
    /// Errors: text that is not a key ([`InstrumentError::InvalidAnswerText`]), the wrong
    /// number of answers ([`InstrumentError::WrongAnswerCount`]), a key the item does not
    /// allow ([`InstrumentError::AnswerNotAllowed`]), reported in that order.
    pub fn parse_answers(&self, text: &str) -> Result<Answers, InstrumentError> {
        let normalised: String = text.nfkc().collect();
        let mut answers = Vec::new();
        for (index, token) in normalised.split([',', '、']).enumerate() {
            let answer = normalise(token);
            if let Some(key) = &answer
                && !is_answer_key(key)
            {
                return Err(InstrumentError::InvalidAnswerText {
                    position: index + 1,
                    text: token.trim().to_owned(),
                });
            }
            answers.push(answer);
        }
        let answers = Answers(answers);
        self.check_answers(&answers)?;
        Ok(answers)
    }

    /// Checks that an answer set fits this instrument: one entry per item and only keys the
    /// item allows.
    pub fn check_answers(&self, answers: &Answers) -> Result<(), InstrumentError> {
        if answers.len() != self.items().len() {
            return Err(InstrumentError::WrongAnswerCount {
                expected: self.items().len(),
                got: answers.len(),
            });
        }
        for (item, answer) in self.items().iter().zip(answers.as_slice()) {
            if let Some(key) = answer
                && item.choice(key).is_none()
            {
                return Err(InstrumentError::AnswerNotAllowed {
                    item: item.number,
                    answer: key.clone(),
                    allowed: item.allowed_keys(),
                });
            }
        }
        Ok(())
    }
}
