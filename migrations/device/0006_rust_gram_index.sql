-- Device store v6: the bigram index with positions moves out of FTS5 into plain tables built and read by the store (crate::grams).

-- FTS5 cost a fresh device about 230 µs per 700-character note, mostly one cache miss per
-- token in its in-memory hash of postings; the same postings built in Rust cost a fraction
-- of that. The index still holds no text: posting lists of (document, position), inside the
-- encrypted file like everything else.
DROP TABLE contact_grams;

-- Each indexed version of a contact's note is a document with a fresh number. Only the live
-- ones are here; a search counts nothing else.
CREATE TABLE gram_docs (
    doc     INTEGER PRIMARY KEY,
    contact INTEGER NOT NULL UNIQUE
);

-- Documents no longer live whose postings a merge has still to drop, and the next document
-- number when each died (a merge that began later drops it everywhere it merges).
CREATE TABLE gram_dead (
    doc   INTEGER PRIMARY KEY,
    since INTEGER NOT NULL
);

-- Segments: what one indexing transaction (or one merge) wrote, covering documents lo..hi.
CREATE TABLE gram_segs (
    seg   INTEGER PRIMARY KEY,
    lo    INTEGER NOT NULL,
    hi    INTEGER NOT NULL,
    docs  INTEGER NOT NULL,
    bytes INTEGER NOT NULL
);

-- One row per segment and gram (two characters, or a word-final one): its occurrences as
-- varints of (document, position) deltas.
CREATE TABLE gram_rows (
    seg      INTEGER NOT NULL,
    gram     INTEGER NOT NULL,
    postings BLOB NOT NULL,
    PRIMARY KEY (seg, gram)
) WITHOUT ROWID;

-- The next document number, and the merge in progress (if any): its target segment, its
-- input segments, the first gram not yet moved, and the next document number when it began.
CREATE TABLE gram_state (
    one           INTEGER PRIMARY KEY CHECK (one = 1),
    next_doc      INTEGER NOT NULL,
    merge_target  INTEGER,
    merge_inputs  TEXT,
    merge_cursor  INTEGER,
    merge_started INTEGER
);
INSERT INTO gram_state (one, next_doc) VALUES (1, 1);

-- Every contact is indexed again (by the background thread, or by the first search).
INSERT INTO fts_queue (rowid, reindex)
SELECT rowid, 1 FROM contacts WHERE true
ON CONFLICT (rowid) DO UPDATE SET reindex = 1;
