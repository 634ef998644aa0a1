//! The 対象者 (person) record and its validated fields: name, kana, birth (date or age band),
//! sex, phone, status; plus the date parser every date field uses.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::fmt;

use crate::DomainError;
use crate::config::{Config, District, Program};
use crate::ids::HouseholdId;
use crate::text::{Note, ShortText, choice_enum, ensure_unique, normalize, one_line};

/// Parses a calendar date: `YYYY-MM-DD`, `YYYY/MM/DD` or `YYYY年M月D日`, in any width (NFKC),
/// with or without leading zeros. A date that does not exist (2024-02-30) is refused with the
/// reason, so a typo is caught where it is made.
pub fn parse_date(field: &'static str, s: &str) -> Result<NaiveDate, DomainError> {
    let value = || s.to_owned();
    let n = normalize(s);
    let unified = n.replace(['/', '年', '月'], "-");
    let unified = unified.strip_suffix('日').unwrap_or(&unified);
    let parts: Vec<&str> = unified.split('-').collect();
    let shape_ok = parts.len() == 3
        && parts[0].len() == 4
        && (1..=2).contains(&parts[1].len())
        && (1..=2).contains(&parts[2].len())
        && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()));
    let malformed = || DomainError::DateMalformed {
        field,
        value: value(),
    };
    if !shape_ok {
        return Err(malformed());
    }
    // Each part is 1–4 ASCII digits, so these parses cannot fail.
    let y: i32 = parts[0].parse().map_err(|_| malformed())?;
    let m: u32 = parts[1].parse().map_err(|_| malformed())?;
    let d: u32 = parts[2].parse().map_err(|_| malformed())?;
    if !(1..=12).contains(&m) {
        return Err(DomainError::DateNoSuchMonth {
            field,
            value: value(),
            month: m,
        });
    }
    NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| DomainError::DateNoSuchDay {
        field,
        value: value(),
        year: y,
        month: m,
        day: d,
        days_in_month: days_in_month(y, m),
    })
}

fn days_in_month(y: i32, m: u32) -> u32 {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    NaiveDate::from_ymd_opt(ny, nm, 1)
        .and_then(|d| d.pred_opt())
        .map_or(31, |d| d.day())
}

/// A person's name as staff write it: NFKC, trimmed, runs of spaces folded to one (so
/// `山田　太郎` and `山田 太郎` are the same person in search), 1–100 characters, one line.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonName(String);

impl PersonName {
    /// Longest accepted name.
    pub const MAX_CHARS: usize = 100;

    /// Validates a name.
    pub fn parse(s: &str) -> Result<PersonName, DomainError> {
        let s = one_line("name", s, Self::MAX_CHARS)?;
        Ok(PersonName(
            s.split_whitespace().collect::<Vec<_>>().join(" "),
        ))
    }
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The reading of a name in kana (for あいうえお order and search): hiragana, katakana, ー,
/// ・ and spaces only, after NFKC (so half-width katakana is accepted). Katakana is stored as
/// given, not converted, because forms differ in which script they use.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Kana(String);

fn is_kana(c: char) -> bool {
    matches!(c,
        '\u{3041}'..='\u{3096}'   // hiragana
        | '\u{309D}'..='\u{309E}' // ゝゞ
        | '\u{30A1}'..='\u{30FA}' // katakana
        | '\u{30FB}'              // ・
        | '\u{30FC}'              // ー
        | '\u{30FD}'..='\u{30FE}' // ヽヾ
        | ' ')
}

impl Kana {
    /// Validates a reading.
    pub fn parse(s: &str) -> Result<Kana, DomainError> {
        let s = one_line("kana", s, PersonName::MAX_CHARS)?;
        let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
        match s.chars().find(|&c| !is_kana(c)) {
            Some(ch) => Err(DomainError::NotKana { ch }),
            None => Ok(Kana(s)),
        }
    }
    /// The reading.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A phone number as written: digits, `-`, `+` (leading only), parentheses and spaces, with at
/// least 3 digits; NFKC so full-width digits are accepted. Not further checked: extension
/// numbers and facility lines have no common shape.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    /// Validates a phone number.
    pub fn parse(s: &str) -> Result<Phone, DomainError> {
        let s = one_line("phone", s, 30)?;
        if let Some(ch) = s
            .chars()
            .find(|c| !(c.is_ascii_digit() || matches!(c, '-' | '+' | '(' | ')' | ' ')))
        {
            return Err(DomainError::PhoneInvalidChar { ch });
        }
        if s.rfind('+').is_some_and(|i| i > 0) {
            return Err(DomainError::PhonePlusNotFirst);
        }
        if s.chars().filter(char::is_ascii_digit).count() < 3 {
            return Err(DomainError::PhoneTooFewDigits);
        }
        Ok(Phone(s))
    }
    /// The number as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_newtype_impls {
    ($($t:ident),*) => {$(
        impl TryFrom<String> for $t {
            type Error = DomainError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                $t::parse(&s)
            }
        }
        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.0
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($t), self.0)
            }
        }
    )*};
}
string_newtype_impls!(PersonName, Kana, Phone);

