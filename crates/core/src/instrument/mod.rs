//! Screening instruments (EPDS, DASC-21, DBD13, J-ZBI_8, 赤ちゃんへの気持ち質問票,
//! 育児支援チェックリスト) as versioned data, and an exact scoring engine.
//!
//! An instrument is a TOML definition (see `crates/core/instruments/*.toml` for the shipped
//! ones and [`Instrument::from_toml`] for the rules a definition must satisfy). Definitions
//! are data because the dementia teams may use any validated tool and municipalities write
//! their own; the shipped ones are embedded with `include_str!`, so this module does no IO.
//!
//! Flow: [`InstrumentCatalog::builtin`] → [`InstrumentCatalog::get`] →
//! [`Instrument::parse_answers`] (or [`Answers::new`]) → [`Instrument::score`] →
//! [`ScoreResult`], which carries the instrument key and version so an assessment always
//! says which definition scored it.
//!
//! **Invariant:** a total is never computed over missing answers. An incomplete answer set
//! gives `total: None` and the list of missing items; cut-offs are judged only on complete
//! totals, while alerts fire on any answered item that meets them.

mod answers;
mod definition;
mod error;
mod import;
mod score;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use answers::Answers;
pub use error::{DefinitionProblem, InstrumentError};
pub use score::{Alert, Band, ItemScore, ScoreResult, SubscaleScore};

/// Whether the item texts may be shipped with the definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemTexts {
    /// Texts are reproducible and shipped in the definition.
    Included,
    /// Texts are owned by a rights holder; the definition has placeholders and a municipality
    /// with a licence imports them ([`Instrument::import_item_texts`]).
    Licensed,
    /// Reproduction may be allowed, but the texts have not been checked against the official
    /// form, so none are shipped; the municipality imports the wording of the form it prints.
    Pending,
}

/// What an instrument produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstrumentKind {
    /// Items give points; the result has a total, subscales, cut-off bands and alerts.
    #[default]
    Score,
    /// Items raise flags; the result is the list of flagged items, no total.
    Checklist,
}

/// One answer option of an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    /// The code the worker enters (for EPDS: the option's position from the top, 0..3).
    pub key: String,
    /// The option's label in Japanese (generic when the form's wording is licensed).
    pub label_ja: String,
    /// Points this option gives on this item, after reverse scoring.
    pub points: u8,
    /// For checklists: choosing this option flags the item.
    pub flag: bool,
}

/// One scored item (the unscored introductory items are [`IntroItem`]s).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// Item number as printed on the form, 1-based; equals its position in the answers.
    pub number: u16,
    /// The item text, `None` while it is licensed or pending and not imported.
    pub text_ja: Option<String>,
    /// Whether the scale's points were reversed for this item.
    pub reverse: bool,
    /// The options in form order (top to bottom), with their effective points.
    pub choices: Vec<Choice>,
}

impl Item {
    /// The option with this key, if the item has one.
    pub fn choice(&self, key: &str) -> Option<&Choice> {
        self.choices.iter().find(|c| c.key == key)
    }

    /// Lowest points any option gives.
    pub fn min_points(&self) -> u8 {
        self.choices.iter().map(|c| c.points).min().unwrap_or(0)
    }

    /// Highest points any option gives.
    pub fn max_points(&self) -> u8 {
        self.choices.iter().map(|c| c.points).max().unwrap_or(0)
    }

    /// The allowed keys, comma separated, for messages.
    pub fn allowed_keys(&self) -> String {
        self.choices
            .iter()
            .map(|c| c.key.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// An unscored introductory question (DASC-21 has two, A and B). It is not part of the
/// answer vector and never affects scoring; callers that want to keep the answer store it
/// with the assessment as context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntroItem {
    /// The label printed on the form ("A", "B").
    pub label: String,
    /// The text, when it may be shipped.
    #[serde(default)]
    pub text_ja: Option<String>,
}

/// A named part score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscale {
    /// Machine key, e.g. `personal_strain`.
    pub key: String,
    /// Japanese name.
    pub name_ja: String,
    /// English name.
    pub name_en: String,
    /// The item numbers summed.
    pub items: Vec<u16>,
}

/// The possible totals, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotalRange {
    /// Lowest possible total.
    pub min: u32,
    /// Highest possible total.
    pub max: u32,
}

/// A band of complete totals with a meaning, e.g. EPDS `total >= 9`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cutoff {
    /// Machine key, e.g. `possible_depression`.
    pub key: String,
    /// Lowest total in the band.
    pub min: u32,
    /// Highest total in the band (the range maximum when the definition leaves it out).
    pub max: u32,
    /// Japanese label.
    pub label_ja: String,
    /// English label.
    pub label_en: String,
}

/// An item answer that needs attention whatever the total, e.g. EPDS item 10 (self-harm)
/// answered with any non-zero points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    /// Machine key, e.g. `self_harm`.
    pub key: String,
    /// The item watched.
    pub item: u16,
    /// The alert fires when the item's points are at least this.
    pub min_points: u8,
    /// Japanese label.
    pub label_ja: String,
    /// English label.
    pub label_en: String,
}

/// A validated instrument definition. Built only by [`Instrument::from_toml`], so every
/// instance satisfies the format's rules; only item texts can change afterwards, by import.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Instrument {
    key: String,
    name_ja: String,
    name_en: String,
    version: String,
    licence: String,
    item_texts: ItemTexts,
    texts_imported: bool,
    kind: InstrumentKind,
    programs: Vec<String>,
    period_ja: Option<String>,
    intro_items: Vec<IntroItem>,
    items: Vec<Item>,
    subscales: Vec<Subscale>,
    range: Option<TotalRange>,
    cutoffs: Vec<Cutoff>,
    alerts: Vec<AlertRule>,
    notes: Vec<String>,
}

