//! Scoring an answer set: exact integer totals, subscales, cut-off bands, alerts and flags.

use serde::{Deserialize, Serialize};

use super::{Answers, Instrument, InstrumentError, InstrumentKind};

/// One item's answer and points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemScore {
    /// Item number.
    pub number: u16,
    /// The answer key, `None` if missing.
    pub answer: Option<String>,
    /// Points for the answer (after reverse scoring), `None` if missing.
    pub points: Option<u8>,
    /// For checklists: whether the answer flags the item.
    pub flagged: bool,
}

/// A subscale's total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscaleScore {
    /// Subscale key.
    pub key: String,
    /// Sum of its items' points; `None` when any of them is missing.
    pub total: Option<u32>,
    /// Its items that have no answer.
    pub missing_items: Vec<u16>,
}

/// A cut-off band the complete total falls in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Band {
    /// Cut-off key, e.g. `possible_depression`.
    pub key: String,
    /// Japanese label.
    pub label_ja: String,
    /// English label.
    pub label_en: String,
}

/// An alert rule that an answered item met.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Alert key, e.g. `self_harm`.
    pub key: String,
    /// The item that triggered it.
    pub item: u16,
    /// The item's points.
    pub points: u8,
    /// Japanese label.
    pub label_ja: String,
    /// English label.
    pub label_en: String,
}

/// The outcome of scoring one answer set with one definition version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreResult {
    /// The instrument's key.
    pub instrument_key: String,
    /// The definition version that scored it.
    pub instrument_version: String,
    /// Score or checklist.
    pub kind: InstrumentKind,
    /// Every item answered.
    pub complete: bool,
    /// Sum of item points; `None` when incomplete and always for checklists.
    pub total: Option<u32>,
    /// Item numbers without an answer.
    pub missing_items: Vec<u16>,
    /// Per item answers and points.
    pub items: Vec<ItemScore>,
    /// Subscale totals, in definition order.
    pub subscales: Vec<SubscaleScore>,
    /// Cut-off bands the total falls in; empty while incomplete.
    pub bands: Vec<Band>,
    /// Alerts met by answered items, even when others are missing.
    pub alerts: Vec<Alert>,
    /// For checklists: items whose answer raises a flag.
    pub flagged_items: Vec<u16>,
}

impl Instrument {
    /// Scores an answer set. Fails only if the answers do not fit the instrument (count or
    /// keys, see [`Instrument::check_answers`]); missing answers are not an error but make
    /// the result incomplete.
    pub fn score(&self, answers: &Answers) -> Result<ScoreResult, InstrumentError> {
        self.check_answers(answers)?;

        let items: Vec<ItemScore> = self
            .items()
            .iter()
            .zip(answers.as_slice())
            .map(|(item, answer)| {
                // check_answers guarantees every given key is a choice of its item.
                let choice = answer.as_deref().and_then(|key| item.choice(key));
                ItemScore {
                    number: item.number,
                    answer: answer.clone(),
                    points: choice.map(|c| c.points),
                    flagged: choice.is_some_and(|c| c.flag),
                }
            })
            .collect();
        let points_of = |number: u16| items[usize::from(number) - 1].points;

        let missing_items: Vec<u16> = items
            .iter()
            .filter(|i| i.points.is_none())
            .map(|i| i.number)
            .collect();
        let complete = missing_items.is_empty();
        let scored = self.kind() == InstrumentKind::Score;

        // Summing Options gives None as soon as one is missing: never a silently smaller total.
        let sum = |numbers: &mut dyn Iterator<Item = u16>| -> Option<u32> {
            numbers.map(|n| points_of(n).map(u32::from)).sum()
        };
        let total = if scored {
            sum(&mut items.iter().map(|i| i.number))
        } else {
            None
        };

        let subscales = self
            .subscales()
            .iter()
            .map(|s| SubscaleScore {
                key: s.key.clone(),
                total: sum(&mut s.items.iter().copied()),
                missing_items: s
                    .items
                    .iter()
                    .copied()
                    .filter(|&n| points_of(n).is_none())
                    .collect(),
            })
            .collect();

        let bands = match total {
            Some(total) => self
                .cutoffs()
                .iter()
                .filter(|c| (c.min..=c.max).contains(&total))
                .map(|c| Band {
                    key: c.key.clone(),
                    label_ja: c.label_ja.clone(),
                    label_en: c.label_en.clone(),
                })
                .collect(),
            None => Vec::new(),
        };

        let alerts = self
            .alerts()
            .iter()
            .filter_map(|rule| {
                let points = points_of(rule.item)?;
                (points >= rule.min_points).then(|| Alert {
                    key: rule.key.clone(),
                    item: rule.item,
                    points,
                    label_ja: rule.label_ja.clone(),
                    label_en: rule.label_en.clone(),
                })
            })
            .collect();

        let flagged_items = items
            .iter()
            .filter(|i| i.flagged)
            .map(|i| i.number)
            .collect();

        Ok(ScoreResult {
            instrument_key: self.key().to_owned(),
            instrument_version: self.version().to_owned(),
            kind: self.kind(),
            complete,
            total,
            missing_items,
            items,
            subscales,
            bands,
            alerts,
            flagged_items,
        })
    }
}
