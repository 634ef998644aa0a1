-- Device store v5: the full-text index collects up to 16 MiB of postings in memory before it writes a segment.

-- FTS5 writes its in-memory postings as a new index segment at every commit, or when they
-- pass `hashsize` (1 MiB by default). A fresh device indexes a whole page of snapshots (tens of
-- thousands of notes) in one transaction: at 1 MiB it wrote a segment every ~200 notes and
-- spent a sixth of that transaction merging them again. Small transactions (a save, the
-- background indexer's batches) never reach the limit, so they use no more memory than before.
INSERT INTO contact_grams (contact_grams, rank) VALUES ('hashsize', 16777216);