impl Instrument {
    /// Parses and validates a definition. See the shipped files for the format; the rules:
    /// items numbered 1..n in order, every item has choices (its own, a named scale, or the
    /// default scale) with unique ASCII keys, a scored instrument's `range` equals the sums
    /// of the items' lowest and highest points, cut-offs lie inside the range, subscales and
    /// alerts refer to existing items, texts are present exactly when `item_texts` is
    /// `"included"`, and a checklist has flags but no score parts. Unknown fields are refused.
    pub fn from_toml(source: &str) -> Result<Instrument, InstrumentError> {
        definition::parse(source)
    }

    /// Machine key, e.g. `epds`.
    pub fn key(&self) -> &str {
        &self.key
    }
    /// Japanese name.
    pub fn name_ja(&self) -> &str {
        &self.name_ja
    }
    /// English name.
    pub fn name_en(&self) -> &str {
        &self.name_en
    }
    /// Definition version; kept with every score.
    pub fn version(&self) -> &str {
        &self.version
    }
    /// Who owns the texts and whether they may be reproduced.
    pub fn licence(&self) -> &str {
        &self.licence
    }
    /// Whether texts are shipped, licensed or pending.
    pub fn item_texts(&self) -> ItemTexts {
        self.item_texts
    }
    /// Whether item texts were imported after loading.
    pub fn texts_imported(&self) -> bool {
        self.texts_imported
    }
    /// Score or checklist.
    pub fn kind(&self) -> InstrumentKind {
        self.kind
    }
    /// Programs the instrument is used in (`csw`, `dementia`, `infant`, ...).
    pub fn programs(&self) -> &[String] {
        &self.programs
    }
    /// The period the questions ask about, e.g. 過去7日間.
    pub fn period_ja(&self) -> Option<&str> {
        self.period_ja.as_deref()
    }
    /// Unscored introductory questions (not part of the answers).
    pub fn intro_items(&self) -> &[IntroItem] {
        &self.intro_items
    }
    /// Scored items, in answer order.
    pub fn items(&self) -> &[Item] {
        &self.items
    }
    /// The item with this number.
    pub fn item(&self, number: u16) -> Option<&Item> {
        usize::from(number)
            .checked_sub(1)
            .and_then(|i| self.items.get(i))
    }
    /// Subscales.
    pub fn subscales(&self) -> &[Subscale] {
        &self.subscales
    }
    /// Possible totals (`None` for checklists).
    pub fn range(&self) -> Option<TotalRange> {
        self.range
    }
    /// Cut-off bands.
    pub fn cutoffs(&self) -> &[Cutoff] {
        &self.cutoffs
    }
    /// Alert rules.
    pub fn alerts(&self) -> &[AlertRule] {
        &self.alerts
    }
    /// Interpretation notes for the worker.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }
}

/// The shipped definitions, embedded at compile time.
const BUILTIN_SOURCES: &[(&str, &str)] = &[
    ("epds.toml", include_str!("../../instruments/epds.toml")),
    ("dasc21.toml", include_str!("../../instruments/dasc21.toml")),
    ("dbd13.toml", include_str!("../../instruments/dbd13.toml")),
    ("jzbi8.toml", include_str!("../../instruments/jzbi8.toml")),
    ("mibsj.toml", include_str!("../../instruments/mibsj.toml")),
    (
        "ikuji_checklist.toml",
        include_str!("../../instruments/ikuji_checklist.toml"),
    ),
];

/// A set of instruments by key: the shipped ones, plus any a municipality adds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct InstrumentCatalog {
    instruments: BTreeMap<String, Instrument>,
}

impl InstrumentCatalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    /// All shipped definitions.
    ///
    /// # Panics
    /// Only if a shipped definition is invalid, which the test suite rules out.
    pub fn builtin() -> Self {
        let mut catalog = Self::new();
        for (file, source) in BUILTIN_SOURCES {
            match Instrument::from_toml(source) {
                Ok(instrument) => {
                    catalog.insert(instrument);
                }
                Err(e) => panic!("shipped instrument definition {file} is invalid: {e}"),
            }
        }
        catalog
    }

    /// Adds a definition, replacing (and returning) one with the same key — this is how a
    /// municipality's own version of an instrument takes precedence.
    pub fn insert(&mut self, instrument: Instrument) -> Option<Instrument> {
        self.instruments.insert(instrument.key.clone(), instrument)
    }

    /// The instrument with this key; the error lists the known keys.
    pub fn get(&self, key: &str) -> Result<&Instrument, InstrumentError> {
        self.instruments.get(key).ok_or_else(|| self.unknown(key))
    }

    /// Known keys, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.instruments.keys().map(String::as_str)
    }

    /// All instruments, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = &Instrument> {
        self.instruments.values()
    }

    /// Imports licensed item texts into the instrument the document names (see
    /// [`Instrument::import_item_texts`]).
    pub fn import_item_texts(&mut self, source: &str) -> Result<&Instrument, InstrumentError> {
        let doc = import::TextImport::parse(source)?;
        let unknown = self.unknown(&doc.instrument);
        let instrument = self.instruments.get_mut(&doc.instrument).ok_or(unknown)?;
        instrument.apply_text_import(doc)?;
        Ok(instrument)
    }

    fn unknown(&self, key: &str) -> InstrumentError {
        InstrumentError::UnknownInstrument {
            key: key.to_owned(),
            known: self
                .iter()
                .map(|i| (i.key.clone(), i.name_ja.clone()))
                .collect(),
        }
    }
}
