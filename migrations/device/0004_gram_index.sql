-- Device store v4: one full-text index of character bigrams with positions replaces the trigram and position-less bigram indexes.

-- A query of 3+ characters is a phrase of its overlapping bigrams (adjacent positions), which
-- matches exactly where the trigram index did; a 2-character query is one token, a
-- 1-character query a token prefix. Indexing a note costs about a quarter of the two indexes
-- it replaces (the trigram vocabulary of Japanese text is huge). Tokens are hex-encoded
-- character pairs (see store::search), contentless as before.
DROP TABLE contact_fts;
DROP TABLE contact_bigram;
CREATE VIRTUAL TABLE contact_grams USING fts5 (
    grams, content = '', contentless_delete = 1
);
INSERT INTO contact_grams (contact_grams, rank) VALUES ('automerge', 0);
INSERT INTO contact_grams (contact_grams, rank) VALUES ('crisismerge', 64);

-- Every contact is indexed again (by the background thread, or by the first search).
INSERT INTO fts_queue (rowid, reindex)
SELECT rowid, 1 FROM contacts WHERE true
ON CONFLICT (rowid) DO UPDATE SET reindex = 1;
