//! Why an instrument definition, an answer set or a text import was refused.

use thiserror::Error;

/// Every way the instrument module can refuse input. Messages are English for logs and the
/// CLI; the UI decides by [`InstrumentError::code`], never by the message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum InstrumentError {
    /// The catalog has no instrument with this key.
    #[error("unknown instrument {key:?} (known: {known})")]
    UnknownInstrument {
        /// The key that was asked for.
        key: String,
        /// The keys the catalog knows, comma separated.
        known: String,
    },
    /// A definition document is not well-formed TOML, or has fields of the wrong type or
    /// fields the format does not know (typos are refused, not ignored).
    #[error("instrument definition does not parse: {message}")]
    DefinitionSyntax {
        /// The parser's explanation, with line and column.
        message: String,
    },
    /// A definition parses but breaks a rule of the format (see [`DefinitionProblem`]).
    #[error("instrument definition {key:?} is invalid: {problem}")]
    InvalidDefinition {
        /// The definition's `key` (possibly empty when the key itself is the problem).
        key: String,
        /// What is wrong.
        problem: DefinitionProblem,
    },
    /// An answer set has a different number of entries than the instrument has items.
    #[error("expected {expected} answers, got {got}")]
    WrongAnswerCount {
        /// Number of (scored) items.
        expected: usize,
        /// Number of answers given.
        got: usize,
    },
    /// An answer is a well-formed key, but not one of the keys this item allows.
    #[error("item {item}: answer {answer} is not one of {allowed}")]
    AnswerNotAllowed {
        /// Item number (1-based, as printed on the form).
        item: u16,
        /// The answer key given.
        answer: String,
        /// The allowed keys, comma separated.
        allowed: String,
    },
    /// Typed answer text that is not an answer key at all (spaces inside, punctuation, ...).
    #[error(
        "answer {position}: {text:?} is not an answer key (separate answers with commas, '-' for no answer)"
    )]
    InvalidAnswerText {
        /// 1-based position in the typed list.
        position: usize,
        /// The offending text.
        text: String,
    },
    /// An item-text import document is not well-formed TOML/JSON or misses fields.
    #[error("item text import does not parse: {message}")]
    ImportSyntax {
        /// The parser's explanation.
        message: String,
    },
    /// An item-text import names another instrument than the one it is applied to.
    #[error("item texts are for instrument {got:?}, not {expected:?}")]
    ImportInstrumentMismatch {
        /// The definition's key.
        expected: String,
        /// The key in the import document.
        got: String,
    },
    /// An item-text import was made for another version of the definition.
    #[error(
        "item texts are for version {got:?} of {key:?}, but the definition is version {expected:?}"
    )]
    ImportVersionMismatch {
        /// The instrument key.
        key: String,
        /// The definition's version.
        expected: String,
        /// The version in the import document.
        got: String,
    },
    /// An item-text import does not cover exactly the definition's items.
    #[error(
        "item texts must cover exactly items 1..={item_count}: missing {missing:?}, unknown {unknown:?}"
    )]
    ImportItemsMismatch {
        /// Number of items in the definition.
        item_count: usize,
        /// Item numbers the import lacks.
        missing: Vec<u16>,
        /// Item labels in the import that are not item numbers of the definition.
        unknown: Vec<String>,
    },
    /// An item-text import has an empty text for an item.
    #[error("item text import: item {item} has an empty text")]
    ImportEmptyText {
        /// The item number.
        item: u16,
    },
}

impl InstrumentError {
    /// A stable machine code for the UI and `--json` output.
    pub fn code(&self) -> &'static str {
        match self {
            InstrumentError::UnknownInstrument { .. } => "unknown_instrument",
            InstrumentError::DefinitionSyntax { .. } => "definition_syntax",
            InstrumentError::InvalidDefinition { .. } => "invalid_definition",
            InstrumentError::WrongAnswerCount { .. } => "wrong_answer_count",
            InstrumentError::AnswerNotAllowed { .. } => "answer_not_allowed",
            InstrumentError::InvalidAnswerText { .. } => "invalid_answer_text",
            InstrumentError::ImportSyntax { .. } => "import_syntax",
            InstrumentError::ImportInstrumentMismatch { .. } => "import_instrument_mismatch",
            InstrumentError::ImportVersionMismatch { .. } => "import_version_mismatch",
            InstrumentError::ImportItemsMismatch { .. } => "import_items_mismatch",
            InstrumentError::ImportEmptyText { .. } => "import_empty_text",
        }
    }
}