choice_enum! {
    /// Where the person is in the support process.
    PersonStatus (field = "status") {
        Intake = "intake", "受付";
        Active = "active", "支援中";
        Watching = "watching", "見守り";
        Closed = "closed", "終結";
        Interrupted = "interrupted", "中断";
    }
}

choice_enum! {
    /// Sex as recorded on the intake form; `unknown` when not known or not asked.
    Sex (field = "sex") {
        Female = "female", "女性" | "女";
        Male = "male", "男性" | "男";
        Other = "other", "その他";
        Unknown = "unknown", "不明";
    }
}

/// An age band by decade, e.g. 80代 (`AgeBand(80)`): outreach often starts with "a man in his
/// eighties" before anyone knows a birth date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AgeBand(u8);

impl AgeBand {
    /// A band starting at `decade` (0, 10, ..., 120).
    pub fn new(decade: u8) -> Result<AgeBand, DomainError> {
        if decade.is_multiple_of(10) && decade <= 120 {
            Ok(AgeBand(decade))
        } else {
            Err(DomainError::AgeBandInvalid {
                value: decade.to_string(),
            })
        }
    }
    /// Parses `80代` or `80s`.
    pub fn parse(s: &str) -> Result<AgeBand, DomainError> {
        let n = normalize(s);
        let digits = n
            .strip_suffix('代')
            .or_else(|| n.strip_suffix('s'))
            .unwrap_or("");
        digits
            .parse::<u8>()
            .ok()
            .and_then(|d| AgeBand::new(d).ok())
            .ok_or_else(|| DomainError::AgeBandInvalid {
                value: s.to_owned(),
            })
    }
    /// The first age of the band (80 for 80代).
    pub fn decade(self) -> u8 {
        self.0
    }
}

/// When the person was born, as precisely as known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum BirthInfo {
    /// An exact birth date.
    Date(NaiveDate),
    /// Only the decade of age is known.
    AgeBand(AgeBand),
}

/// No record may claim a birth date before this.
const EARLIEST_BIRTH: NaiveDate = NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date");

impl BirthInfo {
    /// A birth date: not before 1900-01-01 and not after `today` (the caller's clock: the core
    /// does no clock IO).
    pub fn date(d: NaiveDate, today: NaiveDate) -> Result<BirthInfo, DomainError> {
        let b = Self::date_stored(d)?;
        if d > today {
            return Err(DomainError::BirthInFuture { date: d, today });
        }
        Ok(b)
    }

    fn date_stored(d: NaiveDate) -> Result<BirthInfo, DomainError> {
        if d < EARLIEST_BIRTH {
            return Err(DomainError::BirthTooEarly {
                date: d,
                earliest: EARLIEST_BIRTH,
            });
        }
        Ok(BirthInfo::Date(d))
    }

    /// Parses a date (see [`parse_date`]) or an age band (`80代`, `80s`).
    pub fn parse(s: &str, today: NaiveDate) -> Result<BirthInfo, DomainError> {
        let n = normalize(s);
        if n.ends_with('代') || n.ends_with('s') {
            AgeBand::parse(&n).map(BirthInfo::AgeBand)
        } else {
            BirthInfo::date(parse_date("birth", &n)?, today)
        }
    }

    /// Age in whole years on `on`, when the exact date is known.
    pub fn age_on(&self, on: NaiveDate) -> Option<u32> {
        match self {
            BirthInfo::Date(d) => on.years_since(*d),
            BirthInfo::AgeBand(_) => None,
        }
    }
}

impl TryFrom<String> for BirthInfo {
    type Error = DomainError;
    /// Stored values get the 1900 check but not the future check: the reading device's clock
    /// may lag the writing device's, and a stored record must still load.
    fn try_from(s: String) -> Result<Self, Self::Error> {
        if s.ends_with('s') {
            AgeBand::parse(&s).map(BirthInfo::AgeBand)
        } else {
            Self::date_stored(parse_date("birth", &s)?)
        }
    }
}

