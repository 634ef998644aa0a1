//! Japanese full-text search over notes, inside the encrypted file.
//!
//! One FTS5 index holds every character bigram of the note as a token, with its position
//! (each character hex-encoded, so no tokenizer rule can split or fold it), plus the
//! word-final character alone. A query term of 3+ characters is the phrase of its overlapping
//! bigrams at adjacent positions, which matches exactly the notes that contain the term; a
//! 2-character term is one token; a 1-character term a token prefix (認知, 児童 and 母 matter in
//! Japanese). The index stores no text of its own (contentless); text and query are normalized
//! the same way (NFKC, lower case, runs of whitespace as one break).

use unicode_normalization::{IsNormalized, UnicodeNormalization};

/// Text as indexed and queried: NFKC (full-width ASCII and half-width katakana fold to one
/// form), lower case, whitespace runs collapsed to one space, trimmed.
pub fn normalize(text: &str) -> String {
    // Most notes are NFKC already (kanji, kana, ASCII): the quick check (a table lookup per
    // character) proves it, and the decomposition and recomposition are skipped. Where it
    // cannot prove it (full-width ASCII, half-width kana, combining marks) the full NFKC runs.
    if unicode_normalization::is_nfkc_quick(text.chars()) == IsNormalized::Yes {
        collapse_space(text.chars().flat_map(char::to_lowercase), text.len())
    } else {
        collapse_space(text.nfkc().flat_map(char::to_lowercase), text.len())
    }
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

/// Appends the character's code point as six lower-case hex digits (every token of the index
/// is made of these; a hand-written loop, as `write!` cost a few percent of a fresh pull).
fn hex_char(out: &mut String, c: char) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let v = c as u32;
    for shift in [20, 16, 12, 8, 4, 0] {
        out.push(char::from(DIGITS[((v >> shift) & 0xf) as usize]));
    }
}

/// The bigram index document for an already normalized text: one token per pair of adjacent
/// non-space characters, plus a single-character token for a character that ends a word (so a
/// 1-character prefix query also finds it).
pub fn bigram_document(normalized: &str) -> String {
    let chars: Vec<char> = normalized.chars().collect();
    let mut out = String::with_capacity(chars.len() * 13);
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        hex_char(&mut out, c);
        match chars.get(i + 1) {
            Some(&next) if next != ' ' => hex_char(&mut out, next),
            _ => {}
        }
    }
    out
}

/// One search query as an FTS5 expression over the bigram index. All terms must match.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// MATCH expression for the bigram index (empty for an empty query).
    pub grams: String,
    /// The normalized terms (for highlighting).
    pub terms: Vec<String>,
}

impl Query {
    /// Parses what the user typed. Empty (after normalization) gives an empty query.
    pub fn parse(input: &str) -> Query {
        let normalized = normalize(input);
        let terms: Vec<String> = normalized
            .split(' ')
            .filter(|t| !t.is_empty())
            .map(String::from)
            .collect();
        let exprs: Vec<String> = terms.iter().map(|t| term_expr(t)).collect();
        Query {
            grams: exprs.join(" AND "),
            terms,
        }
    }

    /// Whether there is nothing to search for.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
}

/// One term (no spaces) as an FTS5 expression: a token prefix for 1 character, a token for 2,
/// the phrase of its overlapping bigrams for more. Tokens are hex digits only, so nothing in
/// the term can escape into FTS5 syntax.
fn term_expr(term: &str) -> String {
    let chars: Vec<char> = term.chars().collect();
    let mut out = String::new();
    match chars.as_slice() {
        [c] => {
            hex_char(&mut out, *c);
            out.push('*');
        }
        _ => {
            out.push('"');
            for (i, pair) in chars.windows(2).enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                hex_char(&mut out, pair[0]);
                hex_char(&mut out, pair[1]);
            }
            out.push('"');
        }
    }
    out
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
        fn normalize_equals_full_nfkc(text in "[かはカハｶﾊﾞﾟｰAaeＡ１\\u{3099}\\u{309A}\\u{0301}\\u{3000} \\n]{0,20}|[ぁ-んァ-ヶ一-龯A-Za-z0-9、。]{0,40}|\\PC{0,40}") {
            proptest::prop_assert_eq!(normalize(&text), normalize_in_full(&text));
        }
    }

    #[test]
    fn bigram_document_covers_pairs_and_word_ends() {
        // 認知症 → 認知, 知症, 症(end)
        assert_eq!(
            bigram_document("認知症"),
            "008a8d0077e5 0077e50075c7 0075c7"
        );
        assert_eq!(bigram_document("a b"), "000061 000062");
        assert_eq!(bigram_document(""), "");
        // Code points beyond the BMP keep their six digits.
        assert_eq!(bigram_document("😀\u{10ffff}"), "01f60010ffff 10ffff");
    }

    #[test]
    fn query_terms_become_tokens_prefixes_and_phrases() {
        let q = Query::parse("認知 訪問した 母");
        assert_eq!(
            q.grams,
            "\"008a8d0077e5\" AND \"008a2a00554f 00554f003057 00305700305f\" AND 006bcd*"
        );
        assert_eq!(q.terms, ["認知", "訪問した", "母"]);
        assert!(Query::parse("  　 ").is_empty());
        assert_eq!(Query::parse("  　 ").grams, "");
        // A quote is a character like any other: hex-encoded, never FTS5 syntax.
        assert_eq!(Query::parse("a\"b").grams, "\"000061000022 000022000062\"");
    }
}
