-- Device store v7: what the app needs beyond the records themselves: drafts of forms being typed, and a quick way to the records with conflicts.

-- What was typed into a form and not yet saved (a visit note interrupted by a phone call, an
-- app closed mid-entry). Never synced: a draft is the worker's own scratch paper, inside the
-- encrypted file like everything else. The body is the front end's JSON, compressed
-- (store::codec).
CREATE TABLE drafts (
    key      TEXT PRIMARY KEY,
    label    TEXT NOT NULL,
    body     BLOB NOT NULL,
    saved_at TEXT NOT NULL
) WITHOUT ROWID;

-- Records with fields written concurrently on two devices: few, and listed for review.
CREATE INDEX entities_conflicted ON entities (case_id) WHERE conflicts > 0;
