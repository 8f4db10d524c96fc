-- One round trip per staff request instead of two: resolve a live staff session and the
-- clients its user serves in one narrow SECURITY DEFINER call (assignments are under RLS,
-- and the tenant is not known yet). Returns nothing for an unknown, revoked or expired
-- session or a disabled user, so the runbook's `UPDATE staff_sessions SET revoked_at = NOW()`
-- still ends the session on the very next request.
SET LOCAL ROLE spade_owner;

CREATE FUNCTION spade_resolve_staff_session(p_token_hash text)
  RETURNS TABLE (session_id uuid, staff_user_id uuid, role text, client_ids uuid[])
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    SELECT s.id, u.id, u.role,
           ARRAY(SELECT a.client_id FROM staff_client_assignments a WHERE a.staff_user_id = u.id)
    FROM staff_sessions s
    JOIN staff_users u ON u.id = s.staff_user_id
    WHERE s.token_hash = p_token_hash
      AND s.revoked_at IS NULL AND s.expires_at > now()
      AND u.disabled_at IS NULL
  $$;

GRANT SELECT ON staff_sessions, staff_users TO spade_definer;
REVOKE ALL ON FUNCTION spade_resolve_staff_session(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION spade_resolve_staff_session(text) TO spade_app;

RESET ROLE;
ALTER FUNCTION spade_resolve_staff_session(text) OWNER TO spade_definer;

-- Its predecessor, one of the two round trips this replaces, is no longer called.
DROP FUNCTION spade_staff_client_ids(uuid);
