//! Japanese full-text search over notes, inside the encrypted file: how text and queries are
//! normalized (the index itself is `grams`).
//!
//! The index holds every character bigram of the note with its position, plus the word-final
//! character alone. A query term of 3+ characters matches where its overlapping bigrams stand
//! at adjacent positions, which is exactly the notes that contain the term; a 2-character term
//! is one bigram; a 1-character term any gram starting with it (認知, 児童 and 母 matter in
//! Japanese). The index stores no text of its own; text and query are normalized the same way
//! (NFKC, lower case, runs of whitespace as one break).

use unicode_normalization::{IsNormalized, UnicodeNormalization};

/// Text as indexed and queried: NFKC (full-width ASCII and half-width katakana fold to one
/// form), lower case, whitespace runs collapsed to one space, trimmed.
pub fn normalize(text: &str) -> String {
    // Most notes are made only of characters that NFKC and lower case leave alone: checking
    // that is a range test per character, where the quick check and `to_lowercase` were a
    // seventh of a fresh device's indexing.
    if text.chars().all(plain) {
        return collapse_space(text.chars(), text.len());
    }
    // Most notes are NFKC already (kanji, kana, ASCII): the quick check (a table lookup per
    // character) proves it, and the decomposition and recomposition are skipped. Where it
    // cannot prove it (full-width ASCII, half-width kana, combining marks) the full NFKC runs.
    if unicode_normalization::is_nfkc_quick(text.chars()) == IsNormalized::Yes {
        collapse_space(text.chars().flat_map(char::to_lowercase), text.len())
    } else {
        collapse_space(text.nfkc().flat_map(char::to_lowercase), text.len())
    }
}

/// Characters that NFKC and lower case leave as they are, whatever surrounds them, in the
/// ranges Japanese notes are mostly made of: ASCII other than capitals and control characters
/// (tab and line breaks included: they are whitespace, collapsed afterwards), the ideographic
/// comma, full stop and corner brackets, hiragana and katakana letters (precomposed, without
/// separate voicing marks), the long vowel mark and the unified CJK ideographs.
fn plain(c: char) -> bool {
    matches!(c,
        '\t' | '\n' | '\r' | ' '..='@' | '['..='~'
        | '\u{3001}'..='\u{3002}' | '\u{300C}'..='\u{300F}'
        | '\u{3041}'..='\u{3096}' | '\u{30A1}'..='\u{30FA}' | '\u{30FC}'
        | '\u{4E00}'..='\u{9FFF}')
}

/// Whitespace runs as one space, trimmed.
fn collapse_space(chars: impl Iterator<Item = char>, len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut pending_space = false;
    for c in chars {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    }
    out
}

/// Katakana folded to hiragana, so a kana search finds either spelling.
pub fn hiragana(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'ァ'..='ヶ' => char::from_u32(c as u32 - 0x60).unwrap_or(c),
            _ => c,
        })
        .collect()
}

/// One search query: its normalized terms, all of which must match.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// The normalized terms (what the index looks up, and what is highlighted).
    pub terms: Vec<String>,
}

impl Query {
    /// Parses what the user typed. Empty (after normalization) gives an empty query. Every
    /// character is searched as text: there is no query syntax to escape from.
    pub fn parse(input: &str) -> Query {
        let normalized = normalize(input);
        Query {
            terms: normalized
                .split(' ')
                .filter(|t| !t.is_empty())
                .map(String::from)
                .collect(),
        }
    }

    /// Whether there is nothing to search for.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_folds_width_case_and_space() {
        assert_eq!(normalize("  ＡＢＣ　ｱｲｳ\n\n認知 "), "abc アイウ 認知");
        assert_eq!(hiragana("ヤマダ ハナコ"), "やまだ はなこ");
    }

    /// NFKC of the whole text, then lower case and spaces: what `normalize` computes with or
    /// without its quick check.
    fn normalize_in_full(text: &str) -> String {
        collapse_space(text.nfkc().flat_map(char::to_lowercase), text.len())
    }

    proptest::proptest! {
        /// The quick path gives the same text as full NFKC, for any text: Japanese, wide and
        /// narrow forms, combining marks, and anything else.
        #[test]
        fn normalize_equals_full_nfkc(text in "[かはカハｶﾊﾞﾟｰAaeＡ１\\u{3099}\\u{309A}\\u{0301}\\u{3000} \\n]{0,20}|[ぁ-んァ-ヶ一-龯A-Za-z0-9、。]{0,40}|[ぁ-ゖァ-ヺー一-鿿 -~\\t\\n\\r、。「」『』]{0,40}|\\PC{0,40}") {
            proptest::prop_assert_eq!(normalize(&text), normalize_in_full(&text));
        }
    }

    #[test]
    fn queries_are_normalized_terms() {
        let q = Query::parse("認知 訪問した  ＡＢ 母");
        assert_eq!(q.terms, ["認知", "訪問した", "ab", "母"]);
        assert!(Query::parse("  　 ").is_empty());
        assert_eq!(Query::parse("a\"b").terms, ["a\"b"]);
    }
}
