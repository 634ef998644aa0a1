//! Table-driven tests of the shipped instrument definitions, the scoring engine, definition
//! validation and the licensed-text import, with known answer sets.

use proptest::prelude::*;
use tsunagi_core::instrument::{
    Answers, DefinitionProblem, Instrument, InstrumentCatalog, InstrumentError, InstrumentKind,
    ItemTexts, ScoreResult,
};

fn catalog() -> InstrumentCatalog {
    InstrumentCatalog::builtin()
}

fn join<T: ToString>(xs: impl IntoIterator<Item = T>) -> String {
    let v: Vec<String> = xs.into_iter().map(|x| x.to_string()).collect();
    if v.is_empty() {
        "-".to_owned()
    } else {
        v.join(",")
    }
}

/// A one-line rendering of a result, so each case states everything that matters:
/// `total=9 bands=possible_depression`, `incomplete missing=4 alerts=self_harm(10:1)`, ...
/// Sections that are empty are left out; subscales are shown whenever the instrument has any.
fn summary(r: &ScoreResult) -> String {
    let mut out = match (r.total, r.complete) {
        (Some(t), _) => format!("total={t}"),
        (None, true) => "complete".to_owned(),
        (None, false) => format!("incomplete missing={}", join(&r.missing_items)),
    };
    if !r.subscales.is_empty() {
        let subs = r.subscales.iter().map(|s| {
            let t = s.total.map_or("-".to_owned(), |t| t.to_string());
            format!("{}:{t}", s.key)
        });
        out += &format!(" subscales={}", join(subs));
    }
    if !r.bands.is_empty() {
        out += &format!(" bands={}", join(r.bands.iter().map(|b| &b.key)));
    }
    if !r.alerts.is_empty() {
        let alerts = r
            .alerts
            .iter()
            .map(|a| format!("{}({}:{})", a.key, a.item, a.points));
        out += &format!(" alerts={}", join(alerts));
    }
    if !r.flagged_items.is_empty() {
        out += &format!(" flagged={}", join(&r.flagged_items));
    }
    out
}

/// Parses `answers` as typed on the CLI, scores them and compares the summary, or the error
/// as `code: message`.
fn check(instrument: &str, answers: &str, expected: &str) {
    let catalog = catalog();
    let instrument = catalog.get(instrument).expect("known instrument");
    let got = match instrument
        .parse_answers(answers)
        .and_then(|a| instrument.score(&a))
    {
        Ok(result) => summary(&result),
        Err(e) => format!("{}: {e}", e.code()),
    };
    assert_eq!(got, expected, "{} answers {answers:?}", instrument.key());
}

#[test]
fn epds() {
    // Items 1, 2, 4 score key = points; items 3, 5–10 score 3 − key.
    let cases = [
        // Every answer the top option: 0+0+0 on items 1,2,4 and 3 on each of the 7 reverse items.
        (
            "0,0,0,0,0,0,0,0,0,0",
            "total=21 bands=possible_depression alerts=self_harm(10:3)",
        ),
        ("0,0,3,0,3,3,3,3,3,3", "total=0"),
        (
            "3,3,0,3,0,0,0,0,0,0",
            "total=30 bands=possible_depression alerts=self_harm(10:3)",
        ),
        // Every answer the bottom option: 3 on items 1,2,4 only.
        ("3,3,3,3,3,3,3,3,3,3", "total=9 bands=possible_depression"),
        // 8 vs 9 around the Japanese cut-off 8/9.
        ("3,3,3,2,3,3,3,3,3,3", "total=8"),
        ("3,3,2,3,3,3,3,3,3,3", "total=10 bands=possible_depression"),
        ("2,2,2,2,2,3,3,3,3,3", "total=8"),
        ("2,2,2,2,2,2,3,3,3,3", "total=9 bands=possible_depression"),
        // Item 10 non-zero alone alerts with a low total.
        ("0,0,3,0,3,3,3,3,3,2", "total=1 alerts=self_harm(10:1)"),
        ("0,0,3,0,3,3,3,3,3,1", "total=2 alerts=self_harm(10:2)"),
        // Missing answers: no total, no band, but an answered item 10 still alerts.
        (
            "0,0,3,-,3,3,3,3,3,2",
            "incomplete missing=4 alerts=self_harm(10:1)",
        ),
        ("0,,3,0,3,3,3,3,3,3", "incomplete missing=2"),
        ("3,3,0,3,0,0,0,0,0,-", "incomplete missing=10"),
        (
            "-,-,-,-,-,-,-,-,-,-",
            "incomplete missing=1,2,3,4,5,6,7,8,9,10",
        ),
        // Typing tolerance: spaces, full-width digits and commas, Japanese comma.
        (" 0, 0 ,3,0,3,3,3,3,3,3 ", "total=0"),
        ("０，０，３，０，３，３，３，３，３，３", "total=0"),
        ("0、0、3、0、3、3、3、3、3、3", "total=0"),
        // Errors.
        (
            "0,0,3,0,3,3,3,3,3",
            "wrong_answer_count: expected 10 answers, got 9",
        ),
        (
            "0,0,3,0,3,3,3,3,3,3,0",
            "wrong_answer_count: expected 10 answers, got 11",
        ),
        ("", "wrong_answer_count: expected 10 answers, got 1"),
        (
            "0,0,5,0,3,3,3,3,3,3",
            "answer_not_allowed: item 3: answer 5 is not one of 0,1,2,3",
        ),
        (
            "0,0,3,0,3,3,3,3,3,a",
            "answer_not_allowed: item 10: answer a is not one of 0,1,2,3",
        ),
        (
            "0,0,1 2,0,3,3,3,3,3,3",
            "invalid_answer_text: answer 3: \"1 2\" is not an answer key (separate answers with commas, '-' for no answer)",
        ),
        (
            "0;0;3",
            "invalid_answer_text: answer 1: \"0;0;3\" is not an answer key (separate answers with commas, '-' for no answer)",
        ),
    ];
    for (answers, expected) in cases {
        check("epds", answers, expected);
    }
}

