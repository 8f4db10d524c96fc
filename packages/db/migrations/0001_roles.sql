-- Database roles. Roles are cluster-wide, so creating them must tolerate another
-- database (or a concurrent migrator) having created them first.
--   spade_owner  owns every table and function; migrations run as it. NOLOGIN.
--   spade_app    the API's runtime role: owns nothing, NOSUPERUSER, NOBYPASSRLS,
--                only the DML grants it needs (given per table in later files).
--   spade_admin  a role (never a flag) whose SELECT policies admit every row; only admin
--                staff-only routes use it, through their own login (0007). NOLOGIN.
--                (Amended: this file once granted spade_admin to spade_app; 0007 revokes
--                that grant on databases migrated before the amendment — migrate.ts
--                accepts the earlier checksum of this file.)
--   spade_definer owns the narrow SECURITY DEFINER token-resolving functions, which
--                must see a token's row before its tenant is known. NOLOGIN, BYPASSRLS.
DO $$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT * FROM (VALUES
      ('spade_owner',   'NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE'),
      ('spade_app',     'LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT'),
      ('spade_admin',   'NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE'),
      ('spade_definer', 'NOLOGIN NOSUPERUSER BYPASSRLS NOCREATEDB NOCREATEROLE')
    ) AS t(name, attrs)
  LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r.name) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I %s', r.name, r.attrs);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL; -- created concurrently by a migrator in another database
      END;
    END IF;
  END LOOP;
END
$$;

-- The migrating user acts as spade_owner (migrations) and may switch to spade_app
-- (the embedded database has one superuser).
-- Memberships are cluster-wide too: a concurrent grant from another database is fine.
DO $$
BEGIN
  EXECUTE format('GRANT spade_owner, spade_app, spade_definer TO %I', current_user);
EXCEPTION WHEN unique_violation OR duplicate_object OR serialization_failure THEN
  NULL;
END
$$;

GRANT USAGE, CREATE ON SCHEMA public TO spade_owner;
GRANT USAGE ON SCHEMA public TO spade_app, spade_admin;
GRANT USAGE, CREATE ON SCHEMA public TO spade_definer;
