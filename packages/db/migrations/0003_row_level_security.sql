-- Layer 4 of DESIGN.md §4: PostgreSQL row-level security on every tenant table.
-- The tenant context is transaction-local: set_config('app.client_ids', '<uuid>[,<uuid>…]', true).
-- No context → the setting reads NULL or '' → NULLIF → NULL array → no row matches, no write passes.
-- A malformed value ('0', 'undefined') fails the uuid cast: the statement errors, nothing leaks.
SET LOCAL ROLE spade_owner;

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['contacts', 'staff_client_assignments', 'cycles', 'cycle_requests',
                           'request_items', 'files', 'contact_sessions', 'audit_events']
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format($p$
      CREATE POLICY tenant_isolation ON %I
        USING (client_id = ANY (string_to_array(NULLIF((SELECT current_setting('app.client_ids', true)), ''), ',')::uuid[]))
        WITH CHECK (client_id = ANY (string_to_array(NULLIF((SELECT current_setting('app.client_ids', true)), ''), ',')::uuid[]))
    $p$, t);
    EXECUTE format('CREATE POLICY admin_all ON %I TO spade_admin USING (true) WITH CHECK (true)', t);
  END LOOP;
END
$$;

-- The tenant table itself: a client row is visible when it is in the context.
ALTER TABLE clients ENABLE ROW LEVEL SECURITY;
ALTER TABLE clients FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON clients
  USING (id = ANY (string_to_array(NULLIF((SELECT current_setting('app.client_ids', true)), ''), ',')::uuid[]))
  WITH CHECK (id = ANY (string_to_array(NULLIF((SELECT current_setting('app.client_ids', true)), ''), ',')::uuid[]));
CREATE POLICY admin_all ON clients TO spade_admin USING (true) WITH CHECK (true);

-- Firm-wide audit events (client_id NULL: failed logins, operator actions) are written by
-- anyone but read only through spade_admin.
CREATE POLICY firm_wide_insert ON audit_events FOR INSERT WITH CHECK (client_id IS NULL);

-- Cross-tenant lookups that must happen before the tenant is known go through narrow
-- SECURITY DEFINER functions that take a token hash and return only the ids needed.
CREATE FUNCTION spade_resolve_magic_link(p_token_hash text)
  RETURNS TABLE (cycle_request_id uuid, client_id uuid, contact_id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    SELECT r.id, r.client_id, r.contact_id
    FROM cycle_requests r
    JOIN contacts c ON c.client_id = r.client_id AND c.id = r.contact_id
    WHERE r.token_hash = p_token_hash AND r.status = 'open' AND r.expires_at > now()
      AND c.deleted_at IS NULL
  $$;

-- A contact session is valid only while its request is open and unexpired, so the
-- runbook's `UPDATE cycle_requests SET expires_at = NOW()` ends it on the next request.
CREATE FUNCTION spade_resolve_contact_session(p_token_hash text)
  RETURNS TABLE (session_id uuid, client_id uuid, contact_id uuid, cycle_request_id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    SELECT s.id, s.client_id, s.contact_id, s.cycle_request_id
    FROM contact_sessions s
    JOIN cycle_requests r ON r.client_id = s.client_id AND r.id = s.cycle_request_id
    JOIN contacts c ON c.client_id = s.client_id AND c.id = s.contact_id
    WHERE s.token_hash = p_token_hash
      AND s.revoked_at IS NULL AND s.expires_at > now()
      AND r.status = 'open' AND r.expires_at > now()
      AND c.deleted_at IS NULL
  $$;

-- Which clients a staff member serves: needed to build a staff request's tenant context.
CREATE FUNCTION spade_staff_client_ids(p_staff_user_id uuid)
  RETURNS SETOF uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    SELECT a.client_id FROM staff_client_assignments a WHERE a.staff_user_id = p_staff_user_id
  $$;

GRANT SELECT ON cycle_requests, contact_sessions, contacts, staff_client_assignments TO spade_definer;
REVOKE ALL ON FUNCTION spade_resolve_magic_link(text), spade_resolve_contact_session(text), spade_staff_client_ids(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION spade_resolve_magic_link(text), spade_resolve_contact_session(text), spade_staff_client_ids(uuid) TO spade_app;

-- Handing a function to another role needs the migrating user's own membership.
RESET ROLE;
ALTER FUNCTION spade_resolve_magic_link(text) OWNER TO spade_definer;
ALTER FUNCTION spade_resolve_contact_session(text) OWNER TO spade_definer;
ALTER FUNCTION spade_staff_client_ids(uuid) OWNER TO spade_definer;
