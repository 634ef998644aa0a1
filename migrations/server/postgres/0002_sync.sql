-- tsunagi-server schema v2 (PostgreSQL): the sync log (envelopes in commit order), cases, case keys, grants, snapshots and team KEM keys.
-- The envelopes table of v1 never held data; it is replaced. Bodies are sealed envelopes as
-- pushed (docs/protocol.md); every other column is a public header field copied out of them.

DROP TABLE envelopes;

-- seq is assigned by the server as head + 1 inside the push transaction, which holds
-- pg_advisory_xact_lock(envelope log) from before it reads the head until it commits: sequence
-- numbers become visible in the order they are assigned (docs/server.md).
CREATE TABLE envelopes (
    seq BIGINT PRIMARY KEY,
    id BYTEA NOT NULL UNIQUE CHECK (octet_length(id) = 16),
    kind TEXT NOT NULL CHECK (kind IN ('change', 'snapshot', 'case_key', 'grant')),
    case_id BYTEA NOT NULL CHECK (octet_length(case_id) = 16),
    owner TEXT NOT NULL REFERENCES teams(id),
    target TEXT REFERENCES teams(id),
    epoch BIGINT NOT NULL,
    author TEXT NOT NULL REFERENCES devices(id),
    body BYTEA NOT NULL,
    received_at BIGINT NOT NULL
);
-- Ciphertext does not compress: store bodies out of line without trying.
ALTER TABLE envelopes ALTER COLUMN body SET STORAGE EXTERNAL;
CREATE INDEX envelopes_owner_seq ON envelopes(owner, seq);
CREATE INDEX envelopes_target_seq ON envelopes(target, seq) WHERE target IS NOT NULL;
CREATE INDEX envelopes_case_seq ON envelopes(case_id, seq);

-- A case belongs to the team whose device sealed its first case key.
CREATE TABLE cases (
    case_id BYTEA PRIMARY KEY CHECK (octet_length(case_id) = 16),
    owner TEXT NOT NULL REFERENCES teams(id),
    created_seq BIGINT NOT NULL
);

-- The key id of each case-key epoch (first one kept).
CREATE TABLE case_keys (
    case_id BYTEA NOT NULL REFERENCES cases(case_id),
    epoch BIGINT NOT NULL,
    key_id BYTEA NOT NULL CHECK (octet_length(key_id) = 16),
    seq BIGINT NOT NULL,
    PRIMARY KEY (case_id, epoch)
);

-- The latest grant per case and receiving team: it reads epochs from_epoch..until_epoch
-- (0 = open).
CREATE TABLE grants (
    case_id BYTEA NOT NULL REFERENCES cases(case_id),
    team TEXT NOT NULL REFERENCES teams(id),
    from_epoch BIGINT NOT NULL,
    until_epoch BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (case_id, team)
);
CREATE INDEX grants_team ON grants(team);

-- Snapshot envelopes with their public `covers`.
CREATE TABLE snapshots (
    seq BIGINT PRIMARY KEY REFERENCES envelopes(seq),
    case_id BYTEA NOT NULL,
    owner TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    covers BIGINT NOT NULL
);
CREATE INDEX snapshots_case_seq ON snapshots(case_id, seq);

-- TeamKEM[team, epoch] public keys, published by a member device (first one kept).
CREATE TABLE team_kems (
    team TEXT NOT NULL REFERENCES teams(id),
    epoch BIGINT NOT NULL,
    kem_pub BYTEA NOT NULL,
    device TEXT NOT NULL REFERENCES devices(id),
    sig BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (team, epoch)
);