/// What exactly is wrong with a definition that parsed. Municipalities write their own
/// definitions, so each rule has its own variant and a message that points at the field.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DefinitionProblem {
    /// `key` is empty or has characters other than `a-z`, `0-9`, `_`.
    #[error("key must be non-empty and use only a-z, 0-9 and _")]
    InvalidKey,
    /// A required text field (`version`, `name_ja`, ...) is empty.
    #[error("field `{field}` must not be empty")]
    EmptyField {
        /// The field name.
        field: &'static str,
    },
    /// A program name is empty or has characters other than `a-z`, `0-9`, `_`.
    #[error("program {0:?} must use only a-z, 0-9 and _")]
    InvalidProgram(String),
    /// The definition has no scored items.
    #[error("the instrument has no items")]
    NoItems,
    /// More items than any screening instrument has (a guard that keeps totals exact).
    #[error("the instrument has more than {max} items")]
    TooManyItems {
        /// The limit.
        max: usize,
    },
    /// Items must be numbered 1, 2, 3, ... in order, because answers are positional.
    #[error("items must be numbered 1, 2, 3, ... in order: position {position} has number {found}")]
    ItemNumbering {
        /// 1-based position in the `items` list.
        position: usize,
        /// The number found there.
        found: u16,
    },
    /// An item names a choice scale that `scales` does not define.
    #[error("item {item}: unknown scale {scale:?}")]
    UnknownScale {
        /// Item number.
        item: u16,
        /// The scale name.
        scale: String,
    },
    /// An item has neither its own `choices` nor a scale (and there is no `default_scale`).
    #[error("item {item} has no choices (give `choices`, `scale`, or a `default_scale`)")]
    NoChoices {
        /// Item number.
        item: u16,
    },
    /// An item gives both its own `choices` and a `scale`.
    #[error("item {item} gives both `choices` and `scale`; give one")]
    AmbiguousChoices {
        /// Item number.
        item: u16,
    },
    /// A scale has no choices.
    #[error("scale {0:?} has no choices")]
    EmptyScale(String),
    /// A choice key is empty, `-`, or has characters other than ASCII letters and digits.
    #[error("item {item}: choice key {choice:?} must be ASCII letters/digits and not '-'")]
    InvalidChoiceKey {
        /// Item number.
        item: u16,
        /// The key.
        choice: String,
    },
    /// Two choices of one item share a key.
    #[error("item {item}: choice key {choice:?} appears twice")]
    DuplicateChoiceKey {
        /// Item number.
        item: u16,
        /// The key.
        choice: String,
    },
    /// A scored instrument has no `range`.
    #[error("a scored instrument needs `range` (min and max total)")]
    MissingRange,
    /// The declared total range differs from what the item points allow.
    #[error(
        "range is {declared_min}..={declared_max} but the item points give {computed_min}..={computed_max}"
    )]
    RangeMismatch {
        /// Declared minimum.
        declared_min: u32,
        /// Declared maximum.
        declared_max: u32,
        /// Sum of every item's lowest points.
        computed_min: u32,
        /// Sum of every item's highest points.
        computed_max: u32,
    },
    /// A cut-off band lies (partly) outside the total range, or has min > max.
    #[error("cut-off {key:?} ({min}..={max}) is not inside the range {range_min}..={range_max}")]
    CutoffOutOfRange {
        /// Cut-off key.
        key: String,
        /// Band minimum.
        min: u32,
        /// Band maximum (the range maximum when not given).
        max: u32,
        /// Range minimum.
        range_min: u32,
        /// Range maximum.
        range_max: u32,
    },
    /// A subscale, alert or cut-off key is used twice.
    #[error("{what} key {key:?} appears twice")]
    DuplicateKey {
        /// "subscale", "cut-off" or "alert".
        what: &'static str,
        /// The key.
        key: String,
    },
    /// A subscale has no items, or lists an item twice.
    #[error("subscale {0:?} must list at least one item, each once")]
    BadSubscaleItems(String),
    /// A subscale or alert refers to an item number the instrument does not have.
    #[error("{context} refers to item {item}, which does not exist")]
    UnknownItem {
        /// Where the reference is, e.g. `subscale "personal_strain"`.
        context: String,
        /// The item number.
        item: u16,
    },
    /// An alert threshold that no answer of the item can reach (it would never fire).
    #[error(
        "alert {key:?} needs item {item} >= {min_points} points, but the item gives at most {max_points}"
    )]
    UnreachableAlert {
        /// Alert key.
        key: String,
        /// Item number.
        item: u16,
        /// Threshold.
        min_points: u8,
        /// Highest points the item gives.
        max_points: u8,
    },
    /// `item_texts = "included"` but an item has no `text_ja`.
    #[error("item_texts is \"included\" but item {0} has no text_ja")]
    MissingItemText(u16),
    /// Item texts are shipped although `item_texts` says they are licensed or pending: a
    /// guard against publishing texts we may not reproduce.
    #[error("item {0} has text_ja although item_texts is not \"included\"")]
    UnexpectedItemText(u16),
    /// A checklist declares score-only parts (range, cut-offs, subscales, reverse items).
    #[error("a checklist has no score: remove `{0}`")]
    ScoreFieldInChecklist(&'static str),
    /// A checklist item has no choice that raises a flag.
    #[error("checklist item {0} has no choice with flag = true")]
    NoFlagChoice(u16),
    /// A scored instrument declares flag choices (flags belong to checklists).
    #[error("item {0}: `flag` is only for checklists; use an alert rule")]
    FlagInScoredInstrument(u16),
}

