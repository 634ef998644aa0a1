-- Device store v8: every author's chain of change sets per case (docs/protocol.md "Chains"): the chain position of each local op, what was received of each author's chain, and the problems seen (forks, replays, rolled-back or disordered pages, envelopes a revoked device dated after its revocation).

-- A local op's place in this device's chain of its case, given when the op is first sealed and
-- kept for every later sealing (a crash or a re-seal never gives it another). server_seq: the
-- server's sequence number of any op (a local one on acknowledgement, a received one on
-- arrival): the same op again under another number is a replay.
ALTER TABLE ops ADD COLUMN chain_seq INTEGER;
ALTER TABLE ops ADD COLUMN chain_prev BLOB;
ALTER TABLE ops ADD COLUMN server_seq INTEGER;

-- Per author device (this one included: its own chain) and case: the contiguous head (every
-- chain seq up to `seq` received, or covered by a snapshot; `link` is the link at `seq`), the
-- highest seq seen, and how many links above the head were received. top - seq - beyond
-- changes of that author in that case are missing.
CREATE TABLE chain_heads (
    author  BLOB NOT NULL,
    case_id BLOB NOT NULL,
    seq     INTEGER NOT NULL,
    link    BLOB NOT NULL CHECK (length(link) = 32),
    top     INTEGER NOT NULL,
    beyond  INTEGER NOT NULL,
    PRIMARY KEY (author, case_id)
) WITHOUT ROWID;
CREATE INDEX chain_gaps ON chain_heads (case_id) WHERE top > seq;

-- Every link received (and given here): a second change at a known position, or one whose
-- `prev` contradicts a known link, is a fork.
CREATE TABLE chain_links (
    author  BLOB NOT NULL,
    case_id BLOB NOT NULL,
    seq     INTEGER NOT NULL,
    link    BLOB NOT NULL,
    prev    BLOB NOT NULL,
    PRIMARY KEY (author, case_id, seq)
) WITHOUT ROWID;

-- What the server did that a device detects and does not obey, counted per kind, author and
-- case (author and case empty for a refused page). Kept for IT; never cleared by a sync.
CREATE TABLE chain_problems (
    kind     TEXT NOT NULL CHECK (kind IN ('fork', 'replayed', 'cursor_rollback', 'out_of_order', 'revoked_author')),
    author   BLOB NOT NULL,
    case_id  BLOB NOT NULL,
    count    INTEGER NOT NULL,
    first_at TEXT NOT NULL,
    last_at  TEXT NOT NULL,
    detail   TEXT NOT NULL,
    PRIMARY KEY (kind, author, case_id)
) WITHOUT ROWID;
