-- Device schema v10: a sync also counts, for IT, envelopes it refused because their author was revoked before it dated them (`revoked_author`); the table is rebuilt because SQLite cannot change a CHECK constraint in place.
CREATE TABLE chain_problems_v10 (
    kind     TEXT NOT NULL CHECK (kind IN ('fork', 'replayed', 'cursor_rollback', 'out_of_order', 'revoked_author')),
    author   BLOB NOT NULL,
    case_id  BLOB NOT NULL,
    count    INTEGER NOT NULL,
    first_at TEXT NOT NULL,
    last_at  TEXT NOT NULL,
    detail   TEXT NOT NULL,
    PRIMARY KEY (kind, author, case_id)
) WITHOUT ROWID;
INSERT INTO chain_problems_v10 (kind, author, case_id, count, first_at, last_at, detail)
    SELECT kind, author, case_id, count, first_at, last_at, detail FROM chain_problems;
DROP TABLE chain_problems;
ALTER TABLE chain_problems_v10 RENAME TO chain_problems;
