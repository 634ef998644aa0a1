//! Text at the boundary: normalization, bounded free text (`Note`, `ShortText`) and the
//! `choice_enum!` macro that gives every closed choice (channel, outcome, status, ...) a stable
//! ASCII key, a Japanese label and one parser.

use serde::{Deserialize, Serialize};
use std::fmt;
use unicode_normalization::UnicodeNormalization;

use crate::DomainError;

/// NFKC + trim. Staff type on tablets with Japanese IMEs, so the same name arrives with
/// full-width digits, half-width katakana or an ideographic space; NFKC folds those into one
/// form so that comparison and search work.
pub fn normalize(s: &str) -> String {
    s.nfkc().collect::<String>().trim().to_owned()
}

/// Characters no stored text may hold: control characters other than newline and tab, and the
/// bidirectional overrides that can make a name display as something it is not.
fn is_forbidden(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Validates free text: CRLF folded to LF (laptops paste CRLF), trimmed, at most `max_chars`
/// characters, no forbidden characters, and non-empty unless `allow_empty`. The content is
/// otherwise kept as typed (no NFKC): a narrative is the worker's words.
pub fn bounded_text(
    field: &'static str,
    s: &str,
    max_chars: usize,
    allow_empty: bool,
) -> Result<String, DomainError> {
    let s = s.replace("\r\n", "\n");
    let s = s.trim();
    if let Some(ch) = s.chars().find(|&c| is_forbidden(c)) {
        return Err(DomainError::TextForbiddenChar { field, ch });
    }
    if !allow_empty && s.is_empty() {
        return Err(DomainError::TextEmpty { field });
    }
    let len = s.chars().count();
    if len > max_chars {
        return Err(DomainError::TextTooLong {
            field,
            len,
            max: max_chars,
        });
    }
    Ok(s.to_owned())
}

/// One-line text (NFKC-normalized, trimmed, non-empty, no newline or tab), e.g. what a
/// [`ShortText`] or a name holds.
pub(crate) fn one_line(
    field: &'static str,
    s: &str,
    max_chars: usize,
) -> Result<String, DomainError> {
    let s = bounded_text(field, &normalize(s), max_chars, false)?;
    if s.contains(['\n', '\t']) {
        return Err(DomainError::TextMultiline { field });
    }
    Ok(s)
}

/// The narrative note of a contact (and other long free text: observations, memo, decisions):
/// at most [`Note::MAX_CHARS`] characters, may be empty, newlines allowed, kept as typed.
#[derive(Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Note(String);

impl Note {
    /// Long enough for the longest 支援経過記録 entry; short enough that a paste accident is caught.
    pub const MAX_CHARS: usize = 20_000;

    /// Validates `s` as the note field `field` (the name appears in the error).
    pub fn parse(field: &'static str, s: &str) -> Result<Note, DomainError> {
        bounded_text(field, s, Self::MAX_CHARS, true).map(Note)
    }
    /// The empty note.
    pub fn empty() -> Note {
        Note(String::new())
    }
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl TryFrom<String> for Note {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Note::parse("note", &s)
    }
}

impl From<Note> for String {
    fn from(n: Note) -> String {
        n.0
    }
}

/// A one-line field (address, staff name, agency, risk flag, next step): NFKC-normalized so
/// that search and de-duplication see one form, non-empty, at most [`ShortText::MAX_CHARS`].
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ShortText(String);

impl ShortText {
    /// One line on a form.
    pub const MAX_CHARS: usize = 200;

    /// Validates `s` as the one-line field `field` (the name appears in the error).
    pub fn parse(field: &'static str, s: &str) -> Result<ShortText, DomainError> {
        one_line(field, s, Self::MAX_CHARS).map(ShortText)
    }
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ShortText {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ShortText::parse("text", &s)
    }
}

impl From<ShortText> for String {
    fn from(t: ShortText) -> String {
        t.0
    }
}

macro_rules! text_debug_display {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }
    )*};
}
text_debug_display!(Note, ShortText);

/// Fails with `DuplicateValue` when `items` holds the same value twice; `field` is the list's
/// input field key.
pub(crate) fn ensure_unique<T: PartialEq + fmt::Display>(
    field: &'static str,
    items: &[T],
) -> Result<(), DomainError> {
    for (i, a) in items.iter().enumerate() {
        if items[..i].contains(a) {
            return Err(DomainError::DuplicateValue {
                field,
                value: a.to_string(),
            });
        }
    }
    Ok(())
}

/// Declares a closed choice: an enum whose variants each have a stable ASCII key (storage,
/// wire, CLI; serde uses it), a Japanese label (UI) and optional aliases that `parse` also
/// accepts. Serde deserialization accepts keys only, so stored data cannot hold anything else.
macro_rules! choice_enum {
    (
        $(#[$doc:meta])*
        $name:ident (field = $field:literal) {
            $( $variant:ident = $key:literal, $label:literal $(| $alias:literal)* ; )+
        }
    ) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize,
        )]
        pub enum $name {
            $(
                #[doc = concat!($label, " (`", $key, "`)")]
                #[serde(rename = $key)]
                $variant,
            )+
        }

        impl $name {
            /// Every choice, in display order (for UI lists).
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable ASCII key used in storage, on the wire and on the command line.
            pub const fn key(self) -> &'static str {
                match self { $($name::$variant => $key),+ }
            }

            /// The Japanese label shown to staff.
            pub const fn label_ja(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            /// Parses a key (case-insensitive, `-` or `_`) or the Japanese label (NFKC),
            /// so the CLI and the UI share one parser.
            pub fn parse(s: &str) -> Result<Self, $crate::DomainError> {
                let n = $crate::text::normalize(s);
                if n.is_empty() {
                    return Err($crate::DomainError::ChoiceEmpty { field: $field });
                }
                let k = n.to_ascii_lowercase().replace('-', "_");
                $(
                    if k == $key
                        || n == $crate::text::normalize($label)
                        $(|| n == $crate::text::normalize($alias))*
                    {
                        return Ok($name::$variant);
                    }
                )+
                Err($crate::DomainError::InvalidChoice {
                    field: $field,
                    value: s.to_owned(),
                    allowed: &[$(($key, $label)),+],
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.key())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}
pub(crate) use choice_enum;
