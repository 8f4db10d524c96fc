-- Least privilege that does not trust the API process (issue 9).
--
-- 1. spade_app is a member of no all-seeing role. 0001 let it `SET ROLE spade_admin`, whose
--    policies admit every row: any SQL on the app's connection was one set_config('role', …)
--    away from every tenant. The all-seeing policies and grants move to a new role,
--    spade_firm_admin, which only spade_admin_login (NOINHERIT, the admin pool's own login)
--    is a member of; spade_admin keeps no grant and no policy. Revoking spade_admin from
--    spade_app alone would not do: roles are cluster-wide and 0001, run for any new database
--    in the same cluster, grants it again.
-- 2. Neither spade_app nor spade_firm_admin can read a password hash or a token hash: column
--    privileges instead of table privileges. Sign-in goes through narrow SECURITY DEFINER
--    functions that take the presented secret's hash and return ids and verdicts only.
-- 3. spade_app can no longer create staff sessions or staff users (either would be a
--    take-over: a session row with a hash the attacker chose, an admin with a known
--    password); a session is created only by spade_staff_login after a password check.

-- Roles are cluster-wide: tolerate another database's migrator having done this first.
DO $$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT * FROM (VALUES
      ('spade_admin_login', 'LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT'),
      ('spade_firm_admin',  'NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE')
    ) AS t(name, attrs)
  LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r.name) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I %s', r.name, r.attrs);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;
      END;
    END IF;
  END LOOP;
END
$$;

DO $$
BEGIN
  GRANT spade_firm_admin TO spade_admin_login;
EXCEPTION WHEN unique_violation OR duplicate_object OR serialization_failure THEN
  NULL;
END
$$;

GRANT USAGE ON SCHEMA public TO spade_firm_admin;

-- Revoke spade_admin from spade_app (0001 granted it) and from spade_admin_login (an
-- earlier draft of this file did), whoever granted it. Best effort: a migrator of another
-- database in this cluster may grant it again, which is why spade_admin sees nothing any
-- more; the API's boot check refuses membership of any role a policy names.
DO $$
DECLARE
  who text;
  g record;
BEGIN
  FOREACH who IN ARRAY ARRAY['spade_app', 'spade_admin_login'] LOOP
    BEGIN
      EXECUTE format('REVOKE spade_admin FROM %I', who);
    EXCEPTION WHEN OTHERS THEN
      NULL;
    END;
    FOR g IN SELECT m.grantor::regrole::text AS grantor FROM pg_auth_members m
              WHERE m.roleid = 'spade_admin'::regrole AND m.member = who::regrole
    LOOP
      BEGIN
        EXECUTE format('REVOKE spade_admin FROM %I GRANTED BY %s', who, g.grantor);
      EXCEPTION WHEN OTHERS THEN
        NULL;
      END;
    END LOOP;
  END LOOP;
END
$$;

SET LOCAL ROLE spade_owner;

-- The all-seeing policies now admit spade_firm_admin; spade_admin keeps no table grant.
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['clients', 'contacts', 'staff_client_assignments', 'cycles', 'cycle_requests',
                           'request_items', 'files', 'contact_sessions', 'audit_events']
  LOOP
    EXECUTE format('ALTER POLICY admin_all ON %I TO spade_firm_admin', t);
  END LOOP;
END
$$;
REVOKE ALL ON clients, contacts, staff_users, staff_sessions, staff_client_assignments, cycles, cycle_requests,
  request_items, files, contact_sessions, audit_events, route_kill_switches FROM spade_admin;
GRANT SELECT ON clients, contacts, staff_client_assignments, cycles, request_items, files, audit_events, route_kill_switches
  TO spade_firm_admin;
GRANT INSERT, UPDATE ON clients TO spade_firm_admin;
GRANT INSERT ON staff_users TO spade_firm_admin;
GRANT INSERT, DELETE ON staff_client_assignments TO spade_firm_admin;
GRANT INSERT ON audit_events TO spade_firm_admin;

-- Per-account lockout, kept where only the sign-in function reads and writes it.
ALTER TABLE staff_users
  ADD COLUMN failed_login_count integer NOT NULL DEFAULT 0 CHECK (failed_login_count >= 0),
  ADD COLUMN locked_until timestamptz;

-- Optional TOTP second factor. The secret (base32) is read only by the functions below, and
-- only for the holder of a session token; recovery codes are stored as SHA-256 hashes.
ALTER TABLE staff_users
  ADD COLUMN totp_secret text,
  ADD COLUMN totp_pending_secret text,
  ADD COLUMN totp_enabled_at timestamptz,
  ADD COLUMN totp_last_time_step bigint,
  ADD COLUMN recovery_code_hashes text[] NOT NULL DEFAULT '{}';
