-- Issue 13: a deep page of a list should cost what its first page costs. Lists are read by
-- keyset (apps/api routes/pagination.ts): the rows after the last row's sort keys. A
-- timestamptz(6) key has microseconds, more than the JavaScript Date the API reads it into,
-- so a cursor cannot carry it exactly and such lists were read with Prisma's cursor, which
-- compares with the cursor row's own values through three subqueries PostgreSQL plans on
-- every deep page (≈ 0.6 ms of planning against 0.25 ms for the first page at 10,000 files).
-- Stored to the millisecond, the key round-trips exactly through the cursor and a deep page
-- is the same plain range condition as the first. The columns ordering a list get
-- millisecond precision; PostgreSQL rounds every value written to them from now on,
-- whoever writes it (Prisma, the bulk SQL of the seeds and the bench, a runbook statement).
-- Existing values are rounded once here (a table rewrite: on a large files table this
-- holds its lock for the rewrite; run it in a quiet window). Rows that land in the same
-- millisecond are ordered by id, as ties always were.
-- audit_events.occurred_at keeps its microseconds: it is sealed into the audit digests and
-- must not change; the audit lists keep Prisma's cursor.
SET LOCAL ROLE spade_owner;
ALTER TABLE files ALTER COLUMN created_at TYPE timestamptz(3);
ALTER TABLE cycles ALTER COLUMN created_at TYPE timestamptz(3);
ALTER TABLE cycle_requests ALTER COLUMN created_at TYPE timestamptz(3);
ALTER TABLE staff_client_assignments ALTER COLUMN created_at TYPE timestamptz(3);
ALTER TABLE recurring_schedules ALTER COLUMN created_at TYPE timestamptz(3);
RESET ROLE;
