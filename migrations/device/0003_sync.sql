-- Device store v3: sync state — case of every op and entity, case keys, outgoing key/grant envelopes, held and refused envelopes, cursors, certificates.

ALTER TABLE ops ADD COLUMN case_id BLOB;
ALTER TABLE entities ADD COLUMN case_id BLOB;
CREATE INDEX entities_case ON entities (case_id);

-- Case keys CK[case, epoch] this device holds (inside the encrypted file). team_epoch is the
-- owning team's key epoch when the key was made (never used for new changes after a rotation);
-- sealed_to is the highest owning-team epoch a slot of it is known for (re-sealing).
CREATE TABLE case_keys (
    case_id    BLOB NOT NULL,
    epoch      INTEGER NOT NULL,
    key_id     BLOB NOT NULL,
    key        BLOB NOT NULL CHECK (length(key) = 32),
    team       TEXT NOT NULL,
    team_epoch INTEGER NOT NULL,
    sealed_to  INTEGER NOT NULL,
    origin     TEXT NOT NULL CHECK (origin IN ('local', 'remote')),
    PRIMARY KEY (case_id, epoch)
) WITHOUT ROWID;

-- Which teams may read a case (from pulled or pushed grants).
CREATE TABLE case_grants (
    case_id     BLOB NOT NULL,
    team        TEXT NOT NULL,
    from_epoch  INTEGER NOT NULL,
    until_epoch INTEGER NOT NULL,   -- 0: open
    PRIMARY KEY (case_id, team)
) WITHOUT ROWID;

-- Sealed, signed case-key slots and grants waiting to be pushed (before any change they
-- enable), in order.
CREATE TABLE key_outbox (
    seq     INTEGER PRIMARY KEY,
    id      BLOB NOT NULL UNIQUE,
    case_id BLOB NOT NULL,
    epoch   INTEGER NOT NULL,
    body    BLOB NOT NULL
);

-- Local ops the server refused (kept in the op log; shown in the status; not re-sent).
CREATE TABLE push_refused (
    op_id   BLOB PRIMARY KEY,
    code    TEXT NOT NULL,
    message TEXT NOT NULL,
    at      TEXT NOT NULL
) WITHOUT ROWID;

-- Pulled envelopes that cannot be opened yet (their key has not arrived): retried.
CREATE TABLE held (
    seq    INTEGER PRIMARY KEY,
    body   BLOB NOT NULL,
    reason TEXT NOT NULL
);

-- Pulled envelopes that failed verification: never applied, kept for the audit.
CREATE TABLE pull_refused (
    seq    INTEGER PRIMARY KEY,
    body   BLOB NOT NULL,
    code   TEXT NOT NULL,
    detail TEXT NOT NULL,
    at     TEXT NOT NULL
);

-- Verified device certificates (authors of envelopes), JSON.
CREATE TABLE certs (
    device BLOB PRIMARY KEY,
    cert   TEXT NOT NULL
) WITHOUT ROWID;

-- Per case: server sequence of the latest snapshot known, and ops applied since (decides when
-- this device seals a new snapshot).
CREATE TABLE case_sync (
    case_id       BLOB PRIMARY KEY,
    snapshot_seq  INTEGER NOT NULL DEFAULT 0,
    ops_since     INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