-- A session whose password was right but whose second factor is still owed: it resolves to
-- no one, except on the second-factor routes.
ALTER TABLE staff_sessions ADD COLUMN second_factor_pending boolean NOT NULL DEFAULT false;

-- Firm-wide settings, one row. Admins may require a second factor of every staff user.
CREATE TABLE firm_settings (
  id                           boolean PRIMARY KEY DEFAULT true CHECK (id),
  require_staff_second_factor  boolean NOT NULL DEFAULT false,
  updated_at                   timestamptz NOT NULL DEFAULT now(),
  updated_by                   uuid
);
INSERT INTO firm_settings DEFAULT VALUES;
GRANT SELECT ON firm_settings TO spade_app, spade_firm_admin, spade_definer;
GRANT UPDATE (require_staff_second_factor, updated_at, updated_by) ON firm_settings TO spade_firm_admin;

-- Column privileges: a column-level revoke is void while a table-level grant stands, so the
-- table-level SELECT goes and the readable columns are granted one by one.
REVOKE SELECT ON staff_users, staff_sessions, cycle_requests, contact_sessions FROM spade_app;
REVOKE INSERT, UPDATE ON staff_users FROM spade_app;
REVOKE INSERT, UPDATE ON staff_sessions FROM spade_app;

GRANT SELECT (id, email, name, role, disabled_at, created_at, updated_at) ON staff_users TO spade_app, spade_firm_admin;
GRANT SELECT (id, staff_user_id, created_at, expires_at, last_seen_at, revoked_at, revoked_reason, second_factor_pending)
  ON staff_sessions TO spade_app, spade_firm_admin;
GRANT SELECT (totp_enabled_at) ON staff_users TO spade_app, spade_firm_admin;

GRANT SELECT (id, client_id, cycle_id, contact_id, expires_at, status, message, created_by, sent_at, created_at, updated_at)
  ON cycle_requests TO spade_app, spade_firm_admin;
GRANT SELECT (id, client_id, contact_id, cycle_request_id, created_at, expires_at, revoked_at) ON contact_sessions
  TO spade_app, spade_firm_admin;
-- Logout ends the caller's own session; admins revoke anyone's and manage staff users.
GRANT UPDATE (revoked_at, revoked_reason, last_seen_at) ON staff_sessions TO spade_app;
GRANT UPDATE (revoked_at, revoked_reason) ON staff_sessions TO spade_firm_admin;
GRANT UPDATE (name, role, disabled_at, updated_at) ON staff_users TO spade_firm_admin;

-- What the sign-in function itself needs (it runs as spade_definer).
GRANT UPDATE (failed_login_count, locked_until, totp_secret, totp_pending_secret, totp_enabled_at, totp_last_time_step,
  recovery_code_hashes) ON staff_users TO spade_definer;
