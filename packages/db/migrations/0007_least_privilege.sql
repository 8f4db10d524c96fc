-- Least privilege that does not trust the API process (issue 9).
--
-- 1. spade_app is a member of no all-seeing role. 0001 let it `SET ROLE spade_admin`, whose
--    policies admit every row: any SQL on the app's connection was one set_config('role', …)
--    away from every tenant. Admin firm-wide reads now log in as their own role,
--    spade_admin_login (NOINHERIT, member of spade_admin), through their own pool.
-- 2. Neither spade_app nor spade_admin can read a password hash or a token hash: column
--    privileges instead of table privileges. Sign-in goes through narrow SECURITY DEFINER
--    functions that take the presented secret's hash and return ids and verdicts only.
-- 3. spade_app can no longer create staff sessions or staff users (either would be a
--    take-over: a session row with a hash the attacker chose, an admin with a known
--    password); a session is created only by spade_staff_login after a password check.

-- Roles are cluster-wide: tolerate another database's migrator having done this first.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'spade_admin_login') THEN
    BEGIN
      CREATE ROLE spade_admin_login LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;
    END;
  END IF;
END
$$;

DO $$
BEGIN
  GRANT spade_admin TO spade_admin_login;
EXCEPTION WHEN unique_violation OR duplicate_object OR serialization_failure THEN
  NULL;
END
$$;

-- Revoke every grant of spade_admin to spade_app, whoever made it; a concurrent revoke from
-- another database is fine, a membership that survives is not.
DO $$
DECLARE
  g record;
BEGIN
  BEGIN
    REVOKE spade_admin FROM spade_app;
  EXCEPTION WHEN OTHERS THEN
    NULL;
  END;
  FOR g IN SELECT m.grantor::regrole::text AS grantor FROM pg_auth_members m
            WHERE m.roleid = 'spade_admin'::regrole AND m.member = 'spade_app'::regrole
  LOOP
    BEGIN
      EXECUTE format('REVOKE spade_admin FROM spade_app GRANTED BY %s', g.grantor);
    EXCEPTION WHEN OTHERS THEN
      NULL;
    END;
  END LOOP;
  IF pg_has_role('spade_app', 'spade_admin', 'MEMBER') THEN
    RAISE EXCEPTION 'spade_app is still a member of spade_admin; revoke it by hand (the grantor may be another superuser)';
  END IF;
END
$$;

SET LOCAL ROLE spade_owner;

-- Per-account lockout, kept where only the sign-in function reads and writes it.
ALTER TABLE staff_users
  ADD COLUMN failed_login_count integer NOT NULL DEFAULT 0 CHECK (failed_login_count >= 0),
  ADD COLUMN locked_until timestamptz;

-- Column privileges: a column-level revoke is void while a table-level grant stands, so the
-- table-level SELECT goes and the readable columns are granted one by one.
REVOKE SELECT ON staff_users, staff_sessions, cycle_requests, contact_sessions FROM spade_app, spade_admin;
REVOKE INSERT, UPDATE ON staff_users FROM spade_app;
REVOKE INSERT, UPDATE ON staff_sessions FROM spade_app;
REVOKE UPDATE ON staff_users, staff_sessions FROM spade_admin;

GRANT SELECT (id, email, name, role, disabled_at, created_at, updated_at) ON staff_users TO spade_app, spade_admin;
GRANT SELECT (id, staff_user_id, created_at, expires_at, last_seen_at, revoked_at, revoked_reason) ON staff_sessions
  TO spade_app, spade_admin;
GRANT SELECT (id, client_id, cycle_id, contact_id, expires_at, status, message, created_by, sent_at, created_at, updated_at)
  ON cycle_requests TO spade_app, spade_admin;
GRANT SELECT (id, client_id, contact_id, cycle_request_id, created_at, expires_at, revoked_at) ON contact_sessions
  TO spade_app, spade_admin;
-- Logout ends the caller's own session; admins revoke anyone's and manage staff users.
GRANT UPDATE (revoked_at, revoked_reason, last_seen_at) ON staff_sessions TO spade_app;
GRANT UPDATE (revoked_at, revoked_reason) ON staff_sessions TO spade_admin;
GRANT UPDATE (name, role, disabled_at, updated_at) ON staff_users TO spade_admin;

-- What the sign-in function itself needs (it runs as spade_definer).
GRANT UPDATE (failed_login_count, locked_until) ON staff_users TO spade_definer;
GRANT INSERT ON staff_sessions TO spade_definer;

