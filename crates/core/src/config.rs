//! The municipality's configuration — districts, programs with their deadlines, the
//! つながりの段階 scale — loaded from a TOML data file, so another municipality adds its own
//! without code. Fujisawa's file is embedded as the default.

use chrono::{Days, Months, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;
use std::sync::OnceLock;
use thiserror::Error;

use crate::DomainError;
use crate::text::normalize;

const FUJISAWA_TOML: &str = include_str!("../data/fujisawa.toml");

/// Why a configuration file was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Not TOML, or not the expected shape (unknown keys are refused to catch typos).
    #[error("configuration does not parse: {0}")]
    Parse(String),
    /// A list or text that must have content is empty.
    #[error("configuration: {what} must not be empty")]
    Empty {
        /// What is empty, e.g. `districts` or `label_ja of district katase`.
        what: String,
    },
    /// A code or key that is not lowercase ASCII (letters, digits, `-`, `_`, starting with a
    /// letter, at most 32 characters): codes are stored in every record and must stay simple.
    #[error("configuration: invalid {what} code {code:?}")]
    InvalidCode {
        /// `district`, `program`, `deadline`, `anchor`.
        what: &'static str,
        /// The code as written.
        code: String,
    },
    /// Two entries share a code, name or alias, so a lookup would be ambiguous.
    #[error("configuration: {what} {value:?} appears more than once")]
    Duplicate {
        /// `district`, `program`, `trust stage`, `deadline`.
        what: &'static str,
        /// The repeated value.
        value: String,
    },
    /// Trust stage levels must be 0, 1, 2, ... in order, so that "higher is further" holds.
    #[error(
        "configuration: trust stage levels must be 0, 1, 2, ... in order; expected {expected}, found {found}"
    )]
    StageLevels {
        /// The level that should come next.
        expected: u8,
        /// The level written.
        found: u8,
    },
    /// A deadline that does not have exactly one positive period (`days` or `months`).
    #[error("configuration: deadline {program}/{key}: {reason}")]
    Deadline {
        /// The program key.
        program: String,
        /// The deadline key.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

/// A 地区 (district), stored as its stable code (e.g. `katase`). Obtain one from
/// [`Config::district`]; deserialization checks the code's shape, and
/// [`Config::contains_district`] checks that the configuration knows it.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct District(String);

/// An outreach program (e.g. `csw`, `dementia`, `infant`), stored as its key. Obtain one from
/// [`Config::program`].
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Program(String);

/// A つながりの段階 (trust stage), stored as its level; higher means a closer relationship.
/// Obtain one from [`Config::trust_stage`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TrustStage(u8);

fn is_code(s: &str) -> bool {
    s.len() <= 32
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

macro_rules! code_newtype {
    ($t:ident, $what:literal) => {
        impl $t {
            /// The stable code stored in records.
            pub fn code(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $t {
            type Error = DomainError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                if is_code(&s) {
                    Ok($t(s))
                } else {
                    Err(DomainError::InvalidId {
                        what: $what,
                        value: s,
                    })
                }
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
                write!(f, "{}({})", stringify!($t), self.0)
            }
        }
    };
}
code_newtype!(District, "district code");
code_newtype!(Program, "program key");

impl TrustStage {
    /// The level (0 = 未接触 in the default scale).
    pub fn level(self) -> u8 {
        self.0
    }
}

impl fmt::Debug for TrustStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrustStage({})", self.0)
    }
}

impl fmt::Display for TrustStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One configured district, for UI lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DistrictInfo {
    district: District,
    name_ja: String,
    kana: String,
}

impl DistrictInfo {
    /// The district value to store.
    pub fn district(&self) -> &District {
        &self.district
    }
    /// The Japanese name, e.g. 片瀬.
    pub fn name_ja(&self) -> &str {
        &self.name_ja
    }
    /// The reading, for sorting and search.
    pub fn kana(&self) -> &str {
        &self.kana
    }
}

/// One configured program, for UI lists and deadline computation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProgramInfo {
    program: Program,
    label_ja: String,
    label_en: String,
    aliases: Vec<String>,
    follow_up_days: Option<u32>,
    deadlines: Vec<Deadline>,
}

