//! Table-driven tests of the validated domain model: configuration, text, person, household,
//! contact, plan lifecycle, meetings, consent and disclosure, and serde refusing bad stored data.

use chrono::{DateTime, FixedOffset, NaiveDate};
use proptest::prelude::*;
use serde_json::json;
use tsunagi_core::DomainError;
use tsunagi_core::config::{Config, ConfigError, Period};
use tsunagi_core::consent::{
    Consent, ConsentFields, ConsentId, ConsentMethod, Disclosure, DisclosureRequest, Evidence,
    LegalBasis,
};
use tsunagi_core::contact::{Contact, ContactChannel, ContactFields, ContactOutcome};
use tsunagi_core::household::{Household, HouseholdFields, HouseholdMember, Relation};
use tsunagi_core::ids::{AssessmentId, PersonId};
use tsunagi_core::meeting::{FollowUp, Meeting, MeetingFields, MeetingId, MeetingKind};
use tsunagi_core::person::{
    AgeBand, BirthInfo, Kana, Person, PersonFields, PersonName, PersonStatus, Phone, Sex,
    parse_date,
};
use tsunagi_core::plan::{Plan, PlanState};
use tsunagi_core::text::{Note, ShortText, normalize};
use uuid::Uuid;

// ---------------------------------------------------------------- helpers

/// Renders a result as `ok <value>` or `err <code>: <message>`, so one table row states the
/// whole expectation.
fn render<T, E: std::fmt::Display>(
    r: Result<T, E>,
    ok: impl Fn(T) -> String,
    code: impl Fn(&E) -> &str,
) -> String {
    match r {
        Ok(v) => format!("ok {}", ok(v)),
        Err(e) => format!("err {}: {e}", code(&e)),
    }
}

fn dom<T>(r: Result<T, DomainError>, ok: impl Fn(T) -> String) -> String {
    render(r, ok, |e| e.code())
}

