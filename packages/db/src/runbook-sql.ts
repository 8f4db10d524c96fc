/**
 * The three SQL statements of the suspected-tenant-leak runbook, verbatim (comments
 * included) — one copy for every test that runs them as an operator would paste them.
 * runbook-sql.test.ts proves they are still the spec's and the repo runbook's text.
 * Only the <placeholders> are ever replaced.
 */
export const RUNBOOK_SQL = Object.freeze({
  revokeStaffSessions: `-- Revoke every active staff session — users will re-login
UPDATE staff_sessions
SET revoked_at = NOW(), revoked_reason = 'tenant_leak_investigation'
WHERE revoked_at IS NULL;`,

  expireRequest: `UPDATE cycle_requests
SET expires_at = NOW()
WHERE id = '<suspected-request-id>';`,

  auditActor: `-- All cross-tenant reads by the suspect actor in the last 24h
SELECT
  ae.occurred_at,
  ae.event_type,
  ae.actor_id,
  ae.client_id AS accessed_client,
  ae.entity_type,
  ae.entity_id,
  ae.event_data_json
FROM audit_events ae
WHERE ae.actor_id = '<staff_user_or_contact_id>'
  AND ae.occurred_at > NOW() - INTERVAL '24 hours'
  AND ae.event_type IN ('cycle.read', 'file.downloaded', 'cross_tenant_read')
ORDER BY ae.occurred_at DESC;`,
});
