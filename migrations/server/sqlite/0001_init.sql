-- tsunagi-server schema v1 (SQLite): org, teams, users, enrollments, devices, key slots, nonces, envelopes.
-- Times are Unix milliseconds; binary values are raw bytes. Nothing here decrypts a record.

CREATE TABLE org (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    bootstrap_token_hash BLOB NOT NULL,
    admin_pub BLOB,
    org_recovery_pub BLOB,
    created_at INTEGER NOT NULL,
    bootstrapped_at INTEGER
);

CREATE TABLE teams (
    id TEXT PRIMARY KEY,
    program TEXT NOT NULL,
    current_epoch INTEGER,
    created_at INTEGER NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    team TEXT NOT NULL REFERENCES teams(id),
    role TEXT NOT NULL CHECK (role IN ('worker', 'lead')),
    created_at INTEGER NOT NULL
);
CREATE INDEX users_team ON users(team);

CREATE TABLE enrollments (
    code_hash BLOB PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    redeemed_at INTEGER,
    device TEXT
);

CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    sig_pub BLOB NOT NULL UNIQUE,
    kem_pub BLOB NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'active', 'revoked')),
    cert TEXT,
    enrolled_at INTEGER NOT NULL,
    approved_at INTEGER,
    revoked_at INTEGER,
    last_seen INTEGER
);
CREATE INDEX devices_user ON devices(user_id);

CREATE TABLE key_slots (
    team TEXT NOT NULL REFERENCES teams(id),
    epoch INTEGER NOT NULL,
    recipient TEXT NOT NULL,
    enc BLOB NOT NULL,
    ct BLOB NOT NULL,
    signer TEXT NOT NULL,
    sig BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (team, epoch, recipient)
);
CREATE INDEX key_slots_recipient ON key_slots(recipient);

CREATE TABLE nonces (
    key TEXT NOT NULL,
    nonce TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (key, nonce)
);
CREATE INDEX nonces_expiry ON nonces(expires_at);

-- Sealed change sets (push/pull: next issue). seq is assigned by the server; see docs/server.md
-- for how pulls never skip an envelope that commits late.
CREATE TABLE envelopes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    op_id TEXT NOT NULL UNIQUE,
    case_id TEXT NOT NULL,
    team TEXT NOT NULL REFERENCES teams(id),
    epoch INTEGER NOT NULL,
    author TEXT NOT NULL REFERENCES devices(id),
    body BLOB NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE INDEX envelopes_team_seq ON envelopes(team, seq);
CREATE INDEX envelopes_case_seq ON envelopes(case_id, seq);