impl From<BirthInfo> for String {
    fn from(b: BirthInfo) -> String {
        match b {
            BirthInfo::Date(d) => d.format("%Y-%m-%d").to_string(),
            BirthInfo::AgeBand(a) => format!("{}s", a.0),
        }
    }
}

/// The fields of a [`Person`], each already valid on its own; [`Person::new`] checks the rules
/// that span fields. This is also the stored (serde) shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonFields {
    /// 氏名.
    pub name: PersonName,
    /// ふりがな; `None` while the reading is not known (guessing one would be worse).
    pub kana: Option<Kana>,
    /// Birth date or age band.
    pub birth: Option<BirthInfo>,
    /// Sex.
    pub sex: Option<Sex>,
    /// 住所.
    pub address: Option<ShortText>,
    /// 電話番号.
    pub phone: Option<Phone>,
    /// The 世帯 this person belongs to.
    pub household: Option<HouseholdId>,
    /// 地区.
    pub district: District,
    /// The programs supporting this person: at least one, no duplicates.
    pub programs: Vec<Program>,
    /// Status in the support process.
    pub status: PersonStatus,
    /// Risk flags (e.g. セルフネグレクト, 虐待の疑い), no duplicates.
    pub risk_flags: Vec<ShortText>,
    /// Free memo.
    pub memo: Note,
    /// Day of referral (相談受付日): anchors deadlines such as the dementia team's first visit.
    #[serde(default)]
    pub referred_on: Option<NaiveDate>,
    /// Day support started (集中支援の開始).
    #[serde(default)]
    pub support_started_on: Option<NaiveDate>,
    /// Day support was handed over to ongoing services (引き継ぎ).
    #[serde(default)]
    pub handed_over_on: Option<NaiveDate>,
}

impl PersonFields {
    /// The date of a deadline's anchor event (`referral`, `support_start`, `handover`,
    /// `birth`) for this person, if recorded.
    pub fn anchor_date(&self, anchor: &str) -> Option<NaiveDate> {
        match anchor {
            "referral" => self.referred_on,
            "support_start" => self.support_started_on,
            "handover" => self.handed_over_on,
            "birth" => match &self.birth {
                Some(BirthInfo::Date(d)) => Some(*d),
                _ => None,
            },
            _ => None,
        }
    }

    /// The minimal intake: name, district, one program; status 受付, everything else empty.
    pub fn new(name: PersonName, district: District, program: Program) -> PersonFields {
        PersonFields {
            name,
            kana: None,
            birth: None,
            sex: None,
            address: None,
            phone: None,
            household: None,
            district,
            programs: vec![program],
            status: PersonStatus::Intake,
            risk_flags: Vec::new(),
            memo: Note::empty(),
            referred_on: None,
            support_started_on: None,
            handed_over_on: None,
        }
    }
}

/// A 対象者: a [`PersonFields`] that passed the cross-field rules. To edit, take
/// [`Person::into_fields`], change, and build again with [`Person::new`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PersonFields", into = "PersonFields")]
pub struct Person(PersonFields);

impl Person {
    /// Checks the rules: at least one program, no duplicate program or risk flag.
    pub fn new(fields: PersonFields) -> Result<Person, DomainError> {
        if fields.programs.is_empty() {
            return Err(DomainError::PersonWithoutProgram);
        }
        ensure_unique("programs", &fields.programs)?;
        ensure_unique("risk_flags", &fields.risk_flags)?;
        Ok(Person(fields))
    }

    /// Checks the values that only the configuration can judge: the district and programs.
    pub fn check_config(&self, config: &Config) -> Result<(), DomainError> {
        config.check_district(&self.0.district)?;
        self.0
            .programs
            .iter()
            .try_for_each(|p| config.check_program(p))
    }

    /// All fields.
    pub fn fields(&self) -> &PersonFields {
        &self.0
    }
    /// The fields, to edit and re-validate.
    pub fn into_fields(self) -> PersonFields {
        self.0
    }
    /// 氏名.
    pub fn name(&self) -> &PersonName {
        &self.0.name
    }
    /// 地区.
    pub fn district(&self) -> &District {
        &self.0.district
    }
    /// Programs.
    pub fn programs(&self) -> &[Program] {
        &self.0.programs
    }
    /// Status.
    pub fn status(&self) -> PersonStatus {
        self.0.status
    }
}

impl TryFrom<PersonFields> for Person {
    type Error = DomainError;
    fn try_from(f: PersonFields) -> Result<Self, Self::Error> {
        Person::new(f)
    }
}

impl From<Person> for PersonFields {
    fn from(p: Person) -> PersonFields {
        p.0
    }
}
