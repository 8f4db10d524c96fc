-- Incidents: the runbook's record of a suspected tenant leak, its timeline and its evidence.
-- Firm-wide operations data (no client_id, no RLS). Only the operations CLI, connecting as
-- the owner, reads or writes these tables, so nothing is granted to spade_app or spade_admin.
SET LOCAL ROLE spade_owner;

CREATE TABLE incidents (
  id                        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  title                     text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  reporter                  text NOT NULL CHECK (length(reporter) BETWEEN 1 AND 200),
  status                    text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
  -- When the firm had credible grounds to believe a breach occurred: PDPA's 30-day assessment clock.
  opened_at                 timestamptz NOT NULL DEFAULT now(),
  opened_by                 text NOT NULL,
  -- The day the firm determined whether the breach is notifiable: the PDPC's 3-day clock.
  notifiable_determined_at  timestamptz,
  notifiable                boolean,
  resolved_at               timestamptz,
  channel                   text NOT NULL,
  -- The suspect actors (staff user or contact ids) whose audit trail names the affected clients.
  actor_ids                 jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(actor_ids) = 'array'),
  created_at                timestamptz NOT NULL DEFAULT now(),
  CHECK ((notifiable IS NULL) = (notifiable_determined_at IS NULL)),
  CHECK ((status = 'resolved') = (resolved_at IS NOT NULL))
);
CREATE INDEX incidents_opened_at_idx ON incidents (opened_at DESC);

CREATE TABLE incident_timeline_entries (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  incident_id  uuid NOT NULL REFERENCES incidents (id),
  occurred_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  kind         text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_.]*$'),
  actor        text NOT NULL,
  message      text NOT NULL,
  data         jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX incident_timeline_entries_incident_idx ON incident_timeline_entries (incident_id, occurred_at);

CREATE TABLE incident_evidence (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  incident_id  uuid NOT NULL REFERENCES incidents (id),
  filename     text NOT NULL CHECK (length(filename) BETWEEN 1 AND 255),
  sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  size         bigint NOT NULL CHECK (size >= 0),
  stored_path  text NOT NULL,
  added_at     timestamptz NOT NULL DEFAULT now(),
  added_by     text NOT NULL
);
CREATE INDEX incident_evidence_incident_idx ON incident_evidence (incident_id);

-- A kill switch names the incident it was thrown for, when there is one.
ALTER TABLE route_kill_switches
  ADD CONSTRAINT route_kill_switches_incident_id_fkey FOREIGN KEY (incident_id) REFERENCES incidents (id);

-- Every running API instance LISTENs on this channel and reloads its kill switches, so a
-- route taken offline (or back online) takes effect everywhere within a second.
-- The payload is '<METHOD> <route pattern>'; listeners must still re-read the table
-- (a notification is a hint, and one can be missed across a reconnect).
CREATE FUNCTION spade_notify_route_kill_switch() RETURNS trigger
  LANGUAGE plpgsql SET search_path = public, pg_temp
  AS $$
  BEGIN
    PERFORM pg_notify('spade_route_kill_switch', NEW.method || ' ' || NEW.route_pattern);
    RETURN NULL;
  END
  $$;
CREATE TRIGGER route_kill_switches_notify
  AFTER INSERT OR UPDATE ON route_kill_switches
  FOR EACH ROW EXECUTE FUNCTION spade_notify_route_kill_switch();
