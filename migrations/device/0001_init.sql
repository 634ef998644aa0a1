-- Device store schema v1: op log (outbox), merged entity states, query projections, full-text indexes, access log.

-- Small settings of this store (device id, last HLC).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Every change set known here, local or received. The outbox is the local ones not yet
-- acknowledged by the server. Kept whole for audit and resending.
CREATE TABLE ops (
    seq     INTEGER PRIMARY KEY,
    op_id   BLOB NOT NULL UNIQUE,
    kind    TEXT NOT NULL,
    entity  BLOB NOT NULL,
    hlc     TEXT NOT NULL,
    device  BLOB NOT NULL,
    body    BLOB NOT NULL,       -- store::codec: deflate-compressed JSON of the ChangeBody
    local   INTEGER NOT NULL CHECK (local IN (0, 1)),
    pushed  INTEGER NOT NULL DEFAULT 0 CHECK (pushed IN (0, 1))
);
CREATE INDEX ops_outbox ON ops (seq) WHERE local = 1 AND pushed = 0;
CREATE INDEX ops_entity ON ops (entity);

-- The merged state (merge::EntityState as JSON) of every entity; rowid shared with the
-- projection tables below.
CREATE TABLE entities (
    rowid       INTEGER PRIMARY KEY,
    id          BLOB NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    state       BLOB NOT NULL,   -- store::codec: deflate-compressed JSON of the EntityState
    deleted     INTEGER NOT NULL DEFAULT 0,
    conflicts   INTEGER NOT NULL DEFAULT 0,
    updated_hlc TEXT NOT NULL
);
CREATE INDEX entities_kind ON entities (kind);

-- Projections: only what lists, filters and joins need; the record itself is in entities.
CREATE TABLE persons (
    rowid     INTEGER PRIMARY KEY REFERENCES entities (rowid),
    id        BLOB NOT NULL UNIQUE,
    name      TEXT NOT NULL,
    kana      TEXT NOT NULL,
    search    TEXT NOT NULL,
    district  TEXT NOT NULL,
    programs  TEXT NOT NULL,
    status    TEXT NOT NULL
);
CREATE INDEX persons_kana ON persons (kana);

CREATE TABLE contacts (
    rowid     INTEGER PRIMARY KEY REFERENCES entities (rowid),
    id        BLOB NOT NULL UNIQUE,
    person    BLOB NOT NULL,
    at        TEXT NOT NULL,
    channel   TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    stage     INTEGER,
    next_due  TEXT
);
-- Covering index: a person's timeline and summary read no table rows.
CREATE INDEX contacts_person_at ON contacts (person, at DESC, stage, next_due);
-- Newest-first search results walk this when a term matches many notes.
CREATE INDEX contacts_at ON contacts (at DESC);
CREATE INDEX contacts_due ON contacts (next_due) WHERE next_due IS NOT NULL;

-- Per person: the latest contact, the trust stage of the latest contact that recorded one,
-- and the next-step date of the latest contact that set one. Maintained in the write
-- transaction, so the caseload reads one row per person whatever the history's length.
CREATE TABLE person_summary (
    person          BLOB PRIMARY KEY,
    last_contact_at TEXT,
    stage           INTEGER,
    next_due        TEXT
) WITHOUT ROWID;

CREATE TABLE assessments (
    rowid      INTEGER PRIMARY KEY REFERENCES entities (rowid),
    id         BLOB NOT NULL UNIQUE,
    person     BLOB NOT NULL,
    at         TEXT NOT NULL,
    instrument TEXT NOT NULL,
    total      INTEGER,
    complete   INTEGER NOT NULL,
    alerts     INTEGER NOT NULL
);
CREATE INDEX assessments_person_at ON assessments (person, at DESC);

-- Full-text search over contact notes (rowid = contacts.rowid), inside the encrypted file.
-- Queries of 3+ characters use the trigram index; 1-2 character queries (認知, 児童) use the
-- character-bigram index, whose tokens are hex-encoded character pairs (see store::search).
CREATE VIRTUAL TABLE contact_fts USING fts5 (
    note, content = '', contentless_delete = 1, tokenize = 'trigram'
);
CREATE VIRTUAL TABLE contact_bigram USING fts5 (
    grams, content = '', contentless_delete = 1, detail = none
);
-- Contacts whose note is to be (re)indexed (reindex = 1) or only removed from both indexes
-- (reindex = 0). A save queues its contact here in its own transaction; the store's background
-- thread indexes the queue in small batches (one index segment per batch instead of per save),
-- and a search first indexes whatever is still queued, so results are always complete. The
-- queue survives a crash: indexing resumes at the next open.
CREATE TABLE fts_queue (
    rowid   INTEGER PRIMARY KEY,
    reindex INTEGER NOT NULL CHECK (reindex IN (0, 1))
);

-- Index segments are merged by the store's background thread, not inside the worker's save
-- (an automatic merge can take tens of milliseconds). A crisis merge inside a save remains the
-- safety net, only when 64 segments pile up on one level.
INSERT INTO contact_fts (contact_fts, rank) VALUES ('automerge', 0);
INSERT INTO contact_bigram (contact_bigram, rank) VALUES ('automerge', 0);
INSERT INTO contact_fts (contact_fts, rank) VALUES ('crisismerge', 64);
INSERT INTO contact_bigram (contact_bigram, rank) VALUES ('crisismerge', 64);

-- Who opened which person, when, for how long. Each row's hash covers the previous row's
-- hash, so editing or deleting a row breaks the chain.
-- An 'open' row is written when a person's record is opened (so a crash still leaves a
-- trace) and a 'close' row, naming the open row, with the duration.
CREATE TABLE access_log (
    seq         INTEGER PRIMARY KEY,
    event       TEXT NOT NULL CHECK (event IN ('open', 'close')),
    person      BLOB NOT NULL,
    actor       TEXT NOT NULL,
    at          TEXT NOT NULL,
    opened_seq  INTEGER,
    duration_ms INTEGER,
    prev_hash   BLOB NOT NULL,
    hash        BLOB NOT NULL
);
