//! Why an instrument definition, an answer set or a text import was refused: stable codes, an
//! English message for logs and the CLI, and a Japanese one for the app.

use thiserror::Error;

/// Every way the instrument module can refuse input. The UI decides by
/// [`InstrumentError::code`], never by the message; [`InstrumentError::message_ja`] is what it
/// shows and [`InstrumentError::field`] the input it marks. The English `Display` is for logs
/// and the CLI.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum InstrumentError {
    /// The catalog has no instrument with this key.
    #[error("unknown instrument {key:?} (known: {})", keys_en(.known))]
    UnknownInstrument {
        /// The key that was asked for.
        key: String,
        /// The instruments the catalog knows: (key, Japanese name), sorted by key.
        known: Vec<(String, String)>,
    },
    /// A definition document is not well-formed TOML, or has fields of the wrong type or
    /// fields the format does not know (typos are refused, not ignored).
    #[error("instrument definition does not parse: {message}")]
    DefinitionSyntax {
        /// The parser's explanation, with line and column.
        message: String,
        /// The 1-based line of the file where parsing failed, when the parser says.
        line: Option<usize>,
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
        /// The 1-based line of the document where parsing failed, when the parser says.
        line: Option<usize>,
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

    /// The input field the error concerns (`"instrument"`, `"answers"`), so a form can mark
    /// it; `None` for definition and import files.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            InstrumentError::UnknownInstrument { .. } => Some("instrument"),
            InstrumentError::WrongAnswerCount { .. }
            | InstrumentError::AnswerNotAllowed { .. }
            | InstrumentError::InvalidAnswerText { .. } => Some("answers"),
            InstrumentError::DefinitionSyntax { .. }
            | InstrumentError::InvalidDefinition { .. }
            | InstrumentError::ImportSyntax { .. }
            | InstrumentError::ImportInstrumentMismatch { .. }
            | InstrumentError::ImportVersionMismatch { .. }
            | InstrumentError::ImportItemsMismatch { .. }
            | InstrumentError::ImportEmptyText { .. } => None,
        }
    }

    /// The message in whole Japanese: for workers entering answers, and for IT importing
    /// definition and item-text files (names written in the file are quoted in 「」).
    pub fn message_ja(&self) -> String {
        match self {
            InstrumentError::UnknownInstrument { key, known } => format!(
                "評価票「{key}」が見つかりません（使える評価票: {}）。",
                known
                    .iter()
                    .map(|(_, name)| format!("「{name}」"))
                    .collect::<String>()
            ),
            InstrumentError::DefinitionSyntax { line, .. } => format!(
                "評価票の定義ファイル{}を読み取れません。書き方の誤りや、使えない項目名がないか確認してください。",
                at_line(*line)
            ),
            InstrumentError::InvalidDefinition { key, problem } => format!(
                "評価票の定義ファイル「{key}」に誤りがあります。{}",
                problem.message_ja()
            ),
            InstrumentError::WrongAnswerCount { expected, got } => format!(
                "回答の数が違います（{expected}項目に対して{got}件）。未回答の項目は「-」としてください。"
            ),
            InstrumentError::AnswerNotAllowed {
                item,
                answer,
                allowed,
            } => format!(
                "項目{item}の回答「{answer}」は選べません（選べる回答: {}）。",
                answer_keys_ja(allowed)
            ),
            InstrumentError::InvalidAnswerText { position, text } => format!(
                "{position}番目の回答「{text}」を読み取れません。回答は「,」で区切り、未回答は「-」と入力してください。"
            ),
            InstrumentError::ImportSyntax { line, .. } => format!(
                "項目本文の取り込みファイル{}を読み取れません。書き方の誤りや、「instrument」「version」「texts」の欠けがないか確認してください。",
                at_line(*line)
            ),
            InstrumentError::ImportInstrumentMismatch { expected, got } => format!(
                "取り込みファイルは評価票「{got}」用です。評価票「{expected}」用のファイルを選んでください。"
            ),
            InstrumentError::ImportVersionMismatch { key, expected, got } => format!(
                "取り込みファイルは評価票「{key}」の版「{got}」用ですが、この端末の定義は版「{expected}」です。同じ版のファイルを選んでください。"
            ),
            InstrumentError::ImportItemsMismatch {
                item_count,
                missing,
                unknown,
            } => {
                let mut detail = Vec::new();
                if !missing.is_empty() {
                    detail.push(format!("足りない項目: {}", numbers_ja(missing)));
                }
                if !unknown.is_empty() {
                    detail.push(format!(
                        "定義にない項目: {}",
                        unknown
                            .iter()
                            .map(|u| format!("「{u}」"))
                            .collect::<String>()
                    ));
                }
                format!(
                    "取り込みファイルの項目が定義と合いません。項目1〜{item_count}の本文をちょうど1つずつ入れてください（{}）。",
                    detail.join("。")
                )
            }
            InstrumentError::ImportEmptyText { item } => {
                format!("取り込みファイルの項目{item}の本文が空です。")
            }
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
    #[error("{what} {key:?} refers to item {item}, which does not exist")]
    UnknownItem {
        /// "subscale" or "alert".
        what: &'static str,
        /// The subscale's or alert's key.
        key: String,
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

    /// What is wrong, in Japanese, for IT fixing the file (the file's own names in 「」).
    pub fn message_ja(&self) -> String {
        use DefinitionProblem as P;
        match self {
            P::InvalidKey => "「key」は英小文字・数字・「_」だけで書き、空にはできません。".into(),
            P::EmptyField { field } => format!("「{field}」が空です。"),
            P::InvalidProgram(p) => {
                format!("事業「{p}」は英小文字・数字・「_」だけで書いてください。")
            }
            P::NoItems => "項目が1つもありません。".into(),
            P::TooManyItems { max } => format!("項目が多すぎます（{max}項目までです）。"),
            P::ItemNumbering { position, found } => format!(
                "項目の番号は1から順に付けてください（{position}番目の項目の番号が{found}になっています）。"
            ),
            P::UnknownScale { item, scale } => {
                format!("項目{item}の尺度「{scale}」が定義されていません。")
            }
            P::NoChoices { item } => format!(
                "項目{item}に選択肢がありません（「choices」「scale」「default_scale」のどれかで指定してください）。"
            ),
            P::AmbiguousChoices { item } => format!(
                "項目{item}に「choices」と「scale」の両方があります。どちらか一方にしてください。"
            ),
            P::EmptyScale(scale) => format!("尺度「{scale}」に選択肢がありません。"),
            P::InvalidChoiceKey { item, choice } => format!(
                "項目{item}の選択肢の記号「{choice}」は使えません（英字と数字だけで、「-」は使えません）。"
            ),
            P::DuplicateChoiceKey { item, choice } => {
                format!("項目{item}の選択肢の記号「{choice}」が2回使われています。")
            }
            P::MissingRange => "点数を出す評価票には合計点の範囲（「range」）が必要です。".into(),
            P::RangeMismatch {
                declared_min,
                declared_max,
                computed_min,
                computed_max,
            } => format!(
                "合計点の範囲が{declared_min}〜{declared_max}点になっていますが、各項目の点数から計算すると{computed_min}〜{computed_max}点です。"
            ),
            P::CutoffOutOfRange {
                key,
                min,
                max,
                range_min,
                range_max,
            } => format!(
                "区分点「{key}」（{min}〜{max}点）が合計点の範囲（{range_min}〜{range_max}点）に収まっていません。"
            ),
            P::DuplicateKey { what, key } => {
                format!("{}の記号「{key}」が2回使われています。", part_ja(what))
            }
            P::BadSubscaleItems(key) => {
                format!("下位尺度「{key}」には項目を1つ以上、それぞれ1回ずつ挙げてください。")
            }
            P::UnknownItem { what, key, item } => format!(
                "{}「{key}」が、存在しない項目{item}を指しています。",
                part_ja(what)
            ),
            P::UnreachableAlert {
                key,
                item,
                min_points,
                max_points,
            } => format!(
                "注意喚起「{key}」は項目{item}が{min_points}点以上で出る設定ですが、この項目は最高{max_points}点のため出ることがありません。"
            ),
            P::MissingItemText(item) => format!(
                "「item_texts」が「included」なのに、項目{item}に本文（「text_ja」）がありません。"
            ),
            P::UnexpectedItemText(item) => format!(
                "項目{item}に本文（「text_ja」）がありますが、「item_texts」が「included」ではありません。許諾のない本文は載せられません。"
            ),
            P::ScoreFieldInChecklist(field) => {
                format!("チェックリストには点数がないため、「{field}」を削除してください。")
            }
            P::NoFlagChoice(item) => format!(
                "チェックリストの項目{item}に、該当を示す選択肢（「flag = true」）がありません。"
            ),
            P::FlagInScoredInstrument(item) => format!(
                "項目{item}の「flag」はチェックリスト専用です。点数を出す評価票では注意喚起（「alerts」）を使ってください。"
            ),
        }
    }
}

fn keys_en(known: &[(String, String)]) -> String {
    known
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// 「の12行目」 when the parser gave a line.
fn at_line(line: Option<usize>) -> String {
    line.map(|l| format!("の{l}行目")).unwrap_or_default()
}

/// The allowed answer keys: digits as they are (`0, 1, 2, 3`), anything else quoted, since
/// it is what the worker types.
fn answer_keys_ja(allowed: &str) -> String {
    let keys: Vec<&str> = allowed.split(',').collect();
    if keys.iter().all(|k| k.bytes().all(|b| b.is_ascii_digit())) {
        keys.join(", ")
    } else {
        keys.iter().map(|k| format!("「{k}」")).collect()
    }
}

fn numbers_ja(items: &[u16]) -> String {
    items
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join("、")
}

/// The Japanese name of a definition part named in [`DefinitionProblem`].
fn part_ja(what: &str) -> &'static str {
    match what {
        "subscale" => "下位尺度",
        "cut-off" => "区分点",
        "alert" => "注意喚起",
        _ => "定義",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::assert_whole_japanese;

    /// One instance of every [`DefinitionProblem`], in [`problem`]'s order.
    fn problems() -> Vec<DefinitionProblem> {
        use DefinitionProblem as P;
        vec![
            P::InvalidKey,
            P::EmptyField { field: "name_ja" },
            P::InvalidProgram("CSW outreach".into()),
            P::NoItems,
            P::TooManyItems { max: 200 },
            P::ItemNumbering {
                position: 3,
                found: 4,
            },
            P::UnknownScale {
                item: 2,
                scale: "frequency".into(),
            },
            P::NoChoices { item: 2 },
            P::AmbiguousChoices { item: 2 },
            P::EmptyScale("frequency".into()),
            P::InvalidChoiceKey {
                item: 1,
                choice: "-".into(),
            },
            P::DuplicateChoiceKey {
                item: 1,
                choice: "a".into(),
            },
            P::MissingRange,
            P::RangeMismatch {
                declared_min: 0,
                declared_max: 30,
                computed_min: 0,
                computed_max: 27,
            },
            P::CutoffOutOfRange {
                key: "high".into(),
                min: 9,
                max: 40,
                range_min: 0,
                range_max: 30,
            },
            P::DuplicateKey {
                what: "cut-off",
                key: "high".into(),
            },
            P::BadSubscaleItems("personal_strain".into()),
            P::UnknownItem {
                what: "subscale",
                key: "personal_strain".into(),
                item: 9,
            },
            P::UnreachableAlert {
                key: "self_harm".into(),
                item: 10,
                min_points: 4,
                max_points: 3,
            },
            P::MissingItemText(3),
            P::UnexpectedItemText(3),
            P::ScoreFieldInChecklist("range"),
            P::NoFlagChoice(2),
            P::FlagInScoredInstrument(2),
        ]
    }

    /// Exhaustive on purpose: a new problem does not compile until it is listed here.
    fn problem(p: &DefinitionProblem) -> usize {
        use DefinitionProblem as P;
        match p {
            P::InvalidKey => 0,
            P::EmptyField { .. } => 1,
            P::InvalidProgram(_) => 2,
            P::NoItems => 3,
            P::TooManyItems { .. } => 4,
            P::ItemNumbering { .. } => 5,
            P::UnknownScale { .. } => 6,
            P::NoChoices { .. } => 7,
            P::AmbiguousChoices { .. } => 8,
            P::EmptyScale(_) => 9,
            P::InvalidChoiceKey { .. } => 10,
            P::DuplicateChoiceKey { .. } => 11,
            P::MissingRange => 12,
            P::RangeMismatch { .. } => 13,
            P::CutoffOutOfRange { .. } => 14,
            P::DuplicateKey { .. } => 15,
            P::BadSubscaleItems(_) => 16,
            P::UnknownItem { .. } => 17,
            P::UnreachableAlert { .. } => 18,
            P::MissingItemText(_) => 19,
            P::UnexpectedItemText(_) => 20,
            P::ScoreFieldInChecklist(_) => 21,
            P::NoFlagChoice(_) => 22,
            P::FlagInScoredInstrument(_) => 23,
        }
    }

    /// One instance of every [`InstrumentError`], in [`variant`]'s order.
    fn samples() -> Vec<InstrumentError> {
        use InstrumentError as E;
        vec![
            E::UnknownInstrument {
                key: "phq9".into(),
                known: vec![("epds".into(), "エジンバラ産後うつ病質問票（EPDS）".into())],
            },
            E::DefinitionSyntax {
                message: "TOML parse error at line 3".into(),
                line: Some(3),
            },
            E::InvalidDefinition {
                key: "mini".into(),
                problem: DefinitionProblem::MissingRange,
            },
            E::WrongAnswerCount {
                expected: 10,
                got: 9,
            },
            E::AnswerNotAllowed {
                item: 3,
                answer: "7".into(),
                allowed: "0,1,2,3".into(),
            },
            E::InvalidAnswerText {
                position: 3,
                text: "1 2".into(),
            },
            E::ImportSyntax {
                message: "missing field `texts`".into(),
                line: None,
            },
            E::ImportInstrumentMismatch {
                expected: "jzbi8".into(),
                got: "epds".into(),
            },
            E::ImportVersionMismatch {
                key: "jzbi8".into(),
                expected: "1".into(),
                got: "2".into(),
            },
            E::ImportItemsMismatch {
                item_count: 8,
                missing: vec![8],
                unknown: vec!["09".into()],
            },
            E::ImportEmptyText { item: 5 },
        ]
    }

    /// Exhaustive on purpose: a new variant does not compile until it is listed here.
    fn variant(e: &InstrumentError) -> usize {
        use InstrumentError as E;
        match e {
            E::UnknownInstrument { .. } => 0,
            E::DefinitionSyntax { .. } => 1,
            E::InvalidDefinition { .. } => 2,
            E::WrongAnswerCount { .. } => 3,
            E::AnswerNotAllowed { .. } => 4,
            E::InvalidAnswerText { .. } => 5,
            E::ImportSyntax { .. } => 6,
            E::ImportInstrumentMismatch { .. } => 7,
            E::ImportVersionMismatch { .. } => 8,
            E::ImportItemsMismatch { .. } => 9,
            E::ImportEmptyText { .. } => 10,
        }
    }

    fn assert_unique(codes: impl IntoIterator<Item = &'static str>) {
        let mut seen = std::collections::BTreeSet::new();
        for code in codes {
            assert!(
                code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code} is not snake_case"
            );
            assert!(seen.insert(code), "{code} is used twice");
        }
    }

    #[test]
    fn every_error_and_problem_has_a_sample_and_its_own_code() {
        let samples = samples();
        let variants: Vec<usize> = samples.iter().map(variant).collect();
        assert_eq!(variants, (0..samples.len()).collect::<Vec<_>>());
        assert_unique(samples.iter().map(InstrumentError::code));
        let problems = problems();
        let kinds: Vec<usize> = problems.iter().map(problem).collect();
        assert_eq!(kinds, (0..problems.len()).collect::<Vec<_>>());
        assert_unique(problems.iter().map(DefinitionProblem::code));
    }

    #[test]
    fn every_error_and_problem_has_whole_japanese() {
        for e in samples() {
            assert!(!e.to_string().is_empty(), "{e:?}");
            assert_whole_japanese(&e.message_ja());
        }
        for problem in problems() {
            let e = InstrumentError::InvalidDefinition {
                key: "mini".into(),
                problem,
            };
            assert_whole_japanese(&e.message_ja());
        }
        let e = InstrumentError::AnswerNotAllowed {
            item: 1,
            answer: "z".into(),
            allowed: "a,b".into(),
        };
        assert_eq!(
            e.message_ja(),
            "項目1の回答「z」は選べません（選べる回答: 「a」「b」）。"
        );
    }
}
