//! The TOML definition format and its validation into an [`Instrument`].

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::{
    AlertRule, Choice, Cutoff, DefinitionProblem, Instrument, InstrumentError, InstrumentKind,
    IntroItem, Item, ItemTexts, Subscale, TotalRange,
};

/// Refuse absurd sizes so that `u32` totals cannot overflow (255 points × 10 000 items fits).
const MAX_ITEMS: usize = 10_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInstrument {
    key: String,
    name_ja: String,
    name_en: String,
    version: String,
    licence: String,
    item_texts: ItemTexts,
    #[serde(default)]
    kind: InstrumentKind,
    programs: Vec<String>,
    #[serde(default)]
    period_ja: Option<String>,
    #[serde(default)]
    notes: Vec<String>,
    #[serde(default)]
    default_scale: Option<String>,
    #[serde(default)]
    scales: BTreeMap<String, Vec<RawChoice>>,
    #[serde(default)]
    intro_items: Vec<IntroItem>,
    items: Vec<RawItem>,
    #[serde(default)]
    subscales: Vec<Subscale>,
    #[serde(default)]
    range: Option<TotalRange>,
    #[serde(default)]
    cutoffs: Vec<RawCutoff>,
    #[serde(default)]
    alerts: Vec<AlertRule>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawChoice {
    key: String,
    label_ja: String,
    #[serde(default)]
    points: u8,
    #[serde(default)]
    flag: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    number: u16,
    #[serde(default)]
    text_ja: Option<String>,
    #[serde(default)]
    scale: Option<String>,
    #[serde(default)]
    choices: Option<Vec<RawChoice>>,
    #[serde(default)]
    reverse: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCutoff {
    key: String,
    min: u32,
    #[serde(default)]
    max: Option<u32>,
    label_ja: String,
    label_en: String,
}

pub(super) fn parse(source: &str) -> Result<Instrument, InstrumentError> {
    let raw: RawInstrument =
        toml::from_str(source).map_err(|e| InstrumentError::DefinitionSyntax {
            line: e.span().map(|span| line_of(source, span.start)),
            message: e.to_string(),
        })?;
    let key = raw.key.clone();
    validate(raw).map_err(|problem| InstrumentError::InvalidDefinition { key, problem })
}

/// The 1-based line of byte offset `at` in `source`, for messages that point into a file.
pub(super) fn line_of(source: &str, at: usize) -> usize {
    source.as_bytes()[..at.min(source.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn is_machine_key(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Answer keys share the typed-answer alphabet (see `answers.rs`), so anything typed can be
/// compared with them after normalisation.
pub(super) fn is_answer_key(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn validate(raw: RawInstrument) -> Result<Instrument, DefinitionProblem> {
    use DefinitionProblem as P;

    if !is_machine_key(&raw.key) {
        return Err(P::InvalidKey);
    }
    for (field, value) in [
        ("version", &raw.version),
        ("name_ja", &raw.name_ja),
        ("name_en", &raw.name_en),
        ("licence", &raw.licence),
    ] {
        if value.trim().is_empty() {
            return Err(P::EmptyField { field });
        }
    }
    if raw.programs.is_empty() {
        return Err(P::EmptyField { field: "programs" });
    }
    if let Some(bad) = raw.programs.iter().find(|p| !is_machine_key(p)) {
        return Err(P::InvalidProgram(bad.clone()));
    }
    if let Some((name, _)) = raw.scales.iter().find(|(_, choices)| choices.is_empty()) {
        return Err(P::EmptyScale(name.clone()));
    }
    if raw.items.is_empty() {
        return Err(P::NoItems);
    }
    if raw.items.len() > MAX_ITEMS {
        return Err(P::TooManyItems { max: MAX_ITEMS });
    }

    let checklist = raw.kind == InstrumentKind::Checklist;
    // Checked before the items: a scored definition marked as a checklist by mistake should
    // be told that, not that its items lack flags.
    if checklist {
        if raw.range.is_some() {
            return Err(P::ScoreFieldInChecklist("range"));
        }
        if !raw.cutoffs.is_empty() {
            return Err(P::ScoreFieldInChecklist("cutoffs"));
        }
        if !raw.subscales.is_empty() {
            return Err(P::ScoreFieldInChecklist("subscales"));
        }
    }
    let mut items = Vec::with_capacity(raw.items.len());
    for (index, raw_item) in raw.items.into_iter().enumerate() {
        let position = index + 1;
        if usize::from(raw_item.number) != position {
            return Err(P::ItemNumbering {
                position,
                found: raw_item.number,
            });
        }
        items.push(resolve_item(
            raw_item,
            &raw.scales,
            raw.default_scale.as_deref(),
            checklist,
            raw.item_texts,
        )?);
    }
    let item_exists = |n: u16| usize::from(n) >= 1 && usize::from(n) <= items.len();

    let mut subscale_keys = BTreeSet::new();
    for subscale in &raw.subscales {
        if !subscale_keys.insert(subscale.key.as_str()) {
            return Err(P::DuplicateKey {
                what: "subscale",
                key: subscale.key.clone(),
            });
        }
        let distinct: BTreeSet<_> = subscale.items.iter().collect();
        if subscale.items.is_empty() || distinct.len() != subscale.items.len() {
            return Err(P::BadSubscaleItems(subscale.key.clone()));
        }
        if let Some(&item) = subscale.items.iter().find(|&&n| !item_exists(n)) {
            return Err(P::UnknownItem {
                what: "subscale",
                key: subscale.key.clone(),
                item,
            });
        }
    }

    let mut alert_keys = BTreeSet::new();
    for alert in &raw.alerts {
        if !alert_keys.insert(alert.key.as_str()) {
            return Err(P::DuplicateKey {
                what: "alert",
                key: alert.key.clone(),
            });
        }
        let Some(item) = usize::from(alert.item)
            .checked_sub(1)
            .and_then(|i| items.get(i))
        else {
            return Err(P::UnknownItem {
                what: "alert",
                key: alert.key.clone(),
                item: alert.item,
            });
        };
        if alert.min_points > item.max_points() {
            return Err(P::UnreachableAlert {
                key: alert.key.clone(),
                item: alert.item,
                min_points: alert.min_points,
                max_points: item.max_points(),
            });
        }
    }

    let (range, cutoffs) = if checklist {
        (None, Vec::new())
    } else {
        let range = raw.range.ok_or(P::MissingRange)?;
        let computed_min: u32 = items.iter().map(|i| u32::from(i.min_points())).sum();
        let computed_max: u32 = items.iter().map(|i| u32::from(i.max_points())).sum();
        if range.min != computed_min || range.max != computed_max {
            return Err(P::RangeMismatch {
                declared_min: range.min,
                declared_max: range.max,
                computed_min,
                computed_max,
            });
        }
        let mut cutoff_keys = BTreeSet::new();
        let mut cutoffs = Vec::with_capacity(raw.cutoffs.len());
        for c in raw.cutoffs {
            if !cutoff_keys.insert(c.key.clone()) {
                return Err(P::DuplicateKey {
                    what: "cut-off",
                    key: c.key,
                });
            }
            let max = c.max.unwrap_or(range.max);
            if c.min > max || c.min < range.min || max > range.max {
                return Err(P::CutoffOutOfRange {
                    key: c.key,
                    min: c.min,
                    max,
                    range_min: range.min,
                    range_max: range.max,
                });
            }
            cutoffs.push(Cutoff {
                key: c.key,
                min: c.min,
                max,
                label_ja: c.label_ja,
                label_en: c.label_en,
            });
        }
        (Some(range), cutoffs)
    };

    Ok(Instrument {
        key: raw.key,
        name_ja: raw.name_ja,
        name_en: raw.name_en,
        version: raw.version,
        licence: raw.licence,
        item_texts: raw.item_texts,
        texts_imported: false,
        kind: raw.kind,
        programs: raw.programs,
        period_ja: raw.period_ja,
        intro_items: raw.intro_items,
        items,
        subscales: raw.subscales,
        range,
        cutoffs,
        alerts: raw.alerts,
        notes: raw.notes,
    })
}

/// Turns a raw item into one with concrete choices: its own, a named scale, or the default
/// scale, with points reversed when `reverse` is set. Reversal maps points p to
/// (highest − (p − lowest)), so keys and labels stay in form order while points run the other way.
fn resolve_item(
    raw: RawItem,
    scales: &BTreeMap<String, Vec<RawChoice>>,
    default_scale: Option<&str>,
    checklist: bool,
    item_texts: ItemTexts,
) -> Result<Item, DefinitionProblem> {
    use DefinitionProblem as P;
    let number = raw.number;

    let raw_choices = match (raw.choices, raw.scale) {
        (Some(_), Some(_)) => return Err(P::AmbiguousChoices { item: number }),
        (Some(choices), None) => choices,
        (None, scale) => {
            let Some(name) = scale.as_deref().or(default_scale) else {
                return Err(P::NoChoices { item: number });
            };
            scales.get(name).cloned().ok_or_else(|| P::UnknownScale {
                item: number,
                scale: name.to_owned(),
            })?
        }
    };
    if raw_choices.is_empty() {
        return Err(P::NoChoices { item: number });
    }

    let mut seen = BTreeSet::new();
    for c in &raw_choices {
        if !is_answer_key(&c.key) {
            return Err(P::InvalidChoiceKey {
                item: number,
                choice: c.key.clone(),
            });
        }
        if !seen.insert(c.key.as_str()) {
            return Err(P::DuplicateChoiceKey {
                item: number,
                choice: c.key.clone(),
            });
        }
    }

    if checklist {
        if raw.reverse {
            return Err(P::ScoreFieldInChecklist("reverse"));
        }
        if !raw_choices.iter().any(|c| c.flag) {
            return Err(P::NoFlagChoice(number));
        }
    } else if raw_choices.iter().any(|c| c.flag) {
        return Err(P::FlagInScoredInstrument(number));
    }

    match (item_texts, &raw.text_ja) {
        (ItemTexts::Included, None) => return Err(P::MissingItemText(number)),
        (ItemTexts::Licensed | ItemTexts::Pending, Some(_)) => {
            return Err(P::UnexpectedItemText(number));
        }
        _ => {}
    }

    let lowest = raw_choices.iter().map(|c| c.points).min().unwrap_or(0);
    let highest = raw_choices.iter().map(|c| c.points).max().unwrap_or(0);
    let choices = raw_choices
        .into_iter()
        .map(|c| Choice {
            points: if raw.reverse {
                // lowest <= c.points <= highest, so neither step can overflow.
                highest - (c.points - lowest)
            } else {
                c.points
            },
            key: c.key,
            label_ja: c.label_ja,
            flag: c.flag,
        })
        .collect();

    Ok(Item {
        number,
        text_ja: raw.text_ja,
        reverse: raw.reverse,
        choices,
    })
}