/// Asserts that `actual` starts with `expected` (the message tail may carry details).
#[track_caller]
fn check(actual: String, expected: &str) {
    assert!(
        actual.starts_with(expected),
        "\n  expected: {expected}\n  actual:   {actual}"
    );
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn at(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

fn pid(n: u128) -> PersonId {
    PersonId::from_uuid(Uuid::from_u128(n))
}

fn mid(n: u128) -> MeetingId {
    MeetingId::from_uuid(Uuid::from_u128(n))
}

fn short(s: &str) -> ShortText {
    ShortText::parse("text", s).unwrap()
}

fn today() -> NaiveDate {
    date("2025-06-01")
}

// ---------------------------------------------------------------- configuration

#[test]
fn fujisawa_has_thirteen_districts_and_every_code_and_name_resolves() {
    let c = Config::fujisawa();
    assert_eq!(c.municipality(), "藤沢市");
    let table = [
        ("katase", "片瀬"),
        ("kugenuma", "鵠沼"),
        ("tsujido", "辻堂"),
        ("muraoka", "村岡"),
        ("fujisawa", "藤沢"),
        ("meiji", "明治"),
        ("zengyo", "善行"),
        ("shonan-oba", "湘南大庭"),
        ("mutsuai", "六会"),
        ("shonandai", "湘南台"),
        ("endo", "遠藤"),
        ("chogo", "長後"),
        ("goshomi", "御所見"),
    ];
    assert_eq!(c.districts().len(), table.len());
    for (code, name) in table {
        let by_code = c.district(code).unwrap();
        let by_name = c.district(name).unwrap();
        assert_eq!(by_code, by_name, "{code} / {name}");
        assert_eq!(by_code.code(), code);
        assert_eq!(c.district_name(&by_code), Some(name));
        assert_eq!(c.district(&format!(" {name}地区 ")).unwrap(), by_code);
        assert!(
            c.districts()
                .iter()
                .any(|d| d.name_ja() == name && !d.kana().is_empty())
        );
    }
}

#[test]
fn district_lookup() {
    let c = Config::fujisawa();
    let cases = [
        ("katase", "ok katase"),
        ("KATASE", "ok katase"),
        ("ｋａｔａｓｅ", "ok katase"),
        ("　湘南大庭　", "ok shonan-oba"),
        ("SHONAN-OBA", "ok shonan-oba"),
        (
            "江の島",
            "err unknown_district: unknown district \"江の島\" (known: 片瀬, 鵠沼, 辻堂",
        ),
        ("", "err choice_empty: invalid district: nothing chosen"),
    ];
    for (input, expected) in cases {
        check(dom(c.district(input), |d| d.code().to_owned()), expected);
    }
    let err = c.district("横浜").unwrap_err().to_string();
    for d in c.districts() {
        assert!(err.contains(d.name_ja()), "{err} lacks {}", d.name_ja());
    }
}

#[test]
fn program_lookup() {
    let c = Config::fujisawa();
    let cases = [
        ("csw", "ok csw"),
        ("CSW", "ok csw"),
        ("コミュニティソーシャルワーカー", "ok csw"),
        ("dementia", "ok dementia"),
        ("認知症初期集中支援チーム", "ok dementia"),
        ("infant", "ok infant"),
        ("こんにちは赤ちゃん訪問", "ok infant"),
        ("乳児家庭全戸訪問", "ok infant"),
        (
            "elderly",
            "err unknown_program: unknown program \"elderly\" (known: csw (コミュニティソーシャルワーカー), dementia (認知症初期集中支援チーム), infant (こんにちは赤ちゃん訪問))",
        ),
    ];
    for (input, expected) in cases {
        check(dom(c.program(input), |p| p.code().to_owned()), expected);
    }
}

#[test]
fn program_deadlines_are_data() {
    let c = Config::fujisawa();
    let due = |program: &str, key: &str, anchor: &str| {
        let p = c.program(program).unwrap();
        let d = c.program_info(&p).unwrap().deadline(key).unwrap().clone();
        (d.period(), d.due(date(anchor)).unwrap().to_string())
    };
    let cases = [
        (
            "dementia",
            "first_visit",
            "2024-04-01",
            Period::Days(4),
            "2024-04-05",
        ),
        (
            "dementia",
            "intensive_support_end",
            "2024-04-01",
            Period::Months(6),
            "2024-10-01",
        ),
        (
            "dementia",
            "post_handover_check",
            "2024-10-15",
            Period::Months(2),
            "2024-12-15",
        ),
        (
            "infant",
            "visit",
            "2024-01-31",
            Period::Months(4),
            "2024-05-31",
        ),
        (
            "infant",
            "visit",
            "2023-10-31",
            Period::Months(4),
            "2024-02-29",
        ),
    ];
    for (program, key, anchor, period, expected) in cases {
        assert_eq!(
            due(program, key, anchor),
            (period, expected.to_owned()),
            "{program}/{key}"
        );
    }
    let csw = c.program("csw").unwrap();
    assert!(c.program_info(&csw).unwrap().deadlines().is_empty());
}

#[test]
fn trust_stages() {
    let c = Config::fujisawa();
    let labels: Vec<_> = c
        .trust_stages()
        .iter()
        .map(|s| (s.stage().level(), s.label_ja()))
        .collect();
    assert_eq!(
        labels,
        [
            (0, "未接触"),
            (1, "存在を知ってもらえた"),
            (2, "短い会話ができる"),
            (3, "相談できる関係"),
            (4, "支援につながった")
        ]
    );
    let cases = [
        ("0", "ok 0 未接触"),
        ("4", "ok 4 支援につながった"),
        ("相談できる関係", "ok 3 相談できる関係"),
        (
            "5",
            "err unknown_trust_stage: unknown trust stage \"5\" (known: 0 未接触, 1 存在を知ってもらえた",
        ),
        ("とても仲良し", "err unknown_trust_stage"),
    ];
    for (input, expected) in cases {
        let r = c.parse_trust_stage(input);
        check(
            dom(r, |s| {
                format!("{} {}", s.level(), c.trust_stage_label(s).unwrap())
            }),
            expected,
        );
    }
    assert!(c.trust_stage(4).is_ok());
    assert_eq!(c.trust_stage(5).unwrap_err().code(), "unknown_trust_stage");
}

const SMALL: &str = r#"
municipality = "テスト市"
[[districts]]
code = "a"
name_ja = "甲"
kana = "こう"
[[programs]]
key = "csw"
label_ja = "CSW"
[[trust_stages]]
level = 0
label_ja = "未接触"
"#;

#[test]
fn config_validation() {
    let cases: &[(&str, &str, &str)] = &[
        ("", "", "ok"),
        ("code = \"a\"", "code = \"A b\"", "err invalid_code"),
        ("name_ja = \"甲\"", "name_ja = \"  \"", "err empty"),
        ("level = 0", "level = 1", "err stage_levels"),
        (
            "municipality = \"テスト市\"",
            "municipality = \"\"",
            "err empty",
        ),
        ("kana = \"こう\"", "kana = \"こう\"\nzone = 1", "err parse"),
        (
            "[[programs]]",
            "[[districts]]\ncode = \"b\"\nname_ja = \"甲\"\nkana = \"こう\"\n[[programs]]",
            "err duplicate",
        ),
        (
            "[[programs]]",
            "[[districts]]\ncode = \"a\"\nname_ja = \"乙\"\nkana = \"おつ\"\n[[programs]]",
            "err duplicate",
        ),
        (
            "label_ja = \"CSW\"",
            "label_ja = \"CSW\"\n[[programs.deadlines]]\nkey = \"v\"\nlabel_ja = \"訪問\"\nanchor = \"birth\"\ndays = 1\nmonths = 1",
            "err deadline",
        ),
        (
            "label_ja = \"CSW\"",
            "label_ja = \"CSW\"\n[[programs.deadlines]]\nkey = \"v\"\nlabel_ja = \"訪問\"\nanchor = \"birth\"\ndays = 0",
            "err deadline",
        ),
        (
            "label_ja = \"未接触\"",
            "label_ja = \"未接触\"\n[[trust_stages]]\nlevel = 1\nlabel_ja = \"未接触\"",
            "err duplicate",
        ),
        (
            "label_ja = \"未接触\"",
            "label_ja = \"未接触\"\n[[trust_stages]]\nlevel = 2\nlabel_ja = \"会話\"",
            "err stage_levels",
        ),
        (
            "label_ja = \"未接触\"",
            "label_ja = \"未接触\"\n[[trust_stages]]\nlevel = 1\nlabel_ja = \"会話\"",
            "ok",
        ),
    ];
    for (from, to, expected) in cases {
        let text = SMALL.replacen(from, to, 1);
        let got = match Config::from_toml(&text) {
            Ok(_) => "ok".to_owned(),
            Err(e) => format!(
                "err {}",
                match e {
                    ConfigError::Parse(_) => "parse",
                    ConfigError::Empty { .. } => "empty",
                    ConfigError::InvalidCode { .. } => "invalid_code",
                    ConfigError::Duplicate { .. } => "duplicate",
                    ConfigError::StageLevels { .. } => "stage_levels",
                    ConfigError::Deadline { .. } => "deadline",
                    _ => "other",
                }
            ),
        };
        assert_eq!(got, *expected, "replacing {from:?} with {to:?}");
    }
    let no_districts = "municipality = \"x\"\ndistricts = []\nprograms = []\ntrust_stages = []";
    assert!(matches!(
        Config::from_toml(no_districts),
        Err(ConfigError::Empty { .. })
    ));
}

// ---------------------------------------------------------------- text

#[test]
fn text_fields() {
    let cases = [
        (Note::parse("note", "").map(|n| n.to_string()), "ok "),
        (
            Note::parse("note", "  一行目\r\n二行目\t続き  ").map(|n| n.to_string()),
            "ok 一行目\n二行目\t続き",
        ),
        (
            Note::parse("note", &"あ".repeat(20_000)).map(|_| String::new()),
            "ok ",
        ),
        (
            Note::parse("note", &"あ".repeat(20_001)).map(|_| String::new()),
            "err text_too_long: invalid note: 20001 characters, at most 20000 allowed",
        ),
        (
            Note::parse("note", "ベル\u{7}").map(|_| String::new()),
            "err text_forbidden_char: invalid note: contains the control character U+0007",
        ),
        (
            ShortText::parse("address", "藤沢市朝日町１－１").map(|t| t.to_string()),
            "ok 藤沢市朝日町1-1",
        ),
        (
            ShortText::parse("address", "").map(|t| t.to_string()),
            "err text_empty: invalid address: must not be empty",
        ),
        (
            ShortText::parse("address", "一行\n二行").map(|t| t.to_string()),
            "err text_multiline: invalid address: must be a single line",
        ),
        (
            ShortText::parse("address", &"a".repeat(201)).map(|t| t.to_string()),
            "err text_too_long: invalid address: 201 characters, at most 200 allowed",
        ),
        (
            ShortText::parse("address", "abc\u{202E}def").map(|t| t.to_string()),
            "err text_forbidden_char: invalid address: contains the direction override U+202E",
        ),
    ];
    for (r, expected) in cases {
        check(dom(r, |s| s), expected);
    }
    assert_eq!(normalize("  ｶﾀｶﾅ　ＡＢＣ１ "), "カタカナ ABC1");
}

// ---------------------------------------------------------------- person fields

#[test]
fn dates() {
    let cases = [
        ("2024-04-01", "ok 2024-04-01"),
        ("2024/04/01", "ok 2024-04-01"),
        ("2024/4/1", "ok 2024-04-01"),
        ("２０２４－０４－０１", "ok 2024-04-01"),
        ("2024年4月1日", "ok 2024-04-01"),
        ("2024-02-29", "ok 2024-02-29"),
        (
            "2024-02-30",
            "err date_no_such_day: invalid date: \"2024-02-30\" (2024-02 has 29 days, there is no day 30)",
        ),
        (
            "2023-02-29",
            "err date_no_such_day: invalid date: \"2023-02-29\" (2023-02 has 28 days",
        ),
        (
            "2024-04-31",
            "err date_no_such_day: invalid date: \"2024-04-31\" (2024-04 has 30 days",
        ),
        (
            "2024-13-01",
            "err date_no_such_month: invalid date: \"2024-13-01\" (there is no month 13)",
        ),
        (
            "2024-00-10",
            "err date_no_such_month: invalid date: \"2024-00-10\" (there is no month 0)",
        ),
        (
            "24-04-01",
            "err date_malformed: invalid date: \"24-04-01\" (expected YYYY-MM-DD)",
        ),
        ("2024-04-01x", "err date_malformed"),
        ("", "err date_malformed"),
        ("昨日", "err date_malformed"),
    ];
    for (input, expected) in cases {
        check(dom(parse_date("date", input), |d| d.to_string()), expected);
    }
}

#[test]
fn birth_info() {
    let cases = [
        ("1944-05-01", "ok Date(1944-05-01)"),
        ("2025-06-01", "ok Date(2025-06-01)"),
        (
            "2025-06-02",
            "err birth_in_future: invalid birth date: \"2025-06-02\" (is in the future (today is 2025-06-01))",
        ),
        (
            "1899-12-31",
            "err birth_too_early: invalid birth date: \"1899-12-31\" (is before 1900-01-01)",
        ),
        ("80代", "ok AgeBand(AgeBand(80))"),
        ("80s", "ok AgeBand(AgeBand(80))"),
        ("８０代", "ok AgeBand(AgeBand(80))"),
        ("85代", "err age_band_invalid: invalid age band: \"85代\""),
        ("130s", "err age_band_invalid: invalid age band: \"130s\""),
        ("代", "err age_band_invalid"),
    ];
    for (input, expected) in cases {
        check(
            dom(BirthInfo::parse(input, today()), |b| format!("{b:?}")),
            expected,
        );
    }
    let b = BirthInfo::parse("1944-06-02", today()).unwrap();
    assert_eq!(b.age_on(today()), Some(80));
    assert_eq!(AgeBand::new(40).unwrap().decade(), 40);
}

#[test]
fn names_kana_phone() {
    let cases = [
        (
            PersonName::parse("山田　太郎").map(|n| n.to_string()),
            "ok 山田 太郎",
        ),
        (
            PersonName::parse("  山田   太郎 ").map(|n| n.to_string()),
            "ok 山田 太郎",
        ),
        (PersonName::parse("ﾔﾏﾀﾞ").map(|n| n.to_string()), "ok ヤマダ"),
        (
            PersonName::parse("").map(|n| n.to_string()),
            "err text_empty: invalid name: must not be empty",
        ),
        (
            PersonName::parse("　").map(|n| n.to_string()),
            "err text_empty",
        ),
        (
            PersonName::parse("山田\n太郎").map(|n| n.to_string()),
            "err text_multiline",
        ),
        (
            PersonName::parse("山田\u{0}").map(|n| n.to_string()),
            "err text_forbidden_char",
        ),
        (
            PersonName::parse(&"山".repeat(101)).map(|n| n.to_string()),
            "err text_too_long",
        ),
        (
            Kana::parse("やまだ たろう").map(|k| k.to_string()),
            "ok やまだ たろう",
        ),
        (
            Kana::parse("ヤマダ　タロウ").map(|k| k.to_string()),
            "ok ヤマダ タロウ",
        ),
        (Kana::parse("ｽｽﾞｷ").map(|k| k.to_string()), "ok スズキ"),
        (
            Kana::parse("メアリー・スミス").map(|k| k.to_string()),
            "ok メアリー・スミス",
        ),
        (
            Kana::parse("山田").map(|k| k.to_string()),
            "err not_kana: invalid kana: '山' is not kana",
        ),
        (
            Kana::parse("やまだ太郎").map(|k| k.to_string()),
            "err not_kana: invalid kana: '太' is not kana",
        ),
        (
            Kana::parse("yamada").map(|k| k.to_string()),
            "err not_kana: invalid kana: 'y' is not kana",
        ),
        (Kana::parse("").map(|k| k.to_string()), "err text_empty"),
        (
            Phone::parse("0466-25-1111").map(|p| p.to_string()),
            "ok 0466-25-1111",
        ),
        (
            Phone::parse("０４６６（２５）１１１１").map(|p| p.to_string()),
            "ok 0466(25)1111",
        ),
        (
            Phone::parse("+81 466 25 1111").map(|p| p.to_string()),
            "ok +81 466 25 1111",
        ),
        (
            Phone::parse("0466-25-1111 内線3").map(|p| p.to_string()),
            "err phone_invalid_char: invalid phone: '内' is not allowed",
        ),
        (
            Phone::parse("81+466").map(|p| p.to_string()),
            "err phone_plus_not_first",
        ),
        (
            Phone::parse("--").map(|p| p.to_string()),
            "err phone_too_few_digits",
        ),
    ];
    for (r, expected) in cases {
        check(dom(r, |s| s), expected);
    }
}

/// Every closed choice parses from its key and its label, serializes as its key, and refuses
/// anything else with the allowed keys listed.
#[test]
fn choices_by_key_and_label() {
    fn all<T>(
        all: &[T],
        key: fn(T) -> &'static str,
        label: fn(T) -> &'static str,
        parse: fn(&str) -> Result<T, DomainError>,
    ) where
        T: Copy + PartialEq + std::fmt::Debug + serde::Serialize + serde::de::DeserializeOwned,
    {
        for &v in all {
            assert_eq!(parse(key(v)).unwrap(), v);
            assert_eq!(parse(&key(v).to_uppercase()).unwrap(), v);
            assert_eq!(parse(label(v)).unwrap(), v);
            assert_eq!(serde_json::to_value(v).unwrap(), json!(key(v)));
            assert_eq!(serde_json::from_value::<T>(json!(key(v))).unwrap(), v);
            assert!(
                serde_json::from_value::<T>(json!(label(v))).is_err(),
                "stored labels are refused"
            );
        }
        let err = parse("nonsense").unwrap_err();
        assert_eq!(err.code(), "invalid_choice");
        for &v in all {
            assert!(err.to_string().contains(key(v)), "{err} lacks {}", key(v));
        }
    }
    all(
        ContactChannel::ALL,
        ContactChannel::key,
        ContactChannel::label_ja,
        ContactChannel::parse,
    );
    all(
        ContactOutcome::ALL,
        ContactOutcome::key,
        ContactOutcome::label_ja,
        ContactOutcome::parse,
    );
    all(
        PersonStatus::ALL,
        PersonStatus::key,
        PersonStatus::label_ja,
        PersonStatus::parse,
    );
    all(Sex::ALL, Sex::key, Sex::label_ja, Sex::parse);
    all(
        Relation::ALL,
        Relation::key,
        Relation::label_ja,
        Relation::parse,
    );
    all(
        MeetingKind::ALL,
        MeetingKind::key,
        MeetingKind::label_ja,
        MeetingKind::parse,
    );
    all(
        PlanState::ALL,
        PlanState::key,
        PlanState::label_ja,
        PlanState::parse,
    );
    all(
        ConsentMethod::ALL,
        ConsentMethod::key,
        ConsentMethod::label_ja,
        ConsentMethod::parse,
    );
}

#[test]
fn channels_and_outcomes() {
    let channels = [
        ("visit", "ok visit"),
        ("訪問", "ok visit"),
        ("電話", "ok phone"),
        ("置き手紙", "ok letter"),
        ("手紙・置き手紙", "ok letter"),
        ("office-visit", "ok office_visit"),
        ("来所", "ok office_visit"),
        ("同行", "ok accompany"),
        ("関係機関経由", "ok via_agency"),
        ("地域住民経由", "ok via_resident"),
        ("メール", "ok email"),
        (
            "fax",
            "err invalid_choice: invalid channel: \"fax\" (allowed: visit (訪問), phone (電話), letter (手紙・置き手紙), email (メール), office_visit (来所), accompany (同行), via_agency (関係機関経由), via_resident (地域住民経由))",
        ),
    ];
    for (input, expected) in channels {
        check(
            dom(ContactChannel::parse(input), |c| c.to_string()),
            expected,
        );
    }
    let outcomes = [
        ("met", "ok met"),
        ("会えた", "ok met"),
        ("不在", "ok not_home"),
        ("not-home", "ok not_home"),
        ("ドア越し", "ok through_door"),
        ("拒否", "ok refused"),
        ("家族と話した", "ok family"),
        ("手紙を置いた", "ok letter_left"),
        ("第三者から情報", "ok third_party"),
        (
            "留守",
            "err invalid_choice: invalid outcome: \"留守\" (allowed: met (会えた), not_home (不在)",
        ),
    ];
    for (input, expected) in outcomes {
        check(
            dom(ContactOutcome::parse(input), |c| c.to_string()),
            expected,
        );
    }
}

// ---------------------------------------------------------------- person

fn person_fields() -> PersonFields {
    let c = Config::fujisawa();
    let mut f = PersonFields::new(
        PersonName::parse("山田 太郎").unwrap(),
        c.district("鵠沼").unwrap(),
        c.program("csw").unwrap(),
    );
    f.kana = Some(Kana::parse("やまだ たろう").unwrap());
    f.birth = Some(BirthInfo::parse("80代", today()).unwrap());
    f.phone = Some(Phone::parse("0466-00-0000").unwrap());
    f.risk_flags = vec![short("セルフネグレクト")];
    f
}

#[test]
fn person_rules() {
    let c = Config::fujisawa();
    type Edit = Box<dyn Fn(&mut PersonFields)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        ("valid", Box::new(|_| {}), "ok"),
        (
            "no program",
            Box::new(|f| f.programs.clear()),
            "err person_without_program: a person needs at least one program",
        ),
        (
            "duplicate program",
            Box::new(|f| f.programs.push(f.programs[0].clone())),
            "err duplicate_value: programs: csw appears more than once",
        ),
        (
            "two programs",
            Box::new(|f| {
                f.programs
                    .push(Config::fujisawa().program("dementia").unwrap())
            }),
            "ok",
        ),
        (
            "duplicate flag",
            Box::new(|f| f.risk_flags.push(short("セルフネグレクト"))),
            "err duplicate_value: risk flags: セルフネグレクト appears more than once",
        ),
    ];
    for (name, edit, expected) in cases {
        let mut f = person_fields();
        edit(&mut f);
        let got = dom(Person::new(f), |p| {
            p.check_config(&c).unwrap();
            String::new()
        });
        assert!(
            got.starts_with(expected),
            "{name}: expected {expected}, got {got}"
        );
    }
}

#[test]
fn person_serde_round_trip_and_refusals() {
    let p = Person::new(person_fields()).unwrap();
    let v = serde_json::to_value(&p).unwrap();
    assert_eq!(v["district"], json!("kugenuma"));
    assert_eq!(v["programs"], json!(["csw"]));
    assert_eq!(v["status"], json!("intake"));
    assert_eq!(v["birth"], json!("80s"));
    let back: Person = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(back, p);

    let edits: &[(&str, serde_json::Value, &str)] = &[
        ("name", json!(""), "invalid name: must not be empty"),
        ("name", json!("  "), "must not be empty"),
        ("kana", json!("山田"), "is not kana"),
        ("status", json!("支援中"), "unknown variant"),
        ("status", json!("deleted"), "unknown variant"),
        ("district", json!("Katase!"), "invalid district code"),
        ("programs", json!([]), "at least one program"),
        ("programs", json!(["csw", "csw"]), "more than once"),
        ("birth", json!("2024-02-30"), "no day 30"),
        ("birth", json!("1850-01-01"), "before 1900"),
        ("phone", json!("call me"), "phone"),
        ("memo", json!("a\u{1b}[31m"), "control character"),
        ("household", json!("not-a-uuid"), ""),
        ("surprise", json!(1), "unknown field"),
    ];
    for (field, value, expected) in edits {
        let mut bad = v.clone();
        bad[*field] = value.clone();
        let err = serde_json::from_value::<Person>(bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{field}={value}: {err}");
    }

    // Stored values only the configuration can judge are checked against it.
    let mut atlantis = v.clone();
    atlantis["district"] = json!("atlantis");
    let p: Person = serde_json::from_value(atlantis).unwrap();
    check(
        dom(p.check_config(&Config::fujisawa()), |_| String::new()),
        "err unknown_district",
    );
}

// ---------------------------------------------------------------- household

#[test]
fn household_rules() {
    let m = |n, r| HouseholdMember {
        person: pid(n),
        relation: r,
        note: None,
    };
    let cases = [
        (
            vec![m(1, Relation::Principal), m(2, Relation::Parent)],
            "ok 2",
        ),
        (vec![m(2, Relation::Parent)], "ok 1"),
        (
            vec![],
            "err household_without_member: a household needs at least one member",
        ),
        (
            vec![m(1, Relation::Principal), m(1, Relation::Child)],
            "err household_member_twice",
        ),
        (
            vec![m(1, Relation::Principal), m(2, Relation::Principal)],
            "err household_two_principals: a household has at most one 本人",
        ),
    ];
    for (members, expected) in cases {
        let h = Household::new(HouseholdFields {
            address: None,
            members,
        });
        check(dom(h, |h| h.members().len().to_string()), expected);
    }
    let mut h = Household::new(HouseholdFields {
        address: None,
        members: vec![m(1, Relation::Principal)],
    })
    .unwrap();
    assert!(h.add_member(m(1, Relation::Child)).is_err());
    h.add_member(m(2, Relation::Parent)).unwrap();
    assert_eq!(h.member(pid(2)).unwrap().relation, Relation::Parent);
    h.remove_member(pid(2)).unwrap();
    assert!(h.remove_member(pid(1)).is_err(), "the last member stays");
    let bad = json!({"address": null, "members": [
        {"person": pid(1).to_string(), "relation": "principal", "note": null},
        {"person": pid(1).to_string(), "relation": "child", "note": null}]});
    assert!(serde_json::from_value::<Household>(bad).is_err());
}

// ---------------------------------------------------------------- contact

#[test]
fn contact_rules() {
    let base = || {
        ContactFields::new(
            pid(1),
            at("2025-06-01T10:30:00+09:00"),
            vec![short("佐藤")],
            ContactChannel::Visit,
            ContactOutcome::Met,
        )
    };
    type Edit = Box<dyn Fn(&mut ContactFields)>;
    let cases: Vec<(Edit, &str)> = vec![
        (Box::new(|_| {}), "ok"),
        (
            Box::new(|f| f.staff.clear()),
            "err contact_without_staff: a contact needs at least one staff member",
        ),
        (
            Box::new(|f| f.staff.push(short("佐藤"))),
            "err duplicate_value: staff: 佐藤 appears more than once",
        ),
        (Box::new(|f| f.staff.push(short("鈴木"))), "ok"),
        (Box::new(|f| f.next_due = Some(date("2025-06-01"))), "ok"),
        (
            Box::new(|f| f.next_due = Some(date("2025-05-31"))),
            "err next_due_before_contact: invalid next due: \"2025-05-31\" (is before the contact's date 2025-06-01)",
        ),
        (
            Box::new(|f| f.letter_text = Some(Note::parse("letter", "また来ます").unwrap())),
            "err letter_text_without_letter: a letter text",
        ),
        (
            Box::new(|f| {
                f.outcome = ContactOutcome::LetterLeft;
                f.letter_text = Some(Note::parse("letter", "また来ます").unwrap());
            }),
            "ok",
        ),
        (
            Box::new(|f| {
                f.channel = ContactChannel::Letter;
                f.outcome = ContactOutcome::NotHome;
                f.letter_text = Some(Note::parse("letter", "お元気ですか").unwrap());
            }),
            "ok",
        ),
        (
            Box::new(|f| {
                f.channel = ContactChannel::Phone;
                f.outcome = ContactOutcome::ThroughDoor;
            }),
            "err through_door_needs_visit: outcome through_door does not fit channel phone",
        ),
        (
            Box::new(|f| {
                f.channel = ContactChannel::Phone;
                f.outcome = ContactOutcome::LetterLeft;
            }),
            "err letter_left_needs_visit_or_letter: outcome letter_left does not fit channel phone",
        ),
        (
            Box::new(|f| {
                let a = AssessmentId::from_uuid(Uuid::from_u128(9));
                f.assessments = vec![a, a];
            }),
            "err duplicate_value: assessments: 00000000-0000-0000-0000-000000000009 appears more than once",
        ),
    ];
    for (edit, expected) in cases {
        let mut f = base();
        edit(&mut f);
        check(dom(Contact::new(f), |_| String::new()), expected);
    }
}

#[test]
fn quick_not_home_letter() {
    let when = at("2025-06-01T18:05:00+09:00");
    let c = Contact::quick_not_home_letter(pid(1), when, vec![short("佐藤")])
        .unwrap()
        .with_letter_text(Note::parse("letter", "佐藤です。また来週伺います。").unwrap())
        .unwrap()
        .with_next(Some(short("再訪問")), Some(date("2025-06-08")))
        .unwrap()
        .with_stage(Config::fujisawa().trust_stage(1).unwrap())
        .unwrap();
    assert_eq!(c.channel(), ContactChannel::Visit);
    assert_eq!(c.outcome(), ContactOutcome::LetterLeft);
    assert!(!c.met_person());
    assert_eq!(c.date(), date("2025-06-01"));
    c.check_config(&Config::fujisawa()).unwrap();
    assert!(Contact::quick_not_home_letter(pid(1), when, vec![]).is_err());
    assert!(c.clone().with_next(None, Some(date("2025-05-01"))).is_err());

    // The local date counts: 00:30 in Japan is still the previous day in UTC.
    let late = Contact::quick_not_home_letter(
        pid(1),
        at("2025-06-02T00:30:00+09:00"),
        vec![short("佐藤")],
    )
    .unwrap();
    assert!(late.with_next(None, Some(date("2025-06-02"))).is_ok());

    let v = serde_json::to_value(&c).unwrap();
    assert_eq!(serde_json::from_value::<Contact>(v.clone()).unwrap(), c);
    let mut bad = v.clone();
    bad["next_due"] = json!("2025-01-01");
    assert!(serde_json::from_value::<Contact>(bad).is_err());
    let mut bad = v;
    bad["staff"] = json!([]);
    assert!(serde_json::from_value::<Contact>(bad).is_err());
}

// ---------------------------------------------------------------- plan

#[test]
fn plan_transition_table() {
    use PlanState::*;
    let j = "ok jushoteki";
    // (from, to) -> expected; every pair not listed must be refused.
    let allowed = [
        (Draft, Active, j),
        (Draft, Discarded, "ok none"),
        (Active, Replanned, j),
        (Active, Closed, j),
        (Active, Interrupted, j),
        (Replanned, Replanned, j),
        (Replanned, Closed, j),
        (Replanned, Interrupted, j),
    ];
    for &from in PlanState::ALL {
        for &to in PlanState::ALL {
            let expected = allowed
                .iter()
                .find(|(f, t, _)| *f == from && *t == to)
                .map_or(
                    "err invalid_transition: a plan cannot go from".to_owned(),
                    |(_, _, e)| e.to_string(),
                );
            let got = dom(from.check_transition(to), |m| {
                m.map_or("none".into(), |k| k.key().to_owned())
            });
            check(got, &expected);
        }
    }
}

#[test]
fn plan_lifecycle_tracks_meetings() {
    let goal = vec![short("週1回の外出")];
    let mut empty = Plan::draft(pid(1), vec![], vec![], None);
    check(
        dom(
            empty.transition(PlanState::Active, date("2025-04-01")),
            |_| String::new(),
        ),
        "err plan_without_goal: a plan needs at least one goal",
    );

    let mut p = Plan::draft(pid(1), goal, vec![], Some(date("2025-07-01")));
    let t = p.transition(PlanState::Active, date("2025-04-01")).unwrap();
    assert_eq!(t.needs_meeting, Some(MeetingKind::Jushoteki));
    assert_eq!(p.pending_meetings().len(), 1);
    check(
        dom(p.record_meeting(0, MeetingKind::Shien, mid(1)), |_| {
            String::new()
        }),
        "err plan_wrong_meeting_kind: draft → active needs a 重層的支援会議",
    );
    check(
        dom(p.record_meeting(5, MeetingKind::Jushoteki, mid(1)), |_| {
            String::new()
        }),
        "err plan_no_such_transition: the plan has no transition number 5",
    );
    p.record_meeting(0, MeetingKind::Jushoteki, mid(1)).unwrap();
    p.record_meeting(0, MeetingKind::Jushoteki, mid(1)).unwrap();
    assert!(p.record_meeting(0, MeetingKind::Jushoteki, mid(2)).is_err());
    assert!(p.pending_meetings().is_empty());

    p.transition(PlanState::Replanned, date("2025-07-01"))
        .unwrap();
    p.transition(PlanState::Replanned, date("2025-10-01"))
        .unwrap();
    check(
        dom(p.transition(PlanState::Closed, date("2025-09-30")), |_| {
            String::new()
        }),
        "err transition_before_previous: invalid transition date: \"2025-09-30\" (is before the previous transition on 2025-10-01)",
    );
    check(
        dom(p.transition(PlanState::Active, date("2025-12-01")), |_| {
            String::new()
        }),
        "err invalid_transition: a plan cannot go from re_planned to active",
    );
    assert!(p.set_goals(vec![]).is_err());
    p.transition(PlanState::Closed, date("2026-01-15")).unwrap();
    let pending: Vec<_> = p
        .pending_meetings()
        .iter()
        .map(|(i, t)| (*i, t.to))
        .collect();
    assert_eq!(
        pending,
        [
            (1, PlanState::Replanned),
            (2, PlanState::Replanned),
            (3, PlanState::Closed)
        ]
    );
    assert!(
        p.set_review_on(None).is_err(),
        "closed plans are not edited"
    );
    check(
        dom(
            p.transition(PlanState::Interrupted, date("2026-02-01")),
            |_| String::new(),
        ),
        "err invalid_transition",
    );

    let mut d = Plan::draft(pid(2), vec![], vec![], None);
    let t = d
        .transition(PlanState::Discarded, date("2025-04-01"))
        .unwrap();
    assert_eq!(t.needs_meeting, None);
    assert!(d.record_meeting(0, MeetingKind::Jushoteki, mid(1)).is_err());

    // Stored plans are replayed: a tampered state or history does not load.
    let v = serde_json::to_value(&p).unwrap();
    assert_eq!(serde_json::from_value::<Plan>(v.clone()).unwrap(), p);
    let tamper: &[(&str, serde_json::Value)] = &[
        ("/state", json!("active")),
        ("/history/1/transition/from", json!("draft")),
        ("/history/1/transition/needs_meeting", json!(null)),
        ("/history/2/transition/at", json!("2025-01-01")),
        ("/goals", json!([])),
    ];
    for (pointer, value) in tamper {
        let mut bad = v.clone();
        *bad.pointer_mut(pointer).unwrap() = value.clone();
        assert!(
            serde_json::from_value::<Plan>(bad).is_err(),
            "{pointer} = {value}"
        );
    }
}

// ---------------------------------------------------------------- meeting

#[test]
fn meeting_rules() {
    let base = || MeetingFields {
        kind: MeetingKind::Shien,
        date: date("2025-05-20"),
        agencies: vec![short("藤沢市福祉総務課"), short("地域包括支援センター")],
        persons: vec![pid(1)],
        decisions: Note::empty(),
        follow_ups: vec![],
    };
    type Edit = Box<dyn Fn(&mut MeetingFields)>;
    let cases: Vec<(Edit, &str)> = vec![
        (Box::new(|_| {}), "ok"),
        (
            Box::new(|f| f.agencies.clear()),
            "err meeting_without_agency",
        ),
        (
            Box::new(|f| f.agencies.push(short("地域包括支援センター"))),
            "err duplicate_value: agencies: 地域包括支援センター appears more than once",
        ),
        (
            Box::new(|f| f.persons.push(pid(1))),
            "err duplicate_value: persons:",
        ),
        (
            Box::new(|f| {
                f.follow_ups.push(FollowUp {
                    task: short("訪問"),
                    owner: None,
                    due: Some(date("2025-05-19")),
                })
            }),
            "err follow_up_due_before_meeting",
        ),
        (
            Box::new(|f| {
                f.follow_ups.push(FollowUp {
                    task: short("訪問"),
                    owner: None,
                    due: Some(date("2025-05-20")),
                })
            }),
            "ok",
        ),
    ];
    for (edit, expected) in cases {
        let mut f = base();
        edit(&mut f);
        check(dom(Meeting::new(f), |_| String::new()), expected);
    }
    let kinds: Vec<_> = MeetingKind::ALL
        .iter()
        .filter(|k| k.shares_without_consent())
        .collect();
    assert_eq!(kinds, [&MeetingKind::Shien]);
}

// ---------------------------------------------------------------- consent and disclosure

fn consent(expires: Option<&str>, withdrawn: Option<&str>) -> Result<Consent, DomainError> {
    Consent::new(ConsentFields {
        person: pid(1),
        scope: vec![short("地域包括支援センター")],
        method: ConsentMethod::Written,
        given_on: date("2025-04-01"),
        expires_on: expires.map(date),
        withdrawn_on: withdrawn.map(date),
    })
}

#[test]
fn consent_activity() {
    let cases = [
        (None, None, "2025-03-31", "ok false"),
        (None, None, "2025-04-01", "ok true"),
        (None, None, "2035-04-01", "ok true"),
        (Some("2026-03-31"), None, "2026-03-31", "ok true"),
        (Some("2026-03-31"), None, "2026-04-01", "ok false"),
        (None, Some("2025-05-01"), "2025-04-30", "ok true"),
        (None, Some("2025-05-01"), "2025-05-01", "ok false"),
        (
            Some("2025-04-01"),
            None,
            "2025-04-01",
            "err consent_expiry_not_after_given: invalid expires on",
        ),
        (
            Some("2025-03-01"),
            None,
            "2025-04-01",
            "err consent_expiry_not_after_given",
        ),
        (
            None,
            Some("2025-03-31"),
            "2025-04-01",
            "err consent_withdrawn_before_given: invalid withdrawn on",
        ),
    ];
    for (expires, withdrawn, on, expected) in cases {
        check(
            dom(consent(expires, withdrawn), |c| {
                c.is_active(date(on)).to_string()
            }),
            expected,
        );
    }
    let mut c = consent(None, None).unwrap();
    c.withdraw(date("2025-06-01")).unwrap();
    assert!(c.is_active(date("2025-05-31")));
    assert!(!c.is_active(date("2025-06-01")));
    assert!(
        consent(None, None)
            .unwrap()
            .withdraw(date("2025-01-01"))
            .is_err()
    );
    let bad = json!({"person": pid(1).to_string(), "scope": [], "method": "oral",
        "given_on": "2025-04-01", "expires_on": null, "withdrawn_on": null});
    assert!(serde_json::from_value::<Consent>(bad).is_err());
}

#[test]
fn disclosure_needs_a_basis() {
    let cid = ConsentId::from_uuid(Uuid::from_u128(7));
    let c = consent(Some("2026-03-31"), None).unwrap();
    let other = Consent::new(ConsentFields {
        person: pid(2),
        ..c.fields().clone()
    })
    .unwrap();
    let meeting = |kind| {
        Meeting::new(MeetingFields {
            kind,
            date: date("2025-05-20"),
            agencies: vec![short("藤沢市福祉総務課"), short("保健所")],
            persons: vec![pid(1)],
            decisions: Note::empty(),
            follow_ups: vec![],
        })
        .unwrap()
    };
    let shien = meeting(MeetingKind::Shien);
    let jushoteki = meeting(MeetingKind::Jushoteki);
    let req = |to: &str, when: &str| DisclosureRequest {
        person: pid(1),
        what: Note::parse("what", "訪問記録の要約").unwrap(),
        to: short(to),
        at: at(when),
    };
    let cases: Vec<(DisclosureRequest, Option<Evidence<'_>>, &str)> = vec![
        (
            req("地域包括支援センター", "2025-06-01T10:00:00+09:00"),
            None,
            "err disclosure_without_basis: disclosure refused: no legal basis",
        ),
        (
            req("地域包括支援センター", "2025-06-01T10:00:00+09:00"),
            Some(Evidence::Consent(cid, &c)),
            "ok consent",
        ),
        (
            req("保健所", "2025-06-01T10:00:00+09:00"),
            Some(Evidence::Consent(cid, &c)),
            "err disclosure_consent_not_covering: disclosure refused: the consent does not cover 保健所",
        ),
        (
            req("地域包括支援センター", "2026-04-01T10:00:00+09:00"),
            Some(Evidence::Consent(cid, &c)),
            "err disclosure_consent_not_active: disclosure refused: the consent is not active",
        ),
        (
            req("地域包括支援センター", "2025-06-01T10:00:00+09:00"),
            Some(Evidence::Consent(cid, &other)),
            "err disclosure_consent_of_another_person: disclosure refused: the consent is another person's",
        ),
        (
            req("保健所", "2025-06-01T10:00:00+09:00"),
            Some(Evidence::SupportMeeting(mid(3), &shien)),
            "ok support_meeting",
        ),
        (
            req("保健所", "2025-05-19T10:00:00+09:00"),
            Some(Evidence::SupportMeeting(mid(3), &shien)),
            "err disclosure_meeting_not_yet_held: disclosure refused: the meeting on 2025-05-20 had not been held yet",
        ),
        (
            req("警察", "2025-06-01T10:00:00+09:00"),
            Some(Evidence::SupportMeeting(mid(3), &shien)),
            "err disclosure_recipient_not_member: disclosure refused: 警察 is not a member",
        ),
        (
            req("保健所", "2025-06-01T10:00:00+09:00"),
            Some(Evidence::SupportMeeting(mid(3), &jushoteki)),
            "err disclosure_meeting_needs_consent: disclosure refused: a 重層的支援会議 (jushoteki) shares only with consent",
        ),
        (
            DisclosureRequest {
                person: pid(2),
                ..req("保健所", "2025-06-01T10:00:00+09:00")
            },
            Some(Evidence::SupportMeeting(mid(3), &shien)),
            "err disclosure_meeting_other_person: disclosure refused: the meeting did not discuss this person",
        ),
    ];
    for (request, evidence, expected) in cases {
        let got = dom(Disclosure::authorize(request, evidence), |d| {
            match d.basis() {
                LegalBasis::Consent(id) => {
                    assert_eq!(id, cid);
                    "consent".into()
                }
                LegalBasis::SupportMeeting(id) => {
                    assert_eq!(id, mid(3));
                    "support_meeting".into()
                }
            }
        });
        check(got, expected);
    }

    let d = Disclosure::authorize(
        req("保健所", "2025-06-01T10:00:00+09:00"),
        Some(Evidence::SupportMeeting(mid(3), &shien)),
    )
    .unwrap();
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!(
        v["basis"],
        json!({"kind": "support_meeting", "id": mid(3).to_string()})
    );
    assert_eq!(serde_json::from_value::<Disclosure>(v.clone()).unwrap(), d);
    let mut no_basis = v;
    no_basis.as_object_mut().unwrap().remove("basis");
    assert!(
        serde_json::from_value::<Disclosure>(no_basis).is_err(),
        "a stored disclosure needs a basis"
    );
}

// ---------------------------------------------------------------- errors for the app

/// Asserts that `message` is whole Japanese: no ASCII letter outside 「」 (which quote the
/// user's own input), and a full sentence ending in 。.
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

/// Bad input through the public parsers and constructors: each refusal has its own code, names
/// the field a form should mark, and says in whole Japanese what to fix.
#[test]
fn every_refusal_has_a_code_a_field_and_whole_japanese() {
    use tsunagi_core::change::EntityKind;
    use tsunagi_core::hlc::Hlc;
    use tsunagi_core::plan::{PlanEvent, PlanFields, Transition};
    let c = Config::fujisawa();
    fn ok<T>(_: T) {}
    let contact = |edit: &dyn Fn(&mut ContactFields)| {
        let mut f = ContactFields::new(
            pid(1),
            at("2026-01-10T10:30:00+09:00"),
            vec![short("佐藤")],
            ContactChannel::Visit,
            ContactOutcome::Met,
        );
        edit(&mut f);
        Contact::new(f).map(ok)
    };
    let person = |edit: &dyn Fn(&mut PersonFields)| {
        let mut f = person_fields();
        edit(&mut f);
        Person::new(f).map(ok)
    };
    let household = |members: &[(u128, Relation)]| {
        Household::new(HouseholdFields {
            address: None,
            members: members
                .iter()
                .map(|&(n, relation)| HouseholdMember {
                    person: pid(n),
                    relation,
                    note: None,
                })
                .collect(),
        })
        .map(ok)
    };
    let meeting = |edit: &dyn Fn(&mut MeetingFields)| {
        let mut f = MeetingFields {
            kind: MeetingKind::Shien,
            date: date("2025-05-20"),
            agencies: vec![short("保健所")],
            persons: vec![pid(1)],
            decisions: Note::empty(),
            follow_ups: vec![],
        };
        edit(&mut f);
        Meeting::new(f)
    };
    let shien = meeting(&|_| {}).unwrap();
    let case_response = meeting(&|f| f.kind = MeetingKind::CaseResponse).unwrap();
    let given = consent(None, None).unwrap();
    let other = Consent::new(ConsentFields {
        person: pid(2),
        ..given.fields().clone()
    })
    .unwrap();
    let disclose = |to: &str, when: &str, evidence| {
        let request = DisclosureRequest {
            person: pid(1),
            what: Note::parse("what", "訪問記録の要約").unwrap(),
            to: short(to),
            at: at(when),
        };
        Disclosure::authorize(request, evidence).map(|_| ())
    };
    let cid = ConsentId::from_uuid(Uuid::from_u128(7));
    let june = "2025-06-01T10:00:00+09:00";
    let goal = || vec![short("週1回の外出")];
    let mut active = Plan::draft(pid(1), goal(), vec![], None);
    active
        .transition(PlanState::Active, date("2025-04-01"))
        .unwrap();
    let mut recorded = active.clone();
    recorded
        .record_meeting(0, MeetingKind::Jushoteki, mid(1))
        .unwrap();
    let mut closed = active.clone();
    closed
        .transition(PlanState::Closed, date("2025-09-01"))
        .unwrap();
    let mut discarded = Plan::draft(pid(1), vec![], vec![], None);
    discarded
        .transition(PlanState::Discarded, date("2025-04-01"))
        .unwrap();
    let step = |from, to, at: &str, needs_meeting, meeting| PlanEvent {
        transition: Transition {
            from,
            to,
            at: date(at),
            needs_meeting,
        },
        meeting,
    };
    let stored_plan = |state, history: Vec<PlanEvent>| {
        Plan::new(PlanFields {
            person: pid(1),
            goals: goal(),
            roles: vec![],
            review_on: None,
            state,
            history,
        })
        .map(ok)
    };
    let j = Some(MeetingKind::Jushoteki);
    use PlanState::{Active, Closed, Discarded, Draft};

    let cases: Vec<(Result<(), DomainError>, &str, Option<&str>)> = vec![
        (PersonName::parse(" ").map(ok), "text_empty", Some("name")),
        (
            PersonName::parse("山田\n太郎").map(ok),
            "text_multiline",
            Some("name"),
        ),
        (
            PersonName::parse(&"山".repeat(101)).map(ok),
            "text_too_long",
            Some("name"),
        ),
        (
            ShortText::parse("address", "朝日町\u{202E}1-1").map(ok),
            "text_forbidden_char",
            Some("address"),
        ),
        (
            Note::parse("memo", "a\u{1b}[31m").map(ok),
            "text_forbidden_char",
            Some("memo"),
        ),
        (Kana::parse("Aやまだ").map(ok), "not_kana", Some("kana")),
        (
            Phone::parse("0466-25-1111 内線3").map(ok),
            "phone_invalid_char",
            Some("phone"),
        ),
        (
            Phone::parse("81+466").map(ok),
            "phone_plus_not_first",
            Some("phone"),
        ),
        (
            Phone::parse("--").map(ok),
            "phone_too_few_digits",
            Some("phone"),
        ),
        (
            parse_date("next_due", "2024-02-30").map(ok),
            "date_no_such_day",
            Some("next_due"),
        ),
        (
            parse_date("expires_on", "2024-13-01").map(ok),
            "date_no_such_month",
            Some("expires_on"),
        ),
        (
            parse_date("given_on", "yesterday").map(ok),
            "date_malformed",
            Some("given_on"),
        ),
        (
            BirthInfo::parse("2999-01-01", today()).map(ok),
            "birth_in_future",
            Some("birth"),
        ),
        (
            BirthInfo::parse("1850-01-01", today()).map(ok),
            "birth_too_early",
            Some("birth"),
        ),
        (
            BirthInfo::parse("85s", today()).map(ok),
            "age_band_invalid",
            Some("birth"),
        ),
        (
            BirthInfo::parse("2024-02-30", today()).map(ok),
            "date_no_such_day",
            Some("birth"),
        ),
        (
            c.district("東京").map(ok),
            "unknown_district",
            Some("district"),
        ),
        (c.district(" ").map(ok), "choice_empty", Some("district")),
        (
            c.program("nursing").map(ok),
            "unknown_program",
            Some("programs"),
        ),
        (
            c.parse_trust_stage("9").map(ok),
            "unknown_trust_stage",
            Some("stage"),
        ),
        (
            ContactChannel::parse("fax").map(ok),
            "invalid_choice",
            Some("channel"),
        ),
        (
            ContactOutcome::parse("").map(ok),
            "choice_empty",
            Some("outcome"),
        ),
        (Sex::parse("X").map(ok), "invalid_choice", Some("sex")),
        (
            PersonStatus::parse("deleted").map(ok),
            "invalid_choice",
            Some("status"),
        ),
        (
            Relation::parse("uncle").map(ok),
            "invalid_choice",
            Some("relation"),
        ),
        (
            MeetingKind::parse("coffee").map(ok),
            "invalid_choice",
            Some("kind"),
        ),
        (
            ConsentMethod::parse("fax").map(ok),
            "invalid_choice",
            Some("method"),
        ),
        (
            PlanState::parse("done").map(ok),
            "invalid_choice",
            Some("state"),
        ),
        (
            PersonId::parse("not-an-id").map(ok),
            "invalid_id",
            Some("person"),
        ),
        (
            EntityKind::parse("invoice").map(ok),
            "unknown_entity_kind",
            None,
        ),
        (
            Hlc::parse_sortable("yesterday").map(ok),
            "hlc_malformed",
            None,
        ),
        (
            person(&|f| f.programs.clear()),
            "person_without_program",
            Some("programs"),
        ),
        (
            person(&|f| f.risk_flags.push(short("セルフネグレクト"))),
            "duplicate_value",
            Some("risk_flags"),
        ),
        (household(&[]), "household_without_member", Some("members")),
        (
            household(&[(1, Relation::Principal), (1, Relation::Child)]),
            "household_member_twice",
            Some("members"),
        ),
        (
            household(&[(1, Relation::Principal), (2, Relation::Principal)]),
            "household_two_principals",
            Some("members"),
        ),
        (
            contact(&|f| f.staff.clear()),
            "contact_without_staff",
            Some("staff"),
        ),
        (
            contact(&|f| f.staff.push(short("佐藤"))),
            "duplicate_value",
            Some("staff"),
        ),
        (
            contact(&|f| f.next_due = Some(date("2026-01-05"))),
            "next_due_before_contact",
            Some("next_due"),
        ),
        (
            contact(&|f| f.letter_text = Some(Note::parse("letter_text", "また来ます").unwrap())),
            "letter_text_without_letter",
            Some("letter_text"),
        ),
        (
            contact(&|f| {
                f.channel = ContactChannel::Phone;
                f.outcome = ContactOutcome::ThroughDoor;
            }),
            "through_door_needs_visit",
            Some("outcome"),
        ),
        (
            contact(&|f| {
                f.channel = ContactChannel::Email;
                f.outcome = ContactOutcome::LetterLeft;
            }),
            "letter_left_needs_visit_or_letter",
            Some("outcome"),
        ),
        (
            Consent::new(ConsentFields {
                scope: vec![],
                ..given.fields().clone()
            })
            .map(ok),
            "consent_without_scope",
            Some("scope"),
        ),
        (
            consent(Some("2025-04-01"), None).map(ok),
            "consent_expiry_not_after_given",
            Some("expires_on"),
        ),
        (
            given.clone().withdraw(date("2025-03-31")),
            "consent_withdrawn_before_given",
            Some("withdrawn_on"),
        ),
        (
            meeting(&|f| f.agencies.clear()).map(ok),
            "meeting_without_agency",
            Some("agencies"),
        ),
        (
            meeting(&|f| {
                f.follow_ups.push(FollowUp {
                    task: short("訪問"),
                    owner: None,
                    due: Some(date("2025-05-19")),
                })
            })
            .map(ok),
            "follow_up_due_before_meeting",
            Some("follow_ups"),
        ),
        (
            Active.check_transition(Draft).map(ok),
            "invalid_transition",
            Some("state"),
        ),
        (
            Plan::draft(pid(1), vec![], vec![], None)
                .transition(Active, date("2025-04-01"))
                .map(ok),
            "plan_without_goal",
            Some("goals"),
        ),
        (
            active.clone().set_goals(vec![]),
            "plan_without_goal",
            Some("goals"),
        ),
        (
            active
                .clone()
                .transition(Closed, date("2025-03-01"))
                .map(ok),
            "transition_before_previous",
            Some("date"),
        ),
        (closed.clone().set_goals(goal()), "plan_not_editable", None),
        (
            active
                .clone()
                .record_meeting(5, MeetingKind::Jushoteki, mid(1)),
            "plan_no_such_transition",
            None,
        ),
        (
            active.clone().record_meeting(0, MeetingKind::Shien, mid(1)),
            "plan_wrong_meeting_kind",
            Some("meeting"),
        ),
        (
            recorded
                .clone()
                .record_meeting(0, MeetingKind::Jushoteki, mid(2)),
            "plan_meeting_already_recorded",
            Some("meeting"),
        ),
        (
            discarded.record_meeting(0, MeetingKind::Jushoteki, mid(1)),
            "plan_step_needs_no_meeting",
            None,
        ),
        (
            stored_plan(Closed, vec![step(Draft, Active, "2025-04-01", j, None)]),
            "plan_history_state_mismatch",
            None,
        ),
        (
            stored_plan(Active, vec![step(Active, Closed, "2025-04-01", j, None)]),
            "plan_history_out_of_step",
            None,
        ),
        (
            stored_plan(Active, vec![step(Draft, Active, "2025-04-01", None, None)]),
            "plan_history_wrong_meeting_requirement",
            None,
        ),
        (
            stored_plan(
                Discarded,
                vec![step(Draft, Discarded, "2025-04-01", None, Some(mid(1)))],
            ),
            "plan_history_unneeded_meeting",
            None,
        ),
        (
            stored_plan(
                Closed,
                vec![
                    step(Draft, Active, "2025-04-01", j, None),
                    step(Active, Closed, "2025-03-01", j, None),
                ],
            ),
            "plan_history_not_in_date_order",
            None,
        ),
        (
            disclose("地域包括支援センター", june, None),
            "disclosure_without_basis",
            None,
        ),
        (
            disclose(
                "地域包括支援センター",
                june,
                Some(Evidence::Consent(cid, &other)),
            ),
            "disclosure_consent_of_another_person",
            Some("consent"),
        ),
        (
            disclose(
                "地域包括支援センター",
                "2025-03-01T10:00:00+09:00",
                Some(Evidence::Consent(cid, &given)),
            ),
            "disclosure_consent_not_active",
            Some("consent"),
        ),
        (
            disclose("csw-south", june, Some(Evidence::Consent(cid, &given))),
            "disclosure_consent_not_covering",
            Some("consent"),
        ),
        (
            disclose(
                "保健所",
                june,
                Some(Evidence::SupportMeeting(mid(3), &case_response)),
            ),
            "disclosure_meeting_needs_consent",
            Some("meeting"),
        ),
        (
            disclose(
                "保健所",
                "2025-05-19T10:00:00+09:00",
                Some(Evidence::SupportMeeting(mid(3), &shien)),
            ),
            "disclosure_meeting_not_yet_held",
            Some("meeting"),
        ),
        (
            disclose(
                "Police",
                june,
                Some(Evidence::SupportMeeting(mid(3), &shien)),
            ),
            "disclosure_recipient_not_member",
            Some("meeting"),
        ),
    ];
    for (result, code, field) in cases {
        let e = result.expect_err(code);
        assert_eq!(e.code(), code, "{e}");
        assert_eq!(e.field(), field, "{code}: {e}");
        assert!(!e.to_string().is_empty());
        assert_whole_japanese(&e.message_ja());
    }

    // What the worker reads, word for word, for a few of them.
    let ja = |r: Result<(), DomainError>| r.unwrap_err().message_ja();
    assert_eq!(
        ja(PersonName::parse("").map(ok)),
        "氏名を入力してください。"
    );
    assert_eq!(
        ja(Kana::parse("Aやまだ").map(ok)),
        "ふりがなはひらがなかカタカナで入力してください（「A」は使えません）。"
    );
    assert_eq!(
        ja(parse_date("birth", "2024-02-30").map(ok)),
        "生年月日「2024-02-30」は存在しない日付です（2024年2月は29日までです）。"
    );
    assert_eq!(
        ja(contact(&|f| f.next_due = Some(date("2026-01-05")))),
        "次回予定日（2026年1月5日）が訪問・接触の日（2026年1月10日）より前になっています。"
    );
    assert_eq!(
        ja(ContactChannel::parse("fax").map(ok)),
        "接触方法「fax」は選べません（選べるもの: 訪問、電話、手紙・置き手紙、メール、来所、同行、関係機関経由、地域住民経由）。"
    );
    assert!(
        ja(disclose(
            "保健所",
            june,
            Some(Evidence::SupportMeeting(mid(3), &case_response))
        ))
        .contains("同意なしで提供できるのは支援会議だけです")
    );
}

// ---------------------------------------------------------------- properties

proptest! {
    /// What a parser accepts it accepts again unchanged: otherwise a stored value would not
    /// load back (serde re-parses on read).
    #[test]
    fn parsers_are_idempotent(s in "\\PC{0,40}") {
        if let Ok(n) = PersonName::parse(&s) {
            prop_assert_eq!(PersonName::parse(n.as_str()).unwrap(), n);
        }
        if let Ok(t) = ShortText::parse("text", &s) {
            prop_assert_eq!(ShortText::parse("text", t.as_str()).unwrap(), t);
        }
        let note = Note::parse("note", &s).unwrap();
        prop_assert_eq!(Note::parse("note", note.as_str()).unwrap(), note);
    }

    #[test]
    fn every_real_date_round_trips(days in 0i64..80_000) {
        let d = date("1900-01-01") + chrono::Duration::days(days);
        prop_assert_eq!(parse_date("date", &d.to_string()).unwrap(), d);
        prop_assert_eq!(parse_date("date", &d.format("%Y/%-m/%-d").to_string()).unwrap(), d);
    }
}