-- The scrypt parameters and salt of an account's password (`scrypt$N$r$p$salt`), never the
-- hash: the API derives the presented password's hash with them and hands that to
-- spade_staff_login. An unknown or disabled account gets a stable salt derived from the
-- email, so both cases cost the caller the same scrypt.
CREATE FUNCTION spade_staff_password_params(p_email text)
  RETURNS text
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  DECLARE
    stored text;
  BEGIN
    SELECT u.password_hash INTO stored FROM staff_users u
     WHERE lower(u.email) = lower(p_email) AND u.disabled_at IS NULL;
    IF stored IS NOT NULL AND split_part(stored, '$', 1) = 'scrypt' AND split_part(stored, '$', 6) <> '' THEN
      RETURN array_to_string((string_to_array(stored, '$'))[1:5], '$');
    END IF;
    RETURN 'scrypt$16384$8$1$' || translate(rtrim(encode(substring(sha256(convert_to('spade:unknown:' || lower(p_email), 'UTF8')) FROM 1 FOR 16), 'base64'), '='), '+/', '-_');
  END
  $$;

-- Sign-in: compares the presented password's hash, counts failures per account (five in a
-- row lock it for 1 minute, doubling each further failure up to an hour), and on success
-- creates the staff session whose token hash the caller chose. Returns a verdict, ids and
-- the user's (readable anyway) name and role: the caller runs it outside any transaction
-- of its own, so a failure is counted even though the request then fails.
-- Verdicts: ok | unknown_email | wrong_password | locked.
CREATE FUNCTION spade_staff_login(p_email text, p_password_hash text, p_session_token_hash text, p_session_expires_at timestamptz)
  RETURNS TABLE (verdict text, staff_user_id uuid, session_id uuid, email text, name text, role text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  DECLARE
    u record;
    failures integer;
    sid uuid;
  BEGIN
    SELECT s.id, s.email, s.name, s.role, s.password_hash, s.failed_login_count, s.locked_until INTO u
      FROM staff_users s WHERE lower(s.email) = lower(p_email) AND s.disabled_at IS NULL
      FOR UPDATE;
    IF NOT FOUND THEN
      RETURN QUERY SELECT 'unknown_email'::text, NULL::uuid, NULL::uuid, NULL::text, NULL::text, NULL::text;
      RETURN;
    END IF;
    IF u.locked_until IS NOT NULL AND u.locked_until > now() THEN
      RETURN QUERY SELECT 'locked'::text, u.id, NULL::uuid, NULL::text, NULL::text, NULL::text;
      RETURN;
    END IF;
    IF p_password_hash IS NULL OR p_password_hash IS DISTINCT FROM u.password_hash THEN
      failures := u.failed_login_count + 1;
      UPDATE staff_users SET failed_login_count = failures,
             locked_until = CASE WHEN failures >= 5
                                 THEN now() + least(interval '1 minute' * power(2, least(failures - 5, 10)), interval '1 hour')
                            END
       WHERE id = u.id;
      RETURN QUERY SELECT 'wrong_password'::text, u.id, NULL::uuid, NULL::text, NULL::text, NULL::text;
      RETURN;
    END IF;
    IF p_session_token_hash IS NULL OR p_session_token_hash !~ '^[0-9a-f]{64}$' OR p_session_expires_at IS NULL THEN
      RAISE EXCEPTION 'spade_staff_login: a session token hash (sha256 hex) and an expiry are required';
    END IF;
    IF u.failed_login_count <> 0 OR u.locked_until IS NOT NULL THEN
      UPDATE staff_users SET failed_login_count = 0, locked_until = NULL WHERE id = u.id;
    END IF;
    INSERT INTO staff_sessions (staff_user_id, token_hash, expires_at)
      VALUES (u.id, p_session_token_hash, least(p_session_expires_at, now() + interval '7 days'))
      RETURNING id INTO sid;
    RETURN QUERY SELECT 'ok'::text, u.id, sid, u.email, u.name, u.role;
  END
  $$;

-- The published demo passwords (`pnpm db:seed`) still in use? Only for the two demo
-- emails, so it is no password oracle for any real account. The caller derives each demo
-- password's hash with spade_staff_password_params.
CREATE FUNCTION spade_demo_login_in_use(p_email text, p_password_hash text)
  RETURNS boolean
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  BEGIN
    IF lower(p_email) NOT IN ('admin@spade.test', 'staff@spade.test') THEN
      RETURN false;
    END IF;
    RETURN EXISTS (SELECT 1 FROM staff_users u
                    WHERE lower(u.email) = lower(p_email) AND u.disabled_at IS NULL AND u.password_hash = p_password_hash);
  END
  $$;

REVOKE ALL ON FUNCTION spade_staff_password_params(text), spade_staff_login(text, text, text, timestamptz),
  spade_demo_login_in_use(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION spade_staff_password_params(text), spade_staff_login(text, text, text, timestamptz),
  spade_demo_login_in_use(text, text) TO spade_app;

RESET ROLE;
ALTER FUNCTION spade_staff_password_params(text) OWNER TO spade_definer;
ALTER FUNCTION spade_staff_login(text, text, text, timestamptz) OWNER TO spade_definer;
ALTER FUNCTION spade_demo_login_in_use(text, text) OWNER TO spade_definer;
