//! Importing item texts that a municipality holds under licence (J-ZBI_8, DASC-21, ...).
//!
//! The document is small TOML or JSON:
//!
//! ```toml
//! instrument = "jzbi8"
//! version = "1"
//! [texts]
//! 1 = "..."
//! 2 = "..."
//! ```
//!
//! or `{"instrument": "jzbi8", "version": "1", "texts": {"1": "...", "2": "..."}}`.
//! It must name the definition's key and version and give a text for every item number,
//! and no other; anything else is refused before any text is changed. Texts never change
//! scoring: they only fill [`super::Item::text_ja`].

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Instrument, InstrumentError};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TextImport {
    pub(super) instrument: String,
    version: String,
    texts: BTreeMap<String, String>,
}

impl TextImport {
    /// JSON when the document starts with `{` (a TOML document cannot), TOML otherwise.
    pub(super) fn parse(source: &str) -> Result<TextImport, InstrumentError> {
        if source.trim_start().starts_with('{') {
            serde_json::from_str(source).map_err(|e| InstrumentError::ImportSyntax {
                line: Some(e.line()).filter(|&l| l > 0),
                message: e.to_string(),
            })
        } else {
            toml::from_str(source).map_err(|e| InstrumentError::ImportSyntax {
                line: e
                    .span()
                    .map(|span| super::definition::line_of(source, span.start)),
                message: e.to_string(),
            })
        }
    }
}

impl Instrument {
    /// Imports item texts from a small TOML or JSON document:
    ///
    /// ```toml
    /// instrument = "jzbi8"
    /// version = "1"
    /// [texts]
    /// 1 = "..."
    /// ```
    ///
    /// or `{"instrument": "jzbi8", "version": "1", "texts": {"1": "..."}}`. Key and version
    /// must equal the definition's, and `texts` must have exactly one non-empty text per item
    /// number. The whole import is checked first, so on error the definition is unchanged.
    /// Scoring is unaffected: texts only fill [`super::Item::text_ja`].
    pub fn import_item_texts(&mut self, source: &str) -> Result<(), InstrumentError> {
        self.apply_text_import(TextImport::parse(source)?)
    }

    pub(super) fn apply_text_import(&mut self, doc: TextImport) -> Result<(), InstrumentError> {
        if doc.instrument != self.key {
            return Err(InstrumentError::ImportInstrumentMismatch {
                expected: self.key.clone(),
                got: doc.instrument,
            });
        }
        if doc.version != self.version {
            return Err(InstrumentError::ImportVersionMismatch {
                key: self.key.clone(),
                expected: self.version.clone(),
                got: doc.version,
            });
        }

        let mut texts: BTreeMap<u16, String> = BTreeMap::new();
        let mut unknown = Vec::new();
        for (label, text) in doc.texts {
            // Only the canonical spelling counts ("01" is not item 1), so a number cannot
            // silently appear twice.
            match label.parse::<u16>() {
                Ok(n) if n.to_string() == label && self.item(n).is_some() => {
                    texts.insert(n, text);
                }
                _ => unknown.push(label),
            }
        }
        let missing: Vec<u16> = self
            .items
            .iter()
            .map(|i| i.number)
            .filter(|n| !texts.contains_key(n))
            .collect();
        if !missing.is_empty() || !unknown.is_empty() {
            return Err(InstrumentError::ImportItemsMismatch {
                item_count: self.items.len(),
                missing,
                unknown,
            });
        }
        if let Some((&item, _)) = texts.iter().find(|(_, t)| t.trim().is_empty()) {
            return Err(InstrumentError::ImportEmptyText { item });
        }

        for item in &mut self.items {
            item.text_ja = texts.remove(&item.number).map(|t| t.trim().to_owned());
        }
        self.texts_imported = true;
        Ok(())
    }
}
