//! Fuzz target: an assessment instrument definition as IT imports it (TOML,
//! `tsunagi_core::instrument::Instrument::from_toml`), answers typed against it
//! (`parse_answers`, `score`) and an item-text import (`import_item_texts`). The input's
//! first NUL byte separates the definition from the text given to the other two.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tsunagi_core::instrument::{Instrument, InstrumentCatalog};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (definition, rest) = text.split_once('\0').unwrap_or((text, ""));
    let instrument = match Instrument::from_toml(definition) {
        Ok(i) => i,
        Err(e) => {
            let _ = (e.code(), e.message_ja());
            // The text after the NUL against a shipped instrument instead.
            static CATALOG: OnceLock<InstrumentCatalog> = OnceLock::new();
            let catalog = CATALOG.get_or_init(InstrumentCatalog::builtin);
            let Some(key) = catalog.keys().nth(definition.len() % 6) else {
                return;
            };
            catalog.get(key).expect("listed").clone()
        }
    };
    if let Ok(answers) = instrument.parse_answers(rest) {
        assert_eq!(answers.len(), instrument.items().len());
        let _ = instrument.score(&answers);
    }
    let mut imported = instrument.clone();
    if imported.import_item_texts(rest).is_err() {
        assert_eq!(imported, instrument, "a refused import changes nothing");
    }
});
