-- Issue 11, the last pieces: contact sessions end when idle, and a bulk send survives the
-- death of the process running it.
SET LOCAL ROLE spade_owner;

-- 1. A contact session lasts until its request's expiry but also ends after an idle period
--    (SPADE_CONTACT_IDLE_MINUTES). last_seen_at is written by the lookup function itself,
--    and only when it is older than a slice of the idle period (at most a minute): not a
--    write on every request. NULL: not seen since the exchange (created_at counts).
ALTER TABLE contact_sessions ADD COLUMN last_seen_at timestamptz;
GRANT SELECT (last_seen_at) ON contact_sessions TO spade_app, spade_firm_admin;
GRANT UPDATE (last_seen_at) ON contact_sessions TO spade_definer;

-- 2. Bulk jobs keep their input (so another process can resume them) and a heartbeat (so a
--    job whose process died is noticed). `runner` is the lease of the process running it:
--    progress and heartbeats are written only while it still holds the job. A job from before
--    this migration has no client list (fewer ids than its total): it cannot be resumed.
ALTER TABLE bulk_jobs
  ADD COLUMN client_ids jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(client_ids) = 'array'),
  ADD COLUMN cycle jsonb,
  ADD COLUMN http_request_id text,
  ADD COLUMN runner text,
  ADD COLUMN heartbeat_at timestamptz NOT NULL DEFAULT now(),
  ADD COLUMN resumed integer NOT NULL DEFAULT 0 CHECK (resumed >= 0);
-- `failed`: given up (resumed too often, or a job from before this migration whose input is
-- unknown); its results list every client with what happened to it.
ALTER TABLE bulk_jobs DROP CONSTRAINT bulk_jobs_status_check,
  ADD CONSTRAINT bulk_jobs_status_check CHECK (status IN ('running', 'finished', 'failed'));
CREATE INDEX bulk_jobs_running_idx ON bulk_jobs (heartbeat_at) WHERE status = 'running';

-- The request a bulk job created for a client. Unique per client and job: however often a
-- job is resumed, and even if two processes run it at once, a client gets one request.
ALTER TABLE cycle_requests ADD COLUMN bulk_job_id uuid;
CREATE UNIQUE INDEX cycle_requests_bulk_job_key ON cycle_requests (client_id, bulk_job_id) WHERE bulk_job_id IS NOT NULL;
GRANT SELECT (bulk_job_id) ON cycle_requests TO spade_app, spade_firm_admin;

RESET ROLE;

-- The contact-session lookup takes the idle period and touches last_seen_at. It writes, so
-- it is VOLATILE; still PL/pgSQL (plan kept per connection), still owned by spade_definer.
-- The one-argument version is dropped: it would not check idleness.
DROP FUNCTION spade_resolve_contact_session(text);
SET LOCAL ROLE spade_owner;
CREATE FUNCTION spade_resolve_contact_session(p_token_hash text, p_idle_seconds integer)
  RETURNS TABLE (session_id uuid, client_id uuid, contact_id uuid, cycle_request_id uuid)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  #variable_conflict use_column
  DECLARE
    found_session record;
    idle interval := make_interval(secs => greatest(p_idle_seconds, 1));
    -- Touch granularity: a quarter of the idle period, at most a minute. A session is thus
    -- ended between (idle - touch) and idle after its last request.
    touch interval := least(interval '1 minute', make_interval(secs => greatest(p_idle_seconds, 1) / 4.0));
  BEGIN
    SELECT s.id, s.client_id, s.contact_id, s.cycle_request_id, coalesce(s.last_seen_at, s.created_at) AS seen
      INTO found_session
      FROM contact_sessions s
      JOIN cycle_requests r ON r.client_id = s.client_id AND r.id = s.cycle_request_id
      JOIN contacts c ON c.client_id = s.client_id AND c.id = s.contact_id
     WHERE s.token_hash = p_token_hash
       AND s.revoked_at IS NULL AND s.expires_at > now()
       AND coalesce(s.last_seen_at, s.created_at) > now() - idle
       AND r.status = 'open' AND r.expires_at > now()
       AND c.deleted_at IS NULL;
    IF NOT FOUND THEN
      RETURN;
    END IF;
    IF found_session.seen < now() - touch THEN
      UPDATE contact_sessions SET last_seen_at = now()
       WHERE client_id = found_session.client_id AND id = found_session.id
         AND coalesce(last_seen_at, created_at) < now() - touch;
    END IF;
    RETURN QUERY SELECT found_session.id, found_session.client_id, found_session.contact_id, found_session.cycle_request_id;
  END
  $$;
REVOKE ALL ON FUNCTION spade_resolve_contact_session(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION spade_resolve_contact_session(text, integer) TO spade_app;
RESET ROLE;
ALTER FUNCTION spade_resolve_contact_session(text, integer) OWNER TO spade_definer;
