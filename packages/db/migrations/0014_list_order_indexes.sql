-- Issue 13: keyset pages read a list in its order and stop after limit + 1 rows. A client's
-- files are listed oldest first by (created_at, id) among those not deleted; without an
-- index in that order PostgreSQL sorted all of a client's files for every page (the bench:
-- ≈ 6 ms of PostgreSQL CPU per page at 10,000 files). With it, a page is an index range scan
-- whatever the client's size or the page's depth. The index leads with client_id like
-- every tenant index (Citus: it lives on the tenant's shard).
SET LOCAL ROLE spade_owner;
CREATE INDEX files_client_created_idx ON files (client_id, created_at, id) WHERE deleted_at IS NULL;
RESET ROLE;