#[test]
fn dasc21() {
    const SUBS_MIN: &str = "subscales=memory:3,orientation:3,problem_solving:3,iadl_outside:3,iadl_home:3,padl_1:3,padl_2:3";
    let cases = [
        ("1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1", format!("total=21 {SUBS_MIN}")),
        (
            "4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4",
            "total=84 subscales=memory:12,orientation:12,problem_solving:12,iadl_outside:12,iadl_home:12,padl_1:12,padl_2:12 bands=possible_dementia".to_owned(),
        ),
        // 30 (no flag) vs 31 (possible dementia).
        (
            "2,2,2,2,2,2,2,2,2,1,1,1,1,1,1,1,1,1,1,1,1",
            "total=30 subscales=memory:6,orientation:6,problem_solving:6,iadl_outside:3,iadl_home:3,padl_1:3,padl_2:3".to_owned(),
        ),
        (
            "2,2,2,2,2,2,2,2,2,2,1,1,1,1,1,1,1,1,1,1,1",
            "total=31 subscales=memory:6,orientation:6,problem_solving:6,iadl_outside:4,iadl_home:3,padl_1:3,padl_2:3 bands=possible_dementia".to_owned(),
        ),
        (
            "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,-",
            "incomplete missing=21 subscales=memory:3,orientation:3,problem_solving:3,iadl_outside:3,iadl_home:3,padl_1:3,padl_2:-".to_owned(),
        ),
        (
            "0,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1",
            "answer_not_allowed: item 1: answer 0 is not one of 1,2,3,4".to_owned(),
        ),
        // The unscored introductory items A and B are not part of the answers.
        (
            "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1",
            "wrong_answer_count: expected 21 answers, got 23".to_owned(),
        ),
    ];
    for (answers, expected) in cases {
        check("dasc21", answers, &expected);
    }
}

#[test]
fn dbd13() {
    let cases = [
        ("0,0,0,0,0,0,0,0,0,0,0,0,0", "total=0"),
        ("4,4,4,4,4,4,4,4,4,4,4,4,4", "total=52"),
        ("0,1,2,3,4,0,1,2,3,4,0,1,2", "total=23"),
        ("0,1,2,3,4,0,1,2,3,4,0,1,-", "incomplete missing=13"),
        (
            "0,1,2,3,4,0,1,2,3,4,0,1,5",
            "answer_not_allowed: item 13: answer 5 is not one of 0,1,2,3,4",
        ),
    ];
    for (answers, expected) in cases {
        check("dbd13", answers, expected);
    }
}

#[test]
fn jzbi8() {
    // Personal strain = items 1, 2, 4, 7, 8; role strain = items 3, 5, 6.
    let cases = [
        (
            "0,0,0,0,0,0,0,0",
            "total=0 subscales=personal_strain:0,role_strain:0",
        ),
        (
            "4,4,4,4,4,4,4,4",
            "total=32 subscales=personal_strain:20,role_strain:12",
        ),
        (
            "1,1,0,1,0,0,1,1",
            "total=5 subscales=personal_strain:5,role_strain:0",
        ),
        (
            "0,0,4,0,4,4,0,0",
            "total=12 subscales=personal_strain:0,role_strain:12",
        ),
        (
            "1,2,3,4,0,1,2,3",
            "total=16 subscales=personal_strain:12,role_strain:4",
        ),
        (
            "4,4,-,4,4,4,4,4",
            "incomplete missing=3 subscales=personal_strain:20,role_strain:-",
        ),
        (
            "4,-,4,4,4,4,4,4",
            "incomplete missing=2 subscales=personal_strain:-,role_strain:12",
        ),
        (
            "4,4,4,4,4,4,4",
            "wrong_answer_count: expected 8 answers, got 7",
        ),
    ];
    for (answers, expected) in cases {
        check("jzbi8", answers, expected);
    }
}

