-- Detection (issue 14): a tamper-evident audit trail, per-tenant containment, decoy tenants
-- and breadth alerts. Firm-wide operations tables (no tenant data, no RLS); the API reaches
-- them only through the narrow grants and SECURITY DEFINER functions below.
SET LOCAL ROLE spade_owner;

-- ── 1. Tamper-evident audit trail ─────────────────────────────────────────────────────────
-- audit_events has a uuid key and no usable order (occurred_at is taken at insert, but a row
-- commits when its transaction does, so a later seal could miss a row that commits late).
-- The order is given at seal time instead: each seal appends every row it has not sealed yet
-- as an entry with the next position (the monotonic id of the chain) and the row's sha256, and
-- a digest chains the sha256 of those entries to the previous digest's hash. A row that
-- commits late is simply sealed by the next digest; nothing on the insert path changes.
CREATE TABLE audit_digests (
  seq             bigint PRIMARY KEY CHECK (seq >= 1),
  sealed_at       timestamptz NOT NULL,
  sealed_by       text NOT NULL CHECK (length(sealed_by) BETWEEN 1 AND 200),
  first_position  bigint NOT NULL,
  last_position   bigint NOT NULL,
  row_count       integer NOT NULL CHECK (row_count >= 1),
  entries_sha256  text NOT NULL CHECK (entries_sha256 ~ '^[0-9a-f]{64}$'),
  prev_hash       text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  hash            text NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$'),
  CHECK (last_position - first_position + 1 = row_count)
);
CREATE INDEX audit_digests_sealed_at_idx ON audit_digests (sealed_at);

CREATE TABLE audit_digest_entries (
  position        bigint PRIMARY KEY CHECK (position >= 1),
  digest_seq      bigint NOT NULL REFERENCES audit_digests (seq) DEFERRABLE INITIALLY DEFERRED,
  audit_event_id  uuid NOT NULL UNIQUE,
  row_hash        bytea NOT NULL CHECK (length(row_hash) = 32)
);
CREATE INDEX audit_digest_entries_digest_idx ON audit_digest_entries (digest_seq);

-- The seal looks only at rows that occurred since shortly before the previous seal. BRIN:
-- near-free to maintain on an append-mostly table, so the insert path pays (almost) nothing.
CREATE INDEX audit_events_occurred_brin ON audit_events USING brin (occurred_at);

-- One canonical text per row: a jsonb array (nulls and escaping unambiguous, jsonb's own key
-- order), the time in UTC to the microsecond. No SET clause, so the planner inlines it: the
-- seal and verification hash every row, and a per-call search_path switch cost 5× the hashing.
CREATE FUNCTION spade_audit_row_hash(a audit_events) RETURNS bytea
  LANGUAGE sql STABLE
  AS $$
    SELECT sha256(convert_to(jsonb_build_array(
      a.id, to_char(a.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), a.event_type, a.actor_type,
      a.actor_id, a.client_id, a.entity_type, a.entity_id, a.request_id, a.event_data_json)::text, 'UTF8'))
  $$;