impl DefinitionProblem {
    /// A stable machine code, finer than [`InstrumentError::code`].
    pub fn code(&self) -> &'static str {
        match self {
            DefinitionProblem::InvalidKey => "invalid_key",
            DefinitionProblem::EmptyField { .. } => "empty_field",
            DefinitionProblem::InvalidProgram(_) => "invalid_program",
            DefinitionProblem::NoItems => "no_items",
            DefinitionProblem::TooManyItems { .. } => "too_many_items",
            DefinitionProblem::ItemNumbering { .. } => "item_numbering",
            DefinitionProblem::UnknownScale { .. } => "unknown_scale",
            DefinitionProblem::NoChoices { .. } => "no_choices",
            DefinitionProblem::AmbiguousChoices { .. } => "ambiguous_choices",
            DefinitionProblem::EmptyScale(_) => "empty_scale",
            DefinitionProblem::InvalidChoiceKey { .. } => "invalid_choice_key",
            DefinitionProblem::DuplicateChoiceKey { .. } => "duplicate_choice_key",
            DefinitionProblem::MissingRange => "missing_range",
            DefinitionProblem::RangeMismatch { .. } => "range_mismatch",
            DefinitionProblem::CutoffOutOfRange { .. } => "cutoff_out_of_range",
            DefinitionProblem::DuplicateKey { .. } => "duplicate_key",
            DefinitionProblem::BadSubscaleItems(_) => "bad_subscale_items",
            DefinitionProblem::UnknownItem { .. } => "unknown_item",
            DefinitionProblem::UnreachableAlert { .. } => "unreachable_alert",
            DefinitionProblem::MissingItemText(_) => "missing_item_text",
            DefinitionProblem::UnexpectedItemText(_) => "unexpected_item_text",
            DefinitionProblem::ScoreFieldInChecklist(_) => "score_field_in_checklist",
            DefinitionProblem::NoFlagChoice(_) => "no_flag_choice",
            DefinitionProblem::FlagInScoredInstrument(_) => "flag_in_scored_instrument",
        }
    }
}