#[test]
fn mibsj_reverse_items() {
    // Keys are positions from the top. Negative items (2–5, 7, 9) score 3 for key 0;
    // positive items 1, 6, 8, 10 are reversed and score 0 for key 0.
    let cases = [
        ("0,0,0,0,0,0,0,0,0,0", "total=18"),
        ("3,3,3,3,3,3,3,3,3,3", "total=12"),
        ("0,3,3,3,3,0,3,0,3,0", "total=0"),
        ("3,0,0,0,0,3,0,3,0,3", "total=30"),
        // Only item 1 moves off the healthy answer: "たまに強く" on a positive item = 1 point.
        ("1,3,3,3,3,0,3,0,3,0", "total=1"),
        // Only item 2 (negative) moves: "たまに強く" = 2 points.
        ("0,1,3,3,3,0,3,0,3,0", "total=2"),
        ("0,3,3,3,3,0,3,0,3,-", "incomplete missing=10"),
    ];
    for (answers, expected) in cases {
        check("mibsj", answers, expected);
    }
}

#[test]
fn childcare_checklist_flags() {
    let cases = [
        ("0,0,0,0,0,0,0,0,0", "complete"),
        ("1,0,1,0,0,0,0,0,1", "complete flagged=1,3,9"),
        ("1,1,1,1,1,1,1,1,1", "complete flagged=1,2,3,4,5,6,7,8,9"),
        ("1,-,0,0,0,0,0,0,0", "incomplete missing=2 flagged=1"),
        (
            "1,0,0,0,0,0,0,0,2",
            "answer_not_allowed: item 9: answer 2 is not one of 0,1",
        ),
    ];
    for (answers, expected) in cases {
        check("ikuji_checklist", answers, expected);
    }
    let catalog = catalog();
    let checklist = catalog.get("ikuji_checklist").unwrap();
    assert_eq!(checklist.kind(), InstrumentKind::Checklist);
    assert_eq!(checklist.range(), None);
    let result = checklist
        .score(&checklist.parse_answers("1,1,1,1,1,1,1,1,1").unwrap())
        .unwrap();
    assert_eq!(result.total, None, "a checklist never has a total");
}

#[test]
fn catalog_lists_the_shipped_instruments_and_refuses_unknown_keys() {
    let catalog = catalog();
    assert_eq!(
        catalog.keys().collect::<Vec<_>>(),
        [
            "dasc21",
            "dbd13",
            "epds",
            "ikuji_checklist",
            "jzbi8",
            "mibsj"
        ]
    );
    let err = catalog.get("phq9").unwrap_err();
    assert_eq!(err.code(), "unknown_instrument");
    assert_eq!(
        err.to_string(),
        "unknown instrument \"phq9\" (known: dasc21, dbd13, epds, ikuji_checklist, jzbi8, mibsj)"
    );
}

/// key, item count, total range, item texts, programs.
type Shape = (
    &'static str,
    usize,
    Option<(u32, u32)>,
    ItemTexts,
    &'static str,
);

#[test]
fn shipped_definitions_have_the_documented_shape() {
    let catalog = catalog();
    let table: [Shape; 6] = [
        ("epds", 10, Some((0, 30)), ItemTexts::Pending, "infant"),
        (
            "dasc21",
            21,
            Some((21, 84)),
            ItemTexts::Licensed,
            "dementia",
        ),
        ("dbd13", 13, Some((0, 52)), ItemTexts::Pending, "dementia"),
        ("jzbi8", 8, Some((0, 32)), ItemTexts::Licensed, "dementia"),
        ("mibsj", 10, Some((0, 30)), ItemTexts::Pending, "infant"),
        ("ikuji_checklist", 9, None, ItemTexts::Pending, "infant"),
    ];
    for (key, items, range, texts, program) in table {
        let i = catalog.get(key).unwrap();
        assert_eq!(i.items().len(), items, "{key}");
        assert_eq!(i.range().map(|r| (r.min, r.max)), range, "{key}");
        assert_eq!(i.item_texts(), texts, "{key}");
        assert_eq!(i.programs(), [program], "{key}");
        assert_eq!(i.version(), "1", "{key}");
        // No shipped definition carries texts it may not reproduce.
        assert!(i.items().iter().all(|it| it.text_ja.is_none()), "{key}");
    }
    assert_eq!(catalog.get("dasc21").unwrap().intro_items().len(), 2);
    let reversed = |key: &str| -> Vec<u16> {
        let c = catalog.get(key).unwrap();
        c.items()
            .iter()
            .filter(|i| i.reverse)
            .map(|i| i.number)
            .collect()
    };
    assert_eq!(reversed("epds"), [3, 5, 6, 7, 8, 9, 10]);
    assert_eq!(reversed("mibsj"), [1, 6, 8, 10]);
    // EPDS key 0 on a reverse item is worth 3 points.
    let epds = catalog.get("epds").unwrap();
    assert_eq!(epds.item(3).unwrap().choice("0").unwrap().points, 3);
    assert_eq!(epds.item(1).unwrap().choice("0").unwrap().points, 0);
}