CREATE FUNCTION spade_audit_digest_hash(
  p_seq bigint, p_prev_hash text, p_sealed_at timestamptz, p_sealed_by text,
  p_first bigint, p_last bigint, p_count integer, p_entries_sha256 text) RETURNS text
  LANGUAGE sql IMMUTABLE
  AS $$
    SELECT encode(sha256(convert_to(jsonb_build_array(
      'spade-audit-digest-v1', p_seq, p_prev_hash, to_char(p_sealed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
      p_sealed_by, p_first, p_last, p_count, p_entries_sha256)::text, 'UTF8')), 'hex')
  $$;

-- Seals every audit row not sealed yet into one new digest; returns nothing when there is none.
-- Runs as spade_definer (it must see every tenant's rows); serialised by an advisory lock, so
-- several API instances and the CLI may all call it.
CREATE FUNCTION spade_seal_audit(p_sealed_by text, p_lookback interval DEFAULT interval '15 minutes')
  RETURNS TABLE (seq bigint, row_count integer, first_position bigint, last_position bigint, hash text, sealed_at timestamptz)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  #variable_conflict use_column
  DECLARE
    v_prev audit_digests%ROWTYPE;
    v_seq bigint;
    v_first bigint;
    v_count integer;
    v_entries text;
    v_now timestamptz;
    v_hash text;
    v_prev_hash text;
  BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('spade_seal_audit'));
    v_now := clock_timestamp();
    SELECT * INTO v_prev FROM audit_digests d ORDER BY d.seq DESC LIMIT 1;
    v_seq := COALESCE(v_prev.seq, 0) + 1;
    v_first := COALESCE(v_prev.last_position, 0) + 1;
    v_prev_hash := COALESCE(v_prev.hash, repeat('0', 64));
    INSERT INTO audit_digest_entries (position, digest_seq, audit_event_id, row_hash)
    SELECT v_first - 1 + row_number() OVER (ORDER BY a.occurred_at, a.id), v_seq, a.id, spade_audit_row_hash(a)
    FROM audit_events a
    WHERE (v_prev.seq IS NULL OR a.occurred_at >= v_prev.sealed_at - p_lookback)
      AND NOT EXISTS (SELECT 1 FROM audit_digest_entries e WHERE e.audit_event_id = a.id);
    GET DIAGNOSTICS v_count = ROW_COUNT;
    IF v_count = 0 THEN
      RETURN;
    END IF;
    SELECT encode(sha256(string_agg(e.row_hash, ''::bytea ORDER BY e.position)), 'hex') INTO v_entries
    FROM audit_digest_entries e WHERE e.digest_seq = v_seq;
    v_hash := spade_audit_digest_hash(v_seq, v_prev_hash, v_now, p_sealed_by, v_first, v_first + v_count - 1, v_count, v_entries);
    INSERT INTO audit_digests (seq, sealed_at, sealed_by, first_position, last_position, row_count, entries_sha256, prev_hash, hash)
    VALUES (v_seq, v_now, p_sealed_by, v_first, v_first + v_count - 1, v_count, v_entries, v_prev_hash, v_hash);
    RETURN QUERY SELECT v_seq, v_count, v_first, v_first + v_count - 1, v_hash, v_now;
  END
  $$;

-- The tables below name a client only as the subject of an operations record (which client is
-- frozen, which is a decoy, which an alert is about): they hold no tenant's data, so they are
-- firm-wide tables without RLS, and their column is deliberately not called client_id.

-- ── 2. Per-tenant containment ─────────────────────────────────────────────────────────────
-- A frozen client answers 503 on every client-scoped route to everyone but admins. Every
-- API instance LISTENs on spade_tenant_freeze (payload: the client id) and re-reads the table.
CREATE TABLE tenant_freezes (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  frozen_client_id  uuid NOT NULL REFERENCES clients (id),
  incident_id  uuid REFERENCES incidents (id),
  reason       text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
  created_by   text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  thawed_at    timestamptz,
  thawed_by    text
);
CREATE UNIQUE INDEX tenant_freezes_active_key ON tenant_freezes (frozen_client_id) WHERE thawed_at IS NULL;

CREATE FUNCTION spade_notify_tenant_freeze() RETURNS trigger
  LANGUAGE plpgsql SET search_path = public, pg_temp
  AS $$
  BEGIN
    PERFORM pg_notify('spade_tenant_freeze', NEW.frozen_client_id::text);
    RETURN NULL;
  END
  $$;
CREATE TRIGGER tenant_freezes_notify
  AFTER INSERT OR UPDATE ON tenant_freezes
  FOR EACH ROW EXECUTE FUNCTION spade_notify_tenant_freeze();

-- ── 3. Decoy tenants ──────────────────────────────────────────────────────────────────────
-- A decoy client looks real in every tenant table but is flagged here, so the firm's own
-- lists leave it out; decoy_entities lists every id planted for it (the client's own id
-- included, entity_type 'client'), for the API's in-memory tripwire and the trigger below.
ALTER TABLE clients ADD COLUMN is_decoy boolean NOT NULL DEFAULT false;

CREATE TABLE decoy_entities (
  entity_id        uuid PRIMARY KEY,
  decoy_client_id  uuid NOT NULL REFERENCES clients (id),
  entity_type  text NOT NULL CHECK (entity_type IN ('client', 'contact', 'cycle', 'cycle_request', 'request_item', 'file')),
  planted_at   timestamptz NOT NULL DEFAULT now(),
  planted_by   text NOT NULL
);
CREATE INDEX decoy_entities_client_idx ON decoy_entities (decoy_client_id);

CREATE FUNCTION spade_notify_decoys_changed() RETURNS trigger
  LANGUAGE plpgsql SET search_path = public, pg_temp
  AS $$
  BEGIN
    PERFORM pg_notify('spade_decoys_changed', '');
    RETURN NULL;
  END
  $$;
CREATE TRIGGER decoy_entities_notify
  AFTER INSERT OR UPDATE OR DELETE ON decoy_entities
  FOR EACH STATEMENT EXECUTE FUNCTION spade_notify_decoys_changed();

-- ── 4. Detection alerts ───────────────────────────────────────────────────────────────────
-- A decoy touch opens (or adds to) an incident by itself; a breadth alert is a suggested
-- incident that `spade incident list` shows until someone opens or dismisses it.
CREATE TABLE detection_alerts (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  raised_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  kind          text NOT NULL CHECK (kind IN ('decoy.touched', 'breadth.staff_clients', 'breadth.contact_foreign_client', 'breadth.denied_burst')),
  status        text NOT NULL CHECK (status IN ('incident', 'suggested', 'dismissed')),
  request_id    text,
  actor_type    text NOT NULL CHECK (actor_type IN ('staff', 'contact', 'anonymous', 'system', 'operator')),
  actor_id      uuid,
  address       text,
  route         text,
  subject_client_id uuid,
  detected_by   text NOT NULL CHECK (detected_by ~ '^[a-z][a-z0-9_.-]*$'),
  details       jsonb NOT NULL DEFAULT '{}'::jsonb,
  incident_id   uuid REFERENCES incidents (id),
  slack_status  text CHECK (slack_status IN ('sending', 'posted', 'failed', 'skipped')),
  slack_error   text,
  CHECK ((status = 'incident') = (incident_id IS NOT NULL))
);
-- One alert per request and kind, whichever detector saw it first.
CREATE UNIQUE INDEX detection_alerts_request_key ON detection_alerts (kind, request_id) WHERE request_id IS NOT NULL;
CREATE INDEX detection_alerts_raised_idx ON detection_alerts (raised_at DESC);
CREATE INDEX detection_alerts_undelivered_idx ON detection_alerts (raised_at) WHERE slack_status IS NULL;

-- Raises an alert; for a decoy touch also opens the incident (or adds to the open one of the
-- same actor), records `decoy.touched`, and notifies listeners (Slack delivery). Returns the
-- alert, its incident and whether it is new. Owned by spade_owner (it writes incidents).
CREATE FUNCTION spade_raise_alert(
  p_kind text, p_request_id text, p_actor_type text, p_actor_id uuid, p_address text, p_route text,
  p_client_id uuid, p_detected_by text, p_details jsonb)
  RETURNS TABLE (alert_id uuid, incident_id uuid, is_new boolean)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  #variable_conflict use_column
  DECLARE
    v_alert uuid;
    v_incident uuid;
    v_existing detection_alerts%ROWTYPE;
    v_channel text;
    v_title text;
    v_message text;
    v_actor text := p_actor_type || COALESCE(' ' || p_actor_id::text, '') || COALESCE(' from ' || p_address, '');
  BEGIN
    IF p_kind = 'decoy.touched' AND NOT EXISTS (SELECT 1 FROM decoy_entities d WHERE d.entity_id = p_client_id AND d.entity_type = 'client') THEN
      RAISE EXCEPTION 'spade_raise_alert: % is not a decoy client', p_client_id USING ERRCODE = 'check_violation';
    END IF;
    -- Serialise raisers of the same alert, so two instances cannot both open an incident.
    PERFORM pg_advisory_xact_lock(hashtext('spade_raise_alert:' || p_kind || ':' || COALESCE(p_actor_id::text, p_address, '')));
    IF p_request_id IS NOT NULL THEN
      SELECT * INTO v_existing FROM detection_alerts a WHERE a.kind = p_kind AND a.request_id = p_request_id;
      IF FOUND THEN
        RETURN QUERY SELECT v_existing.id, v_existing.incident_id, false;
        RETURN;
      END IF;
    END IF;
    IF p_kind <> 'decoy.touched' THEN
      -- A breadth alert already suggested for this actor (or address) in the last hour stands.
      SELECT * INTO v_existing FROM detection_alerts a
      WHERE a.kind = p_kind AND a.status = 'suggested' AND a.raised_at > now() - interval '1 hour'
        AND a.actor_id IS NOT DISTINCT FROM p_actor_id AND a.address IS NOT DISTINCT FROM p_address
      ORDER BY a.raised_at DESC LIMIT 1;
      IF FOUND THEN
        RETURN QUERY SELECT v_existing.id, v_existing.incident_id, false;
        RETURN;
      END IF;
    END IF;

    IF p_kind = 'decoy.touched' THEN
      SELECT i.id INTO v_incident FROM incidents i
      WHERE i.status = 'open' AND i.opened_by = 'spade-detector' AND i.opened_at > now() - interval '24 hours'
        AND ((p_actor_id IS NOT NULL AND i.actor_ids @> jsonb_build_array(p_actor_id::text))
             OR (p_actor_id IS NULL AND i.title = 'Decoy tenant touched by ' || v_actor))
      ORDER BY i.opened_at DESC LIMIT 1;
      IF v_incident IS NULL THEN
        v_channel := '#incident-tenant-leak-' || to_char(now() AT TIME ZONE 'Asia/Singapore', 'YYYYMMDD');
        v_title := left('Decoy tenant touched by ' || v_actor, 200);
        INSERT INTO incidents (title, reporter, opened_by, channel, actor_ids)
        VALUES (v_title, 'spade decoy tripwire (' || p_detected_by || ')', 'spade-detector', v_channel,
                CASE WHEN p_actor_id IS NULL THEN '[]'::jsonb ELSE jsonb_build_array(p_actor_id::text) END)
        RETURNING id INTO v_incident;
        INSERT INTO incident_timeline_entries (incident_id, kind, actor, message, data)
        VALUES (v_incident, 'opened', 'spade-detector',
                'Incident opened automatically: a decoy tenant was touched; channel ' || v_channel,
                jsonb_build_object('channel', v_channel, 'actorIds', CASE WHEN p_actor_id IS NULL THEN '[]'::jsonb ELSE jsonb_build_array(p_actor_id::text) END));
      END IF;
    END IF;

    INSERT INTO detection_alerts (kind, status, request_id, actor_type, actor_id, address, route, subject_client_id, detected_by, details, incident_id)
    VALUES (p_kind, CASE WHEN v_incident IS NULL THEN 'suggested' ELSE 'incident' END, p_request_id, p_actor_type, p_actor_id,
            p_address, p_route, p_client_id, p_detected_by, COALESCE(p_details, '{}'::jsonb), v_incident)
    RETURNING id INTO v_alert;

    v_message := CASE p_kind
      WHEN 'decoy.touched' THEN 'Decoy tenant touched'
      WHEN 'breadth.staff_clients' THEN 'Staff touched unusually many clients'
      WHEN 'breadth.contact_foreign_client' THEN 'A contact session named another client'
      ELSE 'Burst of tenant_access_denied' END
      || ' by ' || v_actor || COALESCE(' on ' || p_route, '') || COALESCE(' (request ' || p_request_id || ')', '')
      || ' — seen by ' || p_detected_by;
    IF v_incident IS NOT NULL THEN
      INSERT INTO incident_timeline_entries (incident_id, kind, actor, message, data)
      VALUES (v_incident, p_kind, 'spade-detector', v_message,
              jsonb_build_object('alertId', v_alert, 'requestId', p_request_id, 'actorType', p_actor_type, 'actorId', p_actor_id,
                                 'address', p_address, 'route', p_route, 'clientId', p_client_id, 'detectedBy', p_detected_by,
                                 'evidence', COALESCE(p_details, '{}'::jsonb)));
    END IF;
    -- Firm-wide (client_id NULL): the decoy's id stays in the alert, not in the tenant trail.
    INSERT INTO audit_events (event_type, actor_type, actor_id, client_id, entity_type, entity_id, request_id, event_data_json)
    VALUES (p_kind, p_actor_type, p_actor_id, NULL, 'detection_alert', v_alert::text, p_request_id,
            jsonb_build_object('alertId', v_alert, 'incidentId', v_incident, 'route', p_route, 'detectedBy', p_detected_by,
                               'address', p_address));
    PERFORM pg_notify('spade_detection_alert', v_alert::text);
    RETURN QUERY SELECT v_alert, v_incident, true;
  END
  $$;

-- The database-side tripwire: any audit row written about a decoy client — by the API, a
-- careless handler on another connection, or a person at psql — raises `decoy.touched` in
-- the same transaction. One statement-level join against decoy_entities per audit insert.
CREATE FUNCTION spade_audit_decoy_tripwire() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  DECLARE
    r record;
  BEGIN
    FOR r IN
      SELECT DISTINCT ON (n.client_id, n.request_id) n.*
      FROM audit_new_rows n JOIN decoy_entities d ON d.entity_id = n.client_id AND d.entity_type = 'client'
    LOOP
      PERFORM spade_raise_alert('decoy.touched', r.request_id, r.actor_type, r.actor_id, NULL,
        COALESCE(r.event_data_json ->> 'route', NULL), r.client_id, 'database',
        jsonb_build_object('auditEventId', r.id, 'eventType', r.event_type, 'entityType', r.entity_type, 'entityId', r.entity_id));
    END LOOP;
    RETURN NULL;
  END
  $$;
CREATE TRIGGER audit_events_decoy_tripwire
  AFTER INSERT ON audit_events REFERENCING NEW TABLE AS audit_new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION spade_audit_decoy_tripwire();

-- Slack delivery: one instance claims an alert, posts, and records the outcome (on the
-- incident's timeline too), so N instances post once.
CREATE FUNCTION spade_claim_alert_delivery(p_alert_id uuid)
  RETURNS TABLE (kind text, incident_id uuid, actor_type text, actor_id uuid, address text, route text, request_id text, detected_by text)
  LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    UPDATE detection_alerts a SET slack_status = 'sending'
    WHERE a.id = p_alert_id AND a.slack_status IS NULL
    RETURNING a.kind, a.incident_id, a.actor_type, a.actor_id, a.address, a.route, a.request_id, a.detected_by
  $$;

CREATE FUNCTION spade_finish_alert_delivery(p_alert_id uuid, p_status text, p_error text, p_text text)
  RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  DECLARE
    v_incident uuid;
  BEGIN
    IF p_status NOT IN ('posted', 'failed', 'skipped') THEN
      RAISE EXCEPTION 'spade_finish_alert_delivery: unknown status %', p_status USING ERRCODE = 'check_violation';
    END IF;
    UPDATE detection_alerts a SET slack_status = p_status, slack_error = left(p_error, 500)
    WHERE a.id = p_alert_id AND a.slack_status = 'sending'
    RETURNING a.incident_id INTO v_incident;
    IF v_incident IS NOT NULL THEN
      INSERT INTO incident_timeline_entries (incident_id, kind, actor, message, data)
      VALUES (v_incident, 'slack_' || p_status, 'spade-detector',
              CASE p_status WHEN 'posted' THEN 'Posted to Slack'
                            WHEN 'failed' THEN 'Slack post failed: ' || COALESCE(left(p_error, 500), 'unknown error')
                            ELSE 'Slack post skipped: SLACK_WEBHOOK_URL is not set' END,
              jsonb_build_object('text', p_text, 'alertId', p_alert_id) || CASE WHEN p_error IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('error', left(p_error, 500)) END);
    END IF;
  END
  $$;

-- ── Grants ────────────────────────────────────────────────────────────────────────────────
-- The API reads which tenants are frozen and which ids are decoys; it writes digests, alerts
-- and incidents only through the functions above, never directly. Audit rows stay
-- insert-only for spade_app (0002) and the app has no privilege at all on digests.
GRANT SELECT ON tenant_freezes, decoy_entities TO spade_app, spade_admin;
-- The SECURITY DEFINER functions are owned by spade_definer (BYPASSRLS, NOLOGIN), which gets
-- exactly what their fixed bodies need. (The trigger function is executable by spade_app only
-- because every definer is; called directly it errors: trigger functions run only as triggers.)
GRANT SELECT ON audit_events, audit_digests, audit_digest_entries, decoy_entities, incidents, detection_alerts TO spade_definer;
GRANT INSERT ON audit_digests, audit_digest_entries, audit_events, incidents, incident_timeline_entries, detection_alerts TO spade_definer;
GRANT UPDATE (slack_status, slack_error) ON detection_alerts TO spade_definer;
REVOKE ALL ON FUNCTION spade_seal_audit(text, interval), spade_raise_alert(text, text, text, uuid, text, text, uuid, text, jsonb),
  spade_claim_alert_delivery(uuid), spade_finish_alert_delivery(uuid, text, text, text), spade_audit_decoy_tripwire() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION spade_seal_audit(text, interval), spade_raise_alert(text, text, text, uuid, text, text, uuid, text, jsonb),
  spade_claim_alert_delivery(uuid), spade_finish_alert_delivery(uuid, text, text, text), spade_audit_decoy_tripwire() TO spade_app;

RESET ROLE;
ALTER FUNCTION spade_seal_audit(text, interval) OWNER TO spade_definer;
ALTER FUNCTION spade_raise_alert(text, text, text, uuid, text, text, uuid, text, jsonb) OWNER TO spade_definer;
ALTER FUNCTION spade_claim_alert_delivery(uuid) OWNER TO spade_definer;
ALTER FUNCTION spade_finish_alert_delivery(uuid, text, text, text) OWNER TO spade_definer;
ALTER FUNCTION spade_audit_decoy_tripwire() OWNER TO spade_definer;
