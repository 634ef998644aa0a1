-- Server schema v3: which cases a user's devices wrote in, so a user's fresh device can take its own caseload first (GET /v1/sync/mine).
CREATE INDEX envelopes_author_case ON envelopes(author, case_id) WHERE kind = 'change';