#[test]
fn result_names_the_definition_and_round_trips_through_json() {
    let catalog = catalog();
    let epds = catalog.get("epds").unwrap();
    let result = epds
        .score(&epds.parse_answers("0,0,3,-,3,3,3,3,3,2").unwrap())
        .unwrap();
    assert_eq!(result.instrument_key, "epds");
    assert_eq!(result.instrument_version, "1");
    assert_eq!(result.items[3].answer, None);
    assert_eq!(result.items[3].points, None);
    assert_eq!(result.items[2].answer.as_deref(), Some("3"));
    assert_eq!(result.items[2].points, Some(0));
    let json = serde_json::to_string(&result).unwrap();
    let back: ScoreResult = serde_json::from_str(&json).unwrap();
    assert_eq!(back, result);
}

#[test]
fn answers_built_in_code_score_like_typed_answers() {
    let catalog = catalog();
    let epds = catalog.get("epds").unwrap();
    let typed = epds.parse_answers("0,0,3,-,3,3,3,3,3,2").unwrap();
    let numbers = Answers::from(vec![
        Some(0u8),
        Some(0),
        Some(3),
        None,
        Some(3),
        Some(3),
        Some(3),
        Some(3),
        Some(3),
        Some(2),
    ]);
    let strings = Answers::new(vec![
        Some("0"),
        Some("０"),
        Some(" 3 "),
        Some("-"),
        Some("3"),
        Some("3"),
        Some("3"),
        Some("3"),
        Some("3"),
        Some("2"),
    ]);
    assert_eq!(numbers, typed);
    assert_eq!(strings, typed);
    assert_eq!(typed.to_text(), "0,0,3,-,3,3,3,3,3,2");
    assert_eq!(epds.parse_answers(&typed.to_text()).unwrap(), typed);

    // Answers built in code are checked when scored, like typed ones.
    let short = Answers::from(vec![Some(0u8); 3]);
    assert_eq!(
        epds.score(&short).unwrap_err(),
        InstrumentError::WrongAnswerCount {
            expected: 10,
            got: 3
        }
    );
    let mut bad = vec![Some(0u8); 10];
    bad[9] = Some(7);
    assert_eq!(
        epds.score(&Answers::from(bad)).unwrap_err().code(),
        "answer_not_allowed"
    );
}

/// A small valid definition; the validation cases each break one rule of it.
const MINI: &str = r#"
key = "mini"
name_ja = "ミニ"
name_en = "Mini"
version = "1"
licence = "test only"
item_texts = "licensed"
programs = ["csw"]
default_scale = "s"
items = [
  { number = 1 },
  { number = 2, reverse = true },
]

[scales]
s = [
  { key = "0", label_ja = "いいえ", points = 0 },
  { key = "1", label_ja = "はい", points = 1 },
]

[range]
min = 0
max = 2

[[subscales]]
key = "sub"
name_ja = "サブ"
name_en = "Sub"
items = [1, 2]

[[cutoffs]]
key = "high"
min = 2
label_ja = "高"
label_en = "High"

[[alerts]]
key = "watch"
item = 2
min_points = 1
label_ja = "注意"
label_en = "Watch"
"#;

#[test]
fn a_minimal_definition_loads_and_scores() {
    let mini = Instrument::from_toml(MINI).unwrap();
    let score = |text: &str| summary(&mini.score(&mini.parse_answers(text).unwrap()).unwrap());
    // Item 2 is reversed: key 0 gives 1 point.
    assert_eq!(score("0,0"), "total=1 subscales=sub:1 alerts=watch(2:1)");
    assert_eq!(
        score("1,0"),
        "total=2 subscales=sub:2 bands=high alerts=watch(2:1)"
    );
    assert_eq!(score("0,1"), "total=0 subscales=sub:0");
    assert_eq!(
        score("-,0"),
        "incomplete missing=1 subscales=sub:- alerts=watch(2:1)"
    );
}