GRANT INSERT, UPDATE (second_factor_pending, revoked_at, revoked_reason) ON staff_sessions TO spade_definer;

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
-- Verdicts: ok | second_factor (enrolled: the session waits for a code) | enrol_second_factor
-- (the firm requires one and this user has none: the session may only enrol) | unknown_email
-- | wrong_password | locked.
CREATE FUNCTION spade_staff_login(p_email text, p_password_hash text, p_session_token_hash text, p_session_expires_at timestamptz)
  RETURNS TABLE (verdict text, staff_user_id uuid, session_id uuid, email text, name text, role text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  DECLARE
    u record;
    failures integer;
    sid uuid;
    owed text;
  BEGIN
    SELECT s.id, s.email, s.name, s.role, s.password_hash, s.failed_login_count, s.locked_until, s.totp_secret INTO u
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
    owed := CASE WHEN u.totp_secret IS NOT NULL THEN 'second_factor'
                 WHEN (SELECT f.require_staff_second_factor FROM firm_settings f) THEN 'enrol_second_factor' END;
    INSERT INTO staff_sessions (staff_user_id, token_hash, expires_at, second_factor_pending)
      VALUES (u.id, p_session_token_hash,
              CASE WHEN owed IS NULL THEN least(p_session_expires_at, now() + interval '7 days') ELSE now() + interval '10 minutes' END,
              owed IS NOT NULL)
      RETURNING id INTO sid;
    RETURN QUERY SELECT coalesce(owed, 'ok'), u.id, sid, u.email, u.name, u.role;
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

-- Session resolution, now PL/pgSQL (plans cached; SQL-language definer functions are
-- re-planned per call) and aware of a pending second factor.
-- (Dropping spade_definer's function needs the migrating user's membership, not spade_owner.)
RESET ROLE;
DROP FUNCTION spade_resolve_staff_session(text);
SET LOCAL ROLE spade_owner;
CREATE FUNCTION spade_resolve_staff_session(p_token_hash text)
  RETURNS TABLE (session_id uuid, staff_user_id uuid, role text, client_ids uuid[], second_factor_pending boolean)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  BEGIN
    RETURN QUERY
      SELECT s.id, u.id, u.role,
             ARRAY(SELECT a.client_id FROM staff_client_assignments a WHERE a.staff_user_id = u.id),
             s.second_factor_pending
        FROM staff_sessions s
        JOIN staff_users u ON u.id = s.staff_user_id
       WHERE s.token_hash = p_token_hash
         AND s.revoked_at IS NULL AND s.expires_at > now()
         AND u.disabled_at IS NULL;
  END
  $$;

-- Second factor, for the holder of a session token only. `secret` is the enrolled one,
-- `pending_secret` one being enrolled; the API checks the code (otplib) and reports back.
CREATE FUNCTION spade_staff_second_factor_state(p_token_hash text)
  RETURNS TABLE (staff_user_id uuid, email text, secret text, pending_secret text, last_time_step bigint, session_pending boolean)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  BEGIN
    RETURN QUERY
      SELECT u.id, u.email, u.totp_secret, u.totp_pending_secret, u.totp_last_time_step, s.second_factor_pending
        FROM staff_sessions s JOIN staff_users u ON u.id = s.staff_user_id
       WHERE s.token_hash = p_token_hash AND s.revoked_at IS NULL AND s.expires_at > now() AND u.disabled_at IS NULL;
  END
  $$;

-- Starts an enrolment: allowed on a full session, or on a pending one that owes an
-- enrolment (never to replace an enrolled secret: that takes an admin's revoke first).
CREATE FUNCTION spade_staff_second_factor_begin(p_token_hash text, p_secret text)
  RETURNS boolean
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  DECLARE
    uid uuid;
  BEGIN
    IF p_secret IS NULL OR p_secret !~ '^[A-Z2-7]{16,128}$' THEN
      RAISE EXCEPTION 'spade_staff_second_factor_begin: a base32 secret is required';
    END IF;
    SELECT u.id INTO uid FROM staff_sessions s JOIN staff_users u ON u.id = s.staff_user_id
     WHERE s.token_hash = p_token_hash AND s.revoked_at IS NULL AND s.expires_at > now()
       AND u.disabled_at IS NULL AND u.totp_secret IS NULL;
    IF uid IS NULL THEN
      RETURN false;
    END IF;
    UPDATE staff_users SET totp_pending_secret = p_secret WHERE id = uid;
    RETURN true;
  END
  $$;

-- The API's verdict on a code. ok: an enrolment is confirmed (with its recovery codes'
-- hashes) or a pending session is completed; a time step already used is refused (replay).
-- Not ok: counts as a failed sign-in (lockout), and the fifth ends the pending session.
-- Verdicts: ok | replayed | refused | locked | no_session.
CREATE FUNCTION spade_staff_second_factor_result(p_token_hash text, p_ok boolean, p_time_step bigint, p_recovery_code_hashes text[])
  RETURNS text
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  DECLARE
    r record;
    failures integer;
  BEGIN
    SELECT s.id AS sid, u.id AS uid, u.totp_secret, u.totp_pending_secret, u.totp_last_time_step, u.failed_login_count
      INTO r
      FROM staff_sessions s JOIN staff_users u ON u.id = s.staff_user_id
     WHERE s.token_hash = p_token_hash AND s.revoked_at IS NULL AND s.expires_at > now() AND u.disabled_at IS NULL
       FOR UPDATE OF u;
    IF NOT FOUND THEN
      RETURN 'no_session';
    END IF;
    IF NOT p_ok THEN
      failures := r.failed_login_count + 1;
      UPDATE staff_users SET failed_login_count = failures,
             locked_until = CASE WHEN failures >= 5 THEN now() + least(interval '1 minute' * power(2, least(failures - 5, 10)), interval '1 hour') END
       WHERE id = r.uid;
      IF failures >= 5 THEN
        UPDATE staff_sessions SET revoked_at = now(), revoked_reason = 'second_factor_failed' WHERE id = r.sid AND second_factor_pending;
        RETURN 'locked';
      END IF;
      RETURN 'refused';
    END IF;
    IF p_time_step IS NOT NULL AND r.totp_last_time_step IS NOT NULL AND p_time_step <= r.totp_last_time_step THEN
      RETURN 'replayed';
    END IF;
    IF r.totp_secret IS NULL THEN
      IF r.totp_pending_secret IS NULL OR coalesce(array_length(p_recovery_code_hashes, 1), 0) < 8 THEN
        RETURN 'refused';
      END IF;
      UPDATE staff_users SET totp_secret = totp_pending_secret, totp_pending_secret = NULL, totp_enabled_at = now(),
             recovery_code_hashes = p_recovery_code_hashes
       WHERE id = r.uid;
    END IF;
    UPDATE staff_users SET totp_last_time_step = coalesce(p_time_step, totp_last_time_step), failed_login_count = 0, locked_until = NULL
     WHERE id = r.uid;
    UPDATE staff_sessions SET second_factor_pending = false WHERE id = r.sid;
    RETURN 'ok';
  END
  $$;

-- A recovery code instead of a TOTP code: compared and consumed in here (single use).
CREATE FUNCTION spade_staff_second_factor_recovery(p_token_hash text, p_code_hash text)
  RETURNS text
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  DECLARE
    r record;
  BEGIN
    SELECT s.id AS sid, u.id AS uid, u.recovery_code_hashes INTO r
      FROM staff_sessions s JOIN staff_users u ON u.id = s.staff_user_id
     WHERE s.token_hash = p_token_hash AND s.revoked_at IS NULL AND s.expires_at > now() AND u.disabled_at IS NULL
       AND u.totp_secret IS NOT NULL
       FOR UPDATE OF u;
    IF NOT FOUND THEN
      RETURN 'no_session';
    END IF;
    IF NOT (p_code_hash = ANY (r.recovery_code_hashes)) THEN
      RETURN spade_staff_second_factor_result(p_token_hash, false, NULL, NULL);
    END IF;
    UPDATE staff_users SET recovery_code_hashes = array_remove(recovery_code_hashes, p_code_hash), failed_login_count = 0,
           locked_until = NULL
     WHERE id = r.uid;
    UPDATE staff_sessions SET second_factor_pending = false WHERE id = r.sid;
    RETURN 'ok';
  END
  $$;

-- An admin removes a user's enrolment (a lost phone) and ends their sessions; executable by
-- spade_firm_admin only (admin units of work), never by spade_app.
CREATE FUNCTION spade_staff_second_factor_reset(p_staff_user_id uuid)
  RETURNS boolean
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  BEGIN
    UPDATE staff_users SET totp_secret = NULL, totp_pending_secret = NULL, totp_enabled_at = NULL, totp_last_time_step = NULL,
           recovery_code_hashes = '{}'
     WHERE id = p_staff_user_id AND (totp_secret IS NOT NULL OR totp_pending_secret IS NOT NULL);
    RETURN FOUND;
  END
  $$;
REVOKE ALL ON FUNCTION spade_staff_second_factor_reset(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION spade_staff_second_factor_reset(uuid) TO spade_firm_admin;

REVOKE ALL ON FUNCTION spade_resolve_staff_session(text), spade_staff_second_factor_state(text),
  spade_staff_second_factor_begin(text, text), spade_staff_second_factor_result(text, boolean, bigint, text[]),
  spade_staff_second_factor_recovery(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION spade_resolve_staff_session(text), spade_staff_second_factor_state(text),
  spade_staff_second_factor_begin(text, text), spade_staff_second_factor_result(text, boolean, bigint, text[]),
  spade_staff_second_factor_recovery(text, text) TO spade_app;

REVOKE ALL ON FUNCTION spade_staff_password_params(text), spade_staff_login(text, text, text, timestamptz),
  spade_demo_login_in_use(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION spade_staff_password_params(text), spade_staff_login(text, text, text, timestamptz),
  spade_demo_login_in_use(text, text) TO spade_app;

RESET ROLE;
ALTER FUNCTION spade_staff_password_params(text) OWNER TO spade_definer;
ALTER FUNCTION spade_staff_login(text, text, text, timestamptz) OWNER TO spade_definer;
ALTER FUNCTION spade_demo_login_in_use(text, text) OWNER TO spade_definer;
ALTER FUNCTION spade_resolve_staff_session(text) OWNER TO spade_definer;
ALTER FUNCTION spade_staff_second_factor_state(text) OWNER TO spade_definer;
ALTER FUNCTION spade_staff_second_factor_begin(text, text) OWNER TO spade_definer;
ALTER FUNCTION spade_staff_second_factor_result(text, boolean, bigint, text[]) OWNER TO spade_definer;
ALTER FUNCTION spade_staff_second_factor_recovery(text, text) OWNER TO spade_definer;
ALTER FUNCTION spade_staff_second_factor_reset(uuid) OWNER TO spade_definer;
