//! Japanese full-text search over notes, inside the encrypted file.
//!
//! FTS5's trigram tokenizer indexes every 3-character substring, so a query of 3+ characters is
//! a phrase of trigrams. It cannot answer 1–2 character queries (認知, 児童, 母), which matter in
//! Japanese, so a second index holds every character bigram of the note as a token (each
//! character hex-encoded, so no tokenizer rule can split or fold it): a 2-character query is one
//! token, a 1-character query a prefix of tokens. Both indexes store no text of their own
//! (contentless); text and query are normalized the same way (NFKC, lower case, runs of
//! whitespace as one break).

use unicode_normalization::UnicodeNormalization;

/// Text as indexed and queried: NFKC (full-width ASCII and half-width katakana fold to one
/// form), lower case, whitespace runs collapsed to one space, trimmed.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.nfkc().flat_map(char::to_lowercase) {
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

fn hex_char(out: &mut String, c: char) {
    use std::fmt::Write;
    let _ = write!(out, "{:06x}", c as u32);
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

/// One search query split into FTS5 expressions: for the trigram index (terms of 3+
/// characters) and for the bigram index (terms of 1–2 characters). All terms must match.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// MATCH expression for the trigram index, if any long term.
    pub trigram: Option<String>,
    /// MATCH expression for the bigram index, if any short term.
    pub bigram: Option<String>,
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
        let mut long = Vec::new();
        let mut short = Vec::new();
        for t in &terms {
            let n = t.chars().count();
            if n >= 3 {
                long.push(format!("\"{}\"", t.replace('"', "\"\"")));
            } else {
                let mut tok = String::new();
                for c in t.chars() {
                    hex_char(&mut tok, c);
                }
                if n == 1 {
                    tok.push('*');
                }
                short.push(tok);
            }
        }
        let join = |v: Vec<String>| (!v.is_empty()).then(|| v.join(" AND "));
        Query {
            trigram: join(long),
            bigram: join(short),
            terms,
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

    #[test]
    fn bigram_document_covers_pairs_and_word_ends() {
        // 認知症 → 認知, 知症, 症(end)
        assert_eq!(
            bigram_document("認知症"),
            "008a8d0077e5 0077e50075c7 0075c7"
        );
        assert_eq!(bigram_document("a b"), "000061 000062");
        assert_eq!(bigram_document(""), "");
    }

    #[test]
    fn query_splits_terms_by_length() {
        let q = Query::parse("認知 訪問した 母");
        assert_eq!(q.trigram.as_deref(), Some("\"訪問した\""));
        assert_eq!(q.bigram.as_deref(), Some("008a8d0077e5 AND 006bcd*"));
        assert!(Query::parse("  　 ").is_empty());
        assert_eq!(
            Query::parse("a\"b\"c").trigram.as_deref(),
            Some("\"a\"\"b\"\"c\"")
        );
    }
}