#[test]
fn invalid_definitions_are_refused_with_the_broken_rule() {
    // (replace this, with that, expected code — the problem code for invalid definitions)
    let cases: &[(&str, &str, &str)] = &[
        ("max = 2", "max = 3", "range_mismatch"),
        ("[range]\nmin = 0\nmax = 2\n", "", "missing_range"),
        (
            "{ number = 2, reverse = true }",
            "{ number = 3 }",
            "item_numbering",
        ),
        ("items = [1, 2]", "items = [1, 7]", "unknown_item"),
        ("items = [1, 2]", "items = [1, 1]", "bad_subscale_items"),
        ("items = [1, 2]", "items = []", "bad_subscale_items"),
        ("item = 2", "item = 9", "unknown_item"),
        ("min_points = 1", "min_points = 5", "unreachable_alert"),
        (
            "default_scale = \"s\"",
            "default_scale = \"t\"",
            "unknown_scale",
        ),
        ("default_scale = \"s\"\n", "", "no_choices"),
        (
            "{ number = 1 }",
            "{ number = 1, scale = \"s\", choices = [] }",
            "ambiguous_choices",
        ),
        (
            "{ number = 1 }",
            "{ number = 1, choices = [] }",
            "no_choices",
        ),
        (
            "key = \"1\", label_ja = \"はい\"",
            "key = \"0\", label_ja = \"はい\"",
            "duplicate_choice_key",
        ),
        (
            "key = \"1\", label_ja = \"はい\"",
            "key = \"-\", label_ja = \"はい\"",
            "invalid_choice_key",
        ),
        (
            "key = \"1\", label_ja = \"はい\"",
            "key = \"1 \", label_ja = \"はい\"",
            "invalid_choice_key",
        ),
        (
            "min = 2\nlabel_ja = \"高\"",
            "min = 3\nlabel_ja = \"高\"",
            "cutoff_out_of_range",
        ),
        (
            "min = 2\nlabel_ja = \"高\"",
            "min = 2\nmax = 1\nlabel_ja = \"高\"",
            "cutoff_out_of_range",
        ),
        (
            "item_texts = \"licensed\"",
            "item_texts = \"included\"",
            "missing_item_text",
        ),
        (
            "{ number = 1 }",
            "{ number = 1, text_ja = \"本文\" }",
            "unexpected_item_text",
        ),
        ("key = \"mini\"", "key = \"Mini!\"", "invalid_key"),
        ("version = \"1\"", "version = \" \"", "empty_field"),
        ("programs = [\"csw\"]", "programs = []", "empty_field"),
        (
            "programs = [\"csw\"]",
            "programs = [\"CSW outreach\"]",
            "invalid_program",
        ),
        (
            "[[cutoffs]]",
            "[[subscales]]\nkey = \"sub\"\nname_ja = \"x\"\nname_en = \"x\"\nitems = [1]\n\n[[cutoffs]]",
            "duplicate_key",
        ),
        (
            "[[alerts]]",
            "[[cutoffs]]\nkey = \"high\"\nmin = 1\nlabel_ja = \"x\"\nlabel_en = \"x\"\n\n[[alerts]]",
            "duplicate_key",
        ),
        (
            "points = 1 }",
            "points = 1, flag = true }",
            "flag_in_scored_instrument",
        ),
        (
            "licence = \"test only\"",
            "licence = \"test only\"\nkind = \"checklist\"",
            "score_field_in_checklist",
        ),
        ("\ns = [\n", "\nt = []\ns = [\n", "empty_scale"),
    ];
    for (from, to, expected) in cases {
        assert!(MINI.contains(from), "case {from:?} does not apply");
        let source = MINI.replacen(from, to, 1);
        match Instrument::from_toml(&source) {
            Err(InstrumentError::InvalidDefinition { key, problem }) => {
                assert_eq!(problem.code(), *expected, "{from:?} → {to:?}: {problem}");
                assert_eq!(
                    key,
                    if *expected == "invalid_key" {
                        "Mini!"
                    } else {
                        "mini"
                    }
                );
            }
            other => panic!("{from:?} → {to:?}: expected {expected}, got {other:?}"),
        }
    }
}

#[test]
fn malformed_definitions_are_syntax_errors() {
    let cases: &[(&str, &str)] = &[
        // A typo in a field name is refused, not ignored.
        ("reverse = true", "revers = true"),
        ("item_texts = \"licensed\"", "item_texts = \"free\""),
        ("points = 1", "points = 300"),
        ("points = 1", "points = -1"),
        ("key = \"mini\"", "key = "),
        ("name_en = \"Mini\"\n", ""),
    ];
    for (from, to) in cases {
        assert!(MINI.contains(from), "case {from:?} does not apply");
        let err = Instrument::from_toml(&MINI.replacen(from, to, 1)).unwrap_err();
        assert_eq!(err.code(), "definition_syntax", "{from:?} → {to:?}: {err}");
    }
}

