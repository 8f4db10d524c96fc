-- Issue 13: a client-scoped request needs only "is this one client assigned to this staff
-- member?", not the whole list (≈1.9 µs per assigned client, ≈1.4 ms at 1,000 clients, in
-- node and PostgreSQL together). This lookup answers for one client: client_ids is that
-- client when assigned, empty otherwise — the shape spade_resolve_staff_session returns, so
-- the API's actor is built the same way. Staff-only routes keep the list lookup (their
-- unit's RLS context is the whole list). PL/pgSQL (plan kept per connection), SECURITY
-- DEFINER owned by spade_definer like the other lookups, executable by spade_app only.
SET LOCAL ROLE spade_owner;
CREATE FUNCTION spade_resolve_staff_session_for_client(p_token_hash text, p_client_id uuid)
  RETURNS TABLE (session_id uuid, staff_user_id uuid, role text, client_ids uuid[], second_factor_pending boolean)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  BEGIN
    RETURN QUERY
      SELECT s.id, u.id, u.role,
             CASE WHEN p_client_id IS NOT NULL AND EXISTS (
                    SELECT 1 FROM staff_client_assignments a
                     WHERE a.staff_user_id = u.id AND a.client_id = p_client_id)
                  THEN ARRAY[p_client_id] ELSE ARRAY[]::uuid[] END,
             s.second_factor_pending
        FROM staff_sessions s
        JOIN staff_users u ON u.id = s.staff_user_id
       WHERE s.token_hash = p_token_hash
         AND s.revoked_at IS NULL AND s.expires_at > now()
         AND u.disabled_at IS NULL;
  END
  $$;
REVOKE ALL ON FUNCTION spade_resolve_staff_session_for_client(text, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION spade_resolve_staff_session_for_client(text, uuid) TO spade_app;
RESET ROLE;
ALTER FUNCTION spade_resolve_staff_session_for_client(text, uuid) OWNER TO spade_definer;
