-- tsunagi-server schema v2 (SQLite): the sync log (envelopes in commit order), cases, case keys, grants, snapshots and team KEM keys.
-- The envelopes table of v1 never held data; it is replaced. Bodies are sealed envelopes as
-- pushed (docs/protocol.md); every other column is a public header field copied out of them.

DROP TABLE envelopes;

-- seq is assigned by the server as head + 1 inside the push transaction; SQLite has one
-- writer, so sequence numbers become visible in the order they are assigned.
CREATE TABLE envelopes (
    seq INTEGER PRIMARY KEY,
    id BLOB NOT NULL UNIQUE CHECK (length(id) = 16),
    kind TEXT NOT NULL CHECK (kind IN ('change', 'snapshot', 'case_key', 'grant')),
    case_id BLOB NOT NULL CHECK (length(case_id) = 16),
    owner TEXT NOT NULL REFERENCES teams(id),
    target TEXT REFERENCES teams(id),
    epoch INTEGER NOT NULL,
    author TEXT NOT NULL REFERENCES devices(id),
    body BLOB NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE INDEX envelopes_owner_seq ON envelopes(owner, seq);
CREATE INDEX envelopes_target_seq ON envelopes(target, seq) WHERE target IS NOT NULL;
CREATE INDEX envelopes_case_seq ON envelopes(case_id, seq);

-- A case belongs to the team whose device sealed its first case key.
CREATE TABLE cases (
    case_id BLOB PRIMARY KEY CHECK (length(case_id) = 16),
    owner TEXT NOT NULL REFERENCES teams(id),
    created_seq INTEGER NOT NULL
);

-- The key id of each case-key epoch (first one kept).
CREATE TABLE case_keys (
    case_id BLOB NOT NULL REFERENCES cases(case_id),
    epoch INTEGER NOT NULL,
    key_id BLOB NOT NULL CHECK (length(key_id) = 16),
    seq INTEGER NOT NULL,
    PRIMARY KEY (case_id, epoch)
);

-- The latest grant per case and receiving team: it reads epochs from_epoch..until_epoch
-- (0 = open).
CREATE TABLE grants (
    case_id BLOB NOT NULL REFERENCES cases(case_id),
    team TEXT NOT NULL REFERENCES teams(id),
    from_epoch INTEGER NOT NULL,
    until_epoch INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (case_id, team)
);
CREATE INDEX grants_team ON grants(team);

-- Snapshot envelopes with their public `covers`.
CREATE TABLE snapshots (
    seq INTEGER PRIMARY KEY REFERENCES envelopes(seq),
    case_id BLOB NOT NULL,
    owner TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    covers INTEGER NOT NULL
);
CREATE INDEX snapshots_case_seq ON snapshots(case_id, seq);

-- TeamKEM[team, epoch] public keys, published by a member device (first one kept).
CREATE TABLE team_kems (
    team TEXT NOT NULL REFERENCES teams(id),
    epoch INTEGER NOT NULL,
    kem_pub BLOB NOT NULL,
    device TEXT NOT NULL REFERENCES devices(id),
    sig BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (team, epoch)
);