impl ProgramInfo {
    /// The program value to store.
    pub fn program(&self) -> &Program {
        &self.program
    }
    /// The Japanese label.
    pub fn label_ja(&self) -> &str {
        &self.label_ja
    }
    /// The English label (may be empty).
    pub fn label_en(&self) -> &str {
        &self.label_en
    }
    /// Other names [`Config::program`] accepts.
    pub fn aliases(&self) -> &[String] {
        &self.aliases
    }
    /// The program's cadence: days after a contact when the next one is due if the contact
    /// planned none (`None`: the program has no regular follow-up).
    pub fn follow_up_days(&self) -> Option<u32> {
        self.follow_up_days
    }
    /// The program's deadlines (e.g. the dementia team's first visit within 4 days).
    pub fn deadlines(&self) -> &[Deadline] {
        &self.deadlines
    }
    /// The deadline with this key.
    pub fn deadline(&self, key: &str) -> Option<&Deadline> {
        self.deadlines.iter().find(|d| d.key == key)
    }
}

/// How long after its anchor a deadline falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// Calendar days.
    Days(u32),
    /// Calendar months (the same day of the month, clamped to the month's end).
    Months(u32),
}

/// A deadline of a program, as data: "`anchor` + `period`".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deadline {
    key: String,
    label_ja: String,
    label_en: String,
    anchor: String,
    period: Period,
}

impl Deadline {
    /// Stable key, e.g. `first_visit`.
    pub fn key(&self) -> &str {
        &self.key
    }
    /// Japanese label for reminders.
    pub fn label_ja(&self) -> &str {
        &self.label_ja
    }
    /// English label (may be empty).
    pub fn label_en(&self) -> &str {
        &self.label_en
    }
    /// The event the period runs from: `referral`, `support_start`, `handover`, `birth`, ...
    pub fn anchor(&self) -> &str {
        &self.anchor
    }
    /// The period after the anchor.
    pub fn period(&self) -> Period {
        self.period
    }
    /// The last day that meets the deadline, given the anchor event's date; `None` only if the
    /// date would leave chrono's range.
    pub fn due(&self, anchor_date: NaiveDate) -> Option<NaiveDate> {
        match self.period {
            Period::Days(d) => anchor_date.checked_add_days(Days::new(d.into())),
            Period::Months(m) => anchor_date.checked_add_months(Months::new(m)),
        }
    }
}

/// One level of the つながりの段階 scale, for UI lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustStageInfo {
    stage: TrustStage,
    label_ja: String,
    label_en: String,
}

impl TrustStageInfo {
    /// The stage value to store.
    pub fn stage(&self) -> TrustStage {
        self.stage
    }
    /// The Japanese label, e.g. 短い会話ができる.
    pub fn label_ja(&self) -> &str {
        &self.label_ja
    }
    /// The English label (may be empty).
    pub fn label_en(&self) -> &str {
        &self.label_en
    }
}

