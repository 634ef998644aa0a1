-- Server schema v4: each team's latest admin-signed statement (docs/identity.md, *Team statement*); the version only grows.
CREATE TABLE team_statements (
    team TEXT PRIMARY KEY REFERENCES teams(id),
    version BIGINT NOT NULL,
    body TEXT NOT NULL,
    stored_at BIGINT NOT NULL
);
