-- The admin incident console (issue 14 item 6): admins read, through the API's admin pool,
-- what the `spade` CLI records — incidents, their timelines, their evidence's metadata and
-- the detection alerts. Read-only: every change stays with the CLI (the owner login).
-- 0004 granted nothing on the incident tables; tenant_freezes, decoy_entities (0009) and
-- route_kill_switches (0007) are already readable by spade_firm_admin.
-- spade_app gets nothing: only admin staff-only routes read these, as spade_firm_admin.
SET LOCAL ROLE spade_owner;

GRANT SELECT ON incidents, incident_timeline_entries, detection_alerts TO spade_firm_admin;
-- Evidence: its name, hash, size and who added it — not where the file is stored on the
-- operator's host (stored_path); the console never serves evidence contents.
GRANT SELECT (id, incident_id, filename, sha256, size, added_at, added_by) ON incident_evidence TO spade_firm_admin;