#[test]
fn checklist_definitions_need_a_flag_choice() {
    let source = r#"
key = "cl"
name_ja = "チェック"
name_en = "Check"
version = "2"
licence = "test only"
item_texts = "included"
kind = "checklist"
programs = ["infant"]
items = [
  { number = 1, text_ja = "一", choices = [{ key = "y", label_ja = "はい", flag = true }, { key = "n", label_ja = "いいえ" }] },
  { number = 2, text_ja = "二", choices = [{ key = "y", label_ja = "はい" }, { key = "n", label_ja = "いいえ", flag = true }] },
]
"#;
    let cl = Instrument::from_toml(source).unwrap();
    // Per-item choices let the risk answer differ by item.
    let r = cl.score(&cl.parse_answers("y,n").unwrap()).unwrap();
    assert_eq!(summary(&r), "complete flagged=1,2");
    let r = cl.score(&cl.parse_answers("n,y").unwrap()).unwrap();
    assert_eq!(summary(&r), "complete");
    assert_eq!(cl.item(2).unwrap().text_ja.as_deref(), Some("二"));

    // Item 2's only flag is its "いいえ" choice; remove it.
    let no_flag = source.replacen(", flag = true }]", " }]", 1);
    assert_eq!(
        Instrument::from_toml(&no_flag).unwrap_err(),
        InstrumentError::InvalidDefinition {
            key: "cl".to_owned(),
            problem: DefinitionProblem::NoFlagChoice(2),
        }
    );
}

fn jzbi8_texts(instrument: &str, version: &str, items: &[&str]) -> String {
    let mut doc = format!("instrument = \"{instrument}\"\nversion = \"{version}\"\n[texts]\n");
    for n in items {
        doc += &format!("{n} = \"（許諾を得た項目{n}の本文）\"\n");
    }
    doc
}

#[test]
fn licensed_texts_import_and_never_change_scoring() {
    let mut catalog = catalog();
    let answers = "1,2,3,4,0,1,2,3";
    let before = {
        let j = catalog.get("jzbi8").unwrap();
        j.score(&j.parse_answers(answers).unwrap()).unwrap()
    };

    let doc = jzbi8_texts("jzbi8", "1", &["1", "2", "3", "4", "5", "6", "7", "8"]);
    let imported = catalog.import_item_texts(&doc).unwrap();
    assert!(imported.texts_imported());
    assert_eq!(
        imported.item(3).unwrap().text_ja.as_deref(),
        Some("（許諾を得た項目3の本文）")
    );
    assert!(imported.items().iter().all(|i| i.text_ja.is_some()));
    let after = imported
        .score(&imported.parse_answers(answers).unwrap())
        .unwrap();
    assert_eq!(after, before);

    // JSON works too, directly on an instrument.
    let mut dasc = InstrumentCatalog::builtin().get("dasc21").unwrap().clone();
    let texts: serde_json::Map<String, serde_json::Value> = (1..=21)
        .map(|n| (n.to_string(), serde_json::Value::from(format!("項目{n}"))))
        .collect();
    let json = serde_json::json!({"instrument": "dasc21", "version": "1", "texts": texts});
    dasc.import_item_texts(&json.to_string()).unwrap();
    assert_eq!(dasc.item(21).unwrap().text_ja.as_deref(), Some("項目21"));
}

#[test]
fn text_imports_that_do_not_match_are_refused_and_change_nothing() {
    let all = ["1", "2", "3", "4", "5", "6", "7", "8"];
    let cases: Vec<(String, &str)> = vec![
        (
            jzbi8_texts("epds", "1", &all),
            "import_instrument_mismatch: item texts are for instrument \"epds\", not \"jzbi8\"",
        ),
        (
            jzbi8_texts("jzbi8", "2", &all),
            "import_version_mismatch: item texts are for version \"2\" of \"jzbi8\", but the definition is version \"1\"",
        ),
        (
            jzbi8_texts("jzbi8", "1", &all[..7]),
            "import_items_mismatch: item texts must cover exactly items 1..=8: missing [8], unknown []",
        ),
        (
            jzbi8_texts("jzbi8", "1", &["1", "2", "3", "4", "5", "6", "7", "8", "9"]),
            "import_items_mismatch: item texts must cover exactly items 1..=8: missing [], unknown [\"9\"]",
        ),
        (
            jzbi8_texts("jzbi8", "1", &["01", "2", "3", "4", "5", "6", "7", "8"]),
            "import_items_mismatch: item texts must cover exactly items 1..=8: missing [1], unknown [\"01\"]",
        ),
        (
            jzbi8_texts("jzbi8", "1", &all).replace("（許諾を得た項目5の本文）", " "),
            "import_empty_text: item text import: item 5 has an empty text",
        ),
    ];
    for (doc, expected) in cases {
        let mut jzbi8 = InstrumentCatalog::builtin().get("jzbi8").unwrap().clone();
        let pristine = jzbi8.clone();
        let err = jzbi8.import_item_texts(&doc).unwrap_err();
        assert_eq!(format!("{}: {err}", err.code()), expected);
        assert_eq!(jzbi8, pristine, "a refused import changes nothing");
    }

    let mut jzbi8 = InstrumentCatalog::builtin().get("jzbi8").unwrap().clone();
    for garbage in [
        "instrument = ",
        "{\"instrument\": 1}",
        "instrument = \"jzbi8\"\nversion = \"1\"\n",
    ] {
        assert_eq!(
            jzbi8.import_item_texts(garbage).unwrap_err().code(),
            "import_syntax",
            "{garbage:?}"
        );
    }
    let mut catalog = catalog();
    assert_eq!(
        catalog
            .import_item_texts(&jzbi8_texts("zbi22", "1", &all))
            .unwrap_err()
            .code(),
        "unknown_instrument"
    );
}

