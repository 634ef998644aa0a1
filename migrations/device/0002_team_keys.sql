-- Device store schema v2: team keys received through verified key slots, inside the encrypted file.

-- TK[team, epoch], opened from a key slot whose signer was verified. Kept for every epoch:
-- older epochs are needed to read history sealed under them.
CREATE TABLE team_keys (
    team        TEXT NOT NULL,
    epoch       INTEGER NOT NULL,
    key         BLOB NOT NULL CHECK (length(key) = 32),
    signer      TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (team, epoch)
) WITHOUT ROWID;