/// A validated municipality configuration. Lookups accept what staff type (code or Japanese
/// name, any width) and return the stored value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Config {
    municipality: String,
    municipality_kana: String,
    districts: Vec<DistrictInfo>,
    programs: Vec<ProgramInfo>,
    trust_stages: Vec<TrustStageInfo>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    municipality: String,
    #[serde(default)]
    municipality_kana: String,
    districts: Vec<RawDistrict>,
    programs: Vec<RawProgram>,
    trust_stages: Vec<RawStage>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDistrict {
    code: String,
    name_ja: String,
    kana: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProgram {
    key: String,
    label_ja: String,
    #[serde(default)]
    label_en: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    follow_up_days: Option<u32>,
    #[serde(default)]
    deadlines: Vec<RawDeadline>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeadline {
    key: String,
    label_ja: String,
    #[serde(default)]
    label_en: String,
    anchor: String,
    days: Option<u32>,
    months: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    level: u8,
    label_ja: String,
    #[serde(default)]
    label_en: String,
}

fn non_empty(what: impl FnOnce() -> String, s: &str) -> Result<String, ConfigError> {
    let s = normalize(s);
    if s.is_empty() {
        Err(ConfigError::Empty { what: what() })
    } else {
        Ok(s)
    }
}

fn code(what: &'static str, s: &str) -> Result<String, ConfigError> {
    if is_code(s) {
        Ok(s.to_owned())
    } else {
        Err(ConfigError::InvalidCode {
            what,
            code: s.to_owned(),
        })
    }
}

/// Records every lookup name in `seen`, refusing a second use.
fn claim(seen: &mut HashSet<String>, what: &'static str, name: &str) -> Result<(), ConfigError> {
    if seen.insert(name.to_owned()) {
        Ok(())
    } else {
        Err(ConfigError::Duplicate {
            what,
            value: name.to_owned(),
        })
    }
}

impl Config {
    /// Fujisawa's configuration (the embedded `data/fujisawa.toml`).
    pub fn fujisawa() -> Config {
        static FUJISAWA: OnceLock<Config> = OnceLock::new();
        FUJISAWA
            .get_or_init(|| {
                // The embedded file is checked by the test suite, so this cannot fail at run time.
                Config::from_toml(FUJISAWA_TOML).expect("embedded fujisawa.toml is valid")
            })
            .clone()
    }

    /// Parses and validates a configuration file: non-empty lists and labels, well-formed and
    /// unique codes, names and aliases (lookups must be unambiguous), trust stage levels
    /// 0, 1, 2, ... in order, deadlines with exactly one positive period.
    pub fn from_toml(s: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(s).map_err(|e| ConfigError::Parse(e.to_string()))?;
        let municipality = non_empty(|| "municipality".into(), &raw.municipality)?;
        let municipality_kana = normalize(&raw.municipality_kana);

        if raw.districts.is_empty() {
            return Err(ConfigError::Empty {
                what: "districts".into(),
            });
        }
        let mut seen = HashSet::new();
        let mut districts = Vec::with_capacity(raw.districts.len());
        for d in raw.districts {
            let c = code("district", &d.code)?;
            let name_ja = non_empty(|| format!("name_ja of district {c}"), &d.name_ja)?;
            let kana = non_empty(|| format!("kana of district {c}"), &d.kana)?;
            claim(&mut seen, "district", &c)?;
            claim(&mut seen, "district", &name_ja)?;
            districts.push(DistrictInfo {
                district: District(c),
                name_ja,
                kana,
            });
        }

        if raw.programs.is_empty() {
            return Err(ConfigError::Empty {
                what: "programs".into(),
            });
        }
        let mut seen = HashSet::new();
        let mut programs = Vec::with_capacity(raw.programs.len());
        for p in raw.programs {
            let key = code("program", &p.key)?;
            let label_ja = non_empty(|| format!("label_ja of program {key}"), &p.label_ja)?;
            claim(&mut seen, "program", &key)?;
            claim(&mut seen, "program", &label_ja)?;
            let mut aliases = Vec::with_capacity(p.aliases.len());
            for a in &p.aliases {
                let a = non_empty(|| format!("alias of program {key}"), a)?;
                claim(&mut seen, "program", &a)?;
                aliases.push(a);
            }
            let mut deadline_keys = HashSet::new();
            let mut deadlines = Vec::with_capacity(p.deadlines.len());
            for d in p.deadlines {
                let dkey = code("deadline", &d.key)?;
                claim(&mut deadline_keys, "deadline", &dkey)?;
                let fail = |reason: &str| ConfigError::Deadline {
                    program: key.clone(),
                    key: dkey.clone(),
                    reason: reason.into(),
                };
                let period = match (d.days, d.months) {
                    (Some(n), None) if n > 0 => Period::Days(n),
                    (None, Some(n)) if n > 0 => Period::Months(n),
                    (Some(_), Some(_)) => return Err(fail("give days or months, not both")),
                    (None, None) => return Err(fail("give days or months")),
                    _ => return Err(fail("the period must be positive")),
                };
                deadlines.push(Deadline {
                    label_ja: non_empty(
                        || format!("label_ja of deadline {key}/{dkey}"),
                        &d.label_ja,
                    )?,
                    label_en: d.label_en.trim().to_owned(),
                    anchor: code("anchor", &d.anchor)?,
                    key: dkey,
                    period,
                });
            }
            if p.follow_up_days == Some(0) {
                return Err(ConfigError::Empty {
                    what: format!("follow_up_days of program {key} (0 days)"),
                });
            }
            programs.push(ProgramInfo {
                program: Program(key),
                label_ja,
                label_en: p.label_en.trim().to_owned(),
                aliases,
                follow_up_days: p.follow_up_days,
                deadlines,
            });
        }

        if raw.trust_stages.is_empty() {
            return Err(ConfigError::Empty {
                what: "trust_stages".into(),
            });
        }
        let mut seen = HashSet::new();
        let mut trust_stages = Vec::with_capacity(raw.trust_stages.len());
        for (i, s) in raw.trust_stages.into_iter().enumerate() {
            let expected = u8::try_from(i).map_err(|_| ConfigError::StageLevels {
                expected: u8::MAX,
                found: s.level,
            })?;
            if s.level != expected {
                return Err(ConfigError::StageLevels {
                    expected,
                    found: s.level,
                });
            }
            let label_ja = non_empty(
                || format!("label_ja of trust stage {}", s.level),
                &s.label_ja,
            )?;
            claim(&mut seen, "trust stage", &label_ja)?;
            trust_stages.push(TrustStageInfo {
                stage: TrustStage(s.level),
                label_ja,
                label_en: s.label_en.trim().to_owned(),
            });
        }

        Ok(Config {
            municipality,
            municipality_kana,
            districts,
            programs,
            trust_stages,
        })
    }

    /// The municipality's name, e.g. 藤沢市.
    pub fn municipality(&self) -> &str {
        &self.municipality
    }
    /// Its reading (may be empty).
    pub fn municipality_kana(&self) -> &str {
        &self.municipality_kana
    }
    /// The districts in configured order.
    pub fn districts(&self) -> &[DistrictInfo] {
        &self.districts
    }
    /// The programs in configured order.
    pub fn programs(&self) -> &[ProgramInfo] {
        &self.programs
    }
    /// The trust stage scale, lowest first.
    pub fn trust_stages(&self) -> &[TrustStageInfo] {
        &self.trust_stages
    }

    /// Resolves a district from its code or Japanese name (NFKC, trimmed; `片瀬地区` works too).
    pub fn district(&self, input: &str) -> Result<District, DomainError> {
        let n = normalize(input);
        if n.is_empty() {
            return Err(DomainError::ChoiceEmpty { field: "district" });
        }
        let lower = n.to_ascii_lowercase();
        let bare = n.strip_suffix("地区").map(str::trim).unwrap_or(&n);
        self.districts
            .iter()
            .find(|d| d.district.0 == lower || d.name_ja == n || d.name_ja == bare)
            .map(|d| d.district.clone())
            .ok_or_else(|| self.unknown_district(input))
    }

    /// Fails with `UnknownDistrict` unless this configuration knows the district: for values
    /// read from storage or another device.
    pub fn check_district(&self, d: &District) -> Result<(), DomainError> {
        if self.contains_district(d) {
            Ok(())
        } else {
            Err(self.unknown_district(d.code()))
        }
    }

    fn unknown_district(&self, value: &str) -> DomainError {
        DomainError::UnknownDistrict {
            value: value.to_owned(),
            known: self.districts.iter().map(|d| d.name_ja.clone()).collect(),
        }
    }

    /// The Japanese name of a district, or `None` if this configuration does not know it.
    pub fn district_name(&self, d: &District) -> Option<&str> {
        self.districts
            .iter()
            .find(|i| &i.district == d)
            .map(|i| i.name_ja.as_str())
    }

    /// True when this configuration knows the district (checks values read from storage).
    pub fn contains_district(&self, d: &District) -> bool {
        self.district_name(d).is_some()
    }

    /// Resolves a program from its key, Japanese label or an alias (NFKC, trimmed).
    pub fn program(&self, input: &str) -> Result<Program, DomainError> {
        let n = normalize(input);
        if n.is_empty() {
            return Err(DomainError::ChoiceEmpty { field: "programs" });
        }
        let lower = n.to_ascii_lowercase();
        self.programs
            .iter()
            .find(|p| p.program.0 == lower || p.label_ja == n || p.aliases.contains(&n))
            .map(|p| p.program.clone())
            .ok_or_else(|| self.unknown_program(input))
    }

    /// Fails with `UnknownProgram` unless this configuration knows the program.
    pub fn check_program(&self, p: &Program) -> Result<(), DomainError> {
        match self.program_info(p) {
            Some(_) => Ok(()),
            None => Err(self.unknown_program(p.code())),
        }
    }

    fn unknown_program(&self, value: &str) -> DomainError {
        DomainError::UnknownProgram {
            value: value.to_owned(),
            known: self
                .programs
                .iter()
                .map(|p| (p.program.0.clone(), p.label_ja.clone()))
                .collect(),
        }
    }

    /// Fails with `UnknownTrustStage` unless the stage is on this scale.
    pub fn check_trust_stage(&self, s: TrustStage) -> Result<(), DomainError> {
        self.trust_stage(s.0).map(|_| ())
    }

    /// The configured entry of a program (label, deadlines), or `None` if unknown.
    pub fn program_info(&self, p: &Program) -> Option<&ProgramInfo> {
        self.programs.iter().find(|i| &i.program == p)
    }

    /// The Japanese label of a program, or `None` if unknown.
    pub fn program_label(&self, p: &Program) -> Option<&str> {
        self.program_info(p).map(|i| i.label_ja.as_str())
    }

    /// The trust stage at `level`, if the scale has it.
    pub fn trust_stage(&self, level: u8) -> Result<TrustStage, DomainError> {
        if usize::from(level) < self.trust_stages.len() {
            Ok(TrustStage(level))
        } else {
            Err(self.unknown_stage(level.to_string()))
        }
    }

    /// Resolves a trust stage from its level (`"2"`) or Japanese label.
    pub fn parse_trust_stage(&self, input: &str) -> Result<TrustStage, DomainError> {
        let n = normalize(input);
        if n.is_empty() {
            return Err(DomainError::ChoiceEmpty { field: "stage" });
        }
        self.trust_stages
            .iter()
            .find(|s| s.label_ja == n || n.parse::<u8>().is_ok_and(|l| l == s.stage.0))
            .map(|s| s.stage)
            .ok_or_else(|| self.unknown_stage(input.to_owned()))
    }

    /// The Japanese label of a trust stage, or `None` if outside this scale.
    pub fn trust_stage_label(&self, s: TrustStage) -> Option<&str> {
        self.trust_stages
            .get(usize::from(s.0))
            .map(|i| i.label_ja.as_str())
    }

    fn unknown_stage(&self, value: String) -> DomainError {
        DomainError::UnknownTrustStage {
            value,
            known: self
                .trust_stages
                .iter()
                .map(|s| (s.stage.0, s.label_ja.clone()))
                .collect(),
        }
    }
}