#[test]
fn a_municipal_definition_replaces_the_shipped_one() {
    let mut catalog = catalog();
    let own = Instrument::from_toml(&MINI.replacen("key = \"mini\"", "key = \"epds\"", 1)).unwrap();
    let previous = catalog.insert(own).expect("replaced the shipped EPDS");
    assert_eq!(previous.items().len(), 10);
    assert_eq!(catalog.get("epds").unwrap().items().len(), 2);
}

proptest! {
    /// Any complete answer set: the total is the exact sum of the item points and lies in
    /// the declared range; subscales are exact sums of their items.
    #[test]
    fn complete_totals_are_exact_sums_within_range(picks in proptest::collection::vec(0usize..8, 21)) {
        let catalog = catalog();
        for instrument in catalog.iter().filter(|i| i.kind() == InstrumentKind::Score) {
            let keys: Vec<Option<&str>> = instrument
                .items()
                .iter()
                .zip(&picks)
                .map(|(item, pick)| Some(item.choices[pick % item.choices.len()].key.as_str()))
                .collect();
            let result = instrument.score(&Answers::new(keys)).unwrap();
            let sum: u32 = result.items.iter().map(|i| u32::from(i.points.unwrap())).sum();
            let range = instrument.range().unwrap();
            prop_assert!(result.complete);
            prop_assert_eq!(result.total, Some(sum));
            prop_assert!((range.min..=range.max).contains(&sum), "{} total {}", instrument.key(), sum);
            for (def, got) in instrument.subscales().iter().zip(&result.subscales) {
                let expected: u32 = def.items.iter().map(|&n| u32::from(result.items[usize::from(n) - 1].points.unwrap())).sum();
                prop_assert_eq!(got.total, Some(expected));
            }
        }
    }

    /// Any answer set with at least one missing answer has no total and no cut-off band.
    #[test]
    fn a_missing_answer_never_gives_a_total(picks in proptest::collection::vec(0usize..8, 21), hole in 0usize..21) {
        let catalog = catalog();
        for instrument in catalog.iter() {
            let n = instrument.items().len();
            let keys: Vec<Option<&str>> = instrument
                .items()
                .iter()
                .zip(&picks)
                .enumerate()
                .map(|(i, (item, pick))| (i != hole % n).then(|| item.choices[pick % item.choices.len()].key.as_str()))
                .collect();
            let result = instrument.score(&Answers::new(keys)).unwrap();
            prop_assert!(!result.complete);
            prop_assert_eq!(result.total, None);
            prop_assert!(result.bands.is_empty());
            prop_assert_eq!(result.missing_items, vec![u16::try_from(hole % n + 1).unwrap()]);
        }
    }
}

