//! The vocabulary a front end fills its lists with (districts, programs, statuses, stages,
//! channels, outcomes, ...), instrument forms, and live scoring. Labels come in Japanese and
//! English from here, so no front end keeps a copy of the domain's words.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// One choice of a closed list: the key to send back, and its labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct Choice {
    /// Stable key (stored, sent back in requests).
    pub key: String,
    /// Japanese label.
    pub label_ja: String,
    /// English label.
    pub label_en: String,
}

/// A district (地区).
#[derive(Debug, Clone, Serialize, TS)]
pub struct DistrictChoice {
    /// Stable code.
    pub code: String,
    /// Name (辻堂).
    pub name: String,
    /// Reading, for ordering.
    pub kana: String,
}

/// A level of the つながりの段階 scale.
#[derive(Debug, Clone, Serialize, TS)]
pub struct StageChoice {
    /// 0, 1, 2, ...
    pub level: u8,
    /// Japanese label.
    pub label_ja: String,
    /// English label.
    pub label_en: String,
}

/// A program (事業) and its follow-up cadence.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ProgramChoice {
    /// `csw`, `dementia`, `infant`.
    pub key: String,
    /// Japanese label.
    pub label_ja: String,
    /// English label.
    pub label_en: String,
    /// Days after a contact when the next one is due if none was planned.
    pub follow_up_days: Option<u32>,
}

/// An instrument in the list of forms.
#[derive(Debug, Clone, Serialize, TS)]
pub struct InstrumentChoice {
    /// `epds`, `dasc21`, ...
    pub key: String,
    /// Japanese name.
    pub name_ja: String,
    /// English name.
    pub name_en: String,
    /// Programs it belongs to (offered first on their persons' pages).
    pub programs: Vec<String>,
}

/// Everything a front end lists.
#[derive(Debug, Clone, Serialize, TS)]
pub struct Reference {
    /// The municipality (藤沢市).
    pub municipality: String,
    /// Its districts.
    pub districts: Vec<DistrictChoice>,
    /// Programs.
    pub programs: Vec<ProgramChoice>,
    /// The trust-stage scale.
    pub stages: Vec<StageChoice>,
    /// Person statuses (受付, 支援中, ...).
    pub statuses: Vec<Choice>,
    /// Sexes.
    pub sexes: Vec<Choice>,
    /// Contact channels.
    pub channels: Vec<Choice>,
    /// Contact outcomes.
    pub outcomes: Vec<Choice>,
    /// Household relations.
    pub relations: Vec<Choice>,
    /// Meeting kinds.
    pub meeting_kinds: Vec<Choice>,
    /// Consent methods.
    pub consent_methods: Vec<Choice>,
    /// Plan states.
    pub plan_states: Vec<Choice>,
    /// Instruments.
    pub instruments: Vec<InstrumentChoice>,
}

/// One option of an instrument item.
#[derive(Debug, Clone, Serialize, TS)]
pub struct FormChoice {
    /// The answer key.
    pub key: String,
    /// Its label.
    pub label_ja: String,
    /// Points it gives on this item.
    pub points: u8,
    /// For checklists: it flags the item.
    pub flag: bool,
}

/// One item of an instrument form.
#[derive(Debug, Clone, Serialize, TS)]
pub struct FormItem {
    /// Number as printed on the form.
    pub number: u16,
    /// The item's text, when it may be shipped or was imported; otherwise the form shows the
    /// number and the worker reads the printed form.
    pub text_ja: Option<String>,
    /// Options, top to bottom.
    pub choices: Vec<FormChoice>,
}

/// A cut-off band of an instrument.
#[derive(Debug, Clone, Serialize, TS)]
pub struct FormCutoff {
    /// Key.
    pub key: String,
    /// Lowest total in the band.
    pub min: u32,
    /// Japanese label.
    pub label_ja: String,
}

/// An instrument as a form to fill in.
#[derive(Debug, Clone, Serialize, TS)]
pub struct InstrumentForm {
    /// Key.
    pub key: String,
    /// Japanese name.
    pub name_ja: String,
    /// English name.
    pub name_en: String,
    /// Definition version recorded with each assessment.
    pub version: String,
    /// `score` or `checklist`.
    pub kind: String,
    /// The period asked about (過去7日間).
    pub period_ja: Option<String>,
    /// Items in order.
    pub items: Vec<FormItem>,
    /// Lowest and highest possible totals.
    pub range_min: Option<u32>,
    /// Highest possible total.
    pub range_max: Option<u32>,
    /// Cut-off bands.
    pub cutoffs: Vec<FormCutoff>,
    /// Guidance notes.
    pub notes: Vec<String>,
    /// Licence and source.
    pub licence: String,
    /// Whether item texts are available (shipped or imported).
    pub texts_available: bool,
}

/// Scoring answers as they are being entered.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct ScoreRequest {
    /// Instrument key.
    pub instrument: String,
    /// One entry per item: the chosen key, or null while unanswered.
    pub answers: Vec<Option<String>>,
}

/// An alert an answer raised (EPDS item 10).
#[derive(Debug, Clone, Serialize, TS)]
pub struct AlertView {
    /// Key (`self_harm`).
    pub key: String,
    /// The item.
    pub item: u16,
    /// Japanese label.
    pub label_ja: String,
    /// English label.
    pub label_en: String,
}

/// A cut-off band reached.
#[derive(Debug, Clone, Serialize, TS)]
pub struct BandView {
    /// Key (`possible_depression`).
    pub key: String,
    /// Japanese label.
    pub label_ja: String,
    /// English label.
    pub label_en: String,
}

/// A subscale's total.
#[derive(Debug, Clone, Serialize, TS)]
pub struct SubscaleView {
    /// Key.
    pub key: String,
    /// Japanese name.
    pub name_ja: String,
    /// Total, or null while any of its items is unanswered.
    pub total: Option<u32>,
}

/// A score, exact: a total only when every item is answered.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ScoreView {
    /// Instrument key.
    pub instrument: String,
    /// Definition version.
    pub version: String,
    /// Every item answered.
    pub complete: bool,
    /// The total (null while incomplete, and for checklists).
    pub total: Option<u32>,
    /// Sum of the answered items so far (shown as "so far", never as the total).
    pub partial_total: u32,
    /// Highest possible total.
    pub max: Option<u32>,
    /// Items still unanswered.
    pub missing_items: Vec<u16>,
    /// Bands the complete total falls in.
    pub bands: Vec<BandView>,
    /// Alerts, also while incomplete.
    pub alerts: Vec<AlertView>,
    /// Subscale totals.
    pub subscales: Vec<SubscaleView>,
    /// Checklist items flagged.
    pub flagged_items: Vec<u16>,
}