/// Asserts that `message` is whole Japanese: no ASCII letter outside 「」 (which quote what
/// the user typed or a name written in a file), and a full sentence ending in 。.
#[track_caller]
fn assert_whole_japanese(message: &str) {
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

/// Bad answers, definitions and imports: each refusal has its code, the field a form marks
/// (answers and instrument; files have none) and a message in whole Japanese.
#[test]
fn every_refusal_has_a_code_a_field_and_whole_japanese() {
    let catalog = catalog();
    let epds = catalog.get("epds").unwrap();
    let jzbi8 = || catalog.get("jzbi8").unwrap().clone();
    let all = ["1", "2", "3", "4", "5", "6", "7", "8"];
    let import = |doc: String| jzbi8().import_item_texts(&doc).map(|_| ());
    let define = |source: String| Instrument::from_toml(&source).map(|_| ());
    let cases: Vec<(Result<(), InstrumentError>, &str, Option<&str>)> = vec![
        (
            catalog.get("phq9").map(|_| ()),
            "unknown_instrument",
            Some("instrument"),
        ),
        (
            epds.parse_answers("0,1,2").map(|_| ()),
            "wrong_answer_count",
            Some("answers"),
        ),
        (
            epds.parse_answers("0,0,7,0,0,0,0,0,0,0").map(|_| ()),
            "answer_not_allowed",
            Some("answers"),
        ),
        (
            epds.parse_answers("0,0,1 2,0,0,0,0,0,0,0").map(|_| ()),
            "invalid_answer_text",
            Some("answers"),
        ),
        (
            define(MINI.replacen("reverse = true", "revers = true", 1)),
            "definition_syntax",
            None,
        ),
        (
            define(MINI.replacen("[range]\nmin = 0\nmax = 2\n", "", 1)),
            "invalid_definition",
            None,
        ),
        (
            define(MINI.replacen("max = 2", "max = 3", 1)),
            "invalid_definition",
            None,
        ),
        (import("instrument = ".into()), "import_syntax", None),
        (
            import(jzbi8_texts("epds", "1", &all)),
            "import_instrument_mismatch",
            None,
        ),
        (
            import(jzbi8_texts("jzbi8", "2", &all)),
            "import_version_mismatch",
            None,
        ),
        (
            import(jzbi8_texts(
                "jzbi8",
                "1",
                &["1", "2", "3", "4", "5", "6", "7", "09"],
            )),
            "import_items_mismatch",
            None,
        ),
        (
            import(jzbi8_texts("jzbi8", "1", &all).replace("（許諾を得た項目5の本文）", " ")),
            "import_empty_text",
            None,
        ),
    ];
    for (result, code, field) in cases {
        let e = result.expect_err(code);
        assert_eq!(e.code(), code, "{e}");
        assert_eq!(e.field(), field, "{code}: {e}");
        assert_whole_japanese(&e.message_ja());
    }

    // What the worker reads, word for word.
    let ja = |text: &str| epds.parse_answers(text).unwrap_err().message_ja();
    assert_eq!(
        ja("0,0,7,0,0,0,0,0,0,0"),
        "項目3の回答「7」は選べません（選べる回答: 0, 1, 2, 3）。"
    );
    assert_eq!(
        ja("0,0,0,0,0,0,0,0,0"),
        "回答の数が違います（10項目に対して9件）。未回答の項目は「-」としてください。"
    );
    // IT is pointed at the line of the file that does not parse (MINI opens with an empty
    // line, so `version` is on line 5).
    let broken = MINI.replacen("version = \"1\"", "version = ", 1);
    let e = Instrument::from_toml(&broken).unwrap_err();
    assert_eq!(
        e.message_ja(),
        "評価票の定義ファイルの5行目を読み取れません。書き方の誤りや、使えない項目名がないか確認してください。"
    );
}

// Definitions IT imports are untrusted text (issue 23, with fuzz/fuzz_targets/instrument.rs):
// any text is a definition or an error with a code and a Japanese message, never a panic.

/// The shipped definitions' sources, as IT would start from them.
fn shipped_sources() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("instruments");
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    out.sort();
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn instrument_definition_never_panics_on_arbitrary_text(text in "\\PC{0,400}") {
        if let Err(e) = Instrument::from_toml(&text) {
            prop_assert!(!e.code().is_empty());
            prop_assert!(!e.message_ja().is_empty());
        }
    }

    /// A shipped definition with a stretch replaced by arbitrary text, or cut short, is a
    /// definition or an error, never a panic; the shipped text itself still parses.
    #[test]
    fn damaged_instrument_definitions_never_panic(
        which in any::<proptest::sample::Index>(),
        at in any::<proptest::sample::Index>(),
        len in 0usize..40,
        insert in "[\\PC\n]{0,20}",
    ) {
        let sources = shipped_sources();
        let source = &sources[which.index(sources.len())];
        prop_assert!(Instrument::from_toml(source).is_ok());
        let chars: Vec<char> = source.chars().collect();
        let start = at.index(chars.len());
        let end = (start + len).min(chars.len());
        let damaged: String = chars[..start]
            .iter()
            .chain(insert.chars().collect::<Vec<_>>().iter())
            .chain(chars[end..].iter())
            .collect();
        let _ = Instrument::from_toml(&damaged);
        let cut: String = chars[..start].iter().collect();
        let _ = Instrument::from_toml(&cut);
    }

    /// Answers typed against any shipped instrument, and an item-text import of any text:
    /// a result or an error, never a panic; a refused import changes nothing.
    #[test]
    fn typed_answers_and_text_imports_never_panic(
        which in any::<proptest::sample::Index>(),
        typed in "[0-9０-９,、\\- a-zA-Z\\PC]{0,80}",
    ) {
        let c = catalog();
        let keys: Vec<&str> = c.keys().collect();
        let instrument = c.get(keys[which.index(keys.len())]).unwrap();
        if let Ok(answers) = instrument.parse_answers(&typed) {
            prop_assert_eq!(answers.len(), instrument.items().len());
            let _ = instrument.score(&answers);
        }
        let mut imported = instrument.clone();
        if imported.import_item_texts(&typed).is_err() {
            prop_assert_eq!(&imported, instrument);
        }
    }
}
