-- Document collection that runs itself (issue 11): a transactional outbox, single-use
-- magic links minted at send time, reminders, firm-wide request templates and staff digests.
-- Replaced below with a wider return type; spade_definer owns it, so it is dropped before
-- the switch to spade_owner (the migrating user is a member of spade_definer).
DROP FUNCTION spade_resolve_magic_link(text);

SET LOCAL ROLE spade_owner;

-- Firm-wide request templates: a checklist and the defaults a request copies when it is
-- created from one. No client data, so no client_id and no RLS; admins manage them.
CREATE TABLE request_templates (
  id                              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name                            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  message                         text,
  -- [{ "label": text, "description": text|null, "required": bool }]
  items                           jsonb NOT NULL CHECK (jsonb_typeof(items) = 'array'),
  expires_in_days                 integer CHECK (expires_in_days BETWEEN 1 AND 60),
  reminder_every_days             integer CHECK (reminder_every_days BETWEEN 1 AND 60),
  reminder_max                    integer NOT NULL DEFAULT 0 CHECK (reminder_max BETWEEN 0 AND 20),
  reminder_start_days_before_due  integer CHECK (reminder_start_days_before_due BETWEEN 0 AND 60),
  created_by                      uuid REFERENCES staff_users (id),
  archived_at                     timestamptz,
  created_at                      timestamptz NOT NULL DEFAULT now(),
  updated_at                      timestamptz NOT NULL DEFAULT now()
);

-- A request no longer holds a usable token until its mail is sent: the delivery worker
-- mints the token when it sends, stores the hash here and puts the link in the mail only.
ALTER TABLE cycle_requests ALTER COLUMN token_hash DROP NOT NULL;
ALTER TABLE cycle_requests
  -- A link is a one-time key: set by the first exchange; a second exchange is a replay.
  ADD COLUMN link_exchanged_at               timestamptz,
  ADD COLUMN template_id                     uuid REFERENCES request_templates (id),
  ADD COLUMN reminder_every_days             integer CHECK (reminder_every_days BETWEEN 1 AND 60),
  ADD COLUMN reminder_max                    integer NOT NULL DEFAULT 0 CHECK (reminder_max BETWEEN 0 AND 20),
  ADD COLUMN reminder_start_days_before_due  integer CHECK (reminder_start_days_before_due BETWEEN 0 AND 60),
  ADD COLUMN reminders_sent                  integer NOT NULL DEFAULT 0 CHECK (reminders_sent >= 0),
  ADD COLUMN next_reminder_at                timestamptz,
  ADD COLUMN reminders_paused_until          timestamptz,
  ADD COLUMN reminders_stopped_reason        text,
  -- The assigned staff were told the contact finished (one digest per request).
  ADD COLUMN staff_notified_at               timestamptz;
CREATE INDEX cycle_requests_next_reminder_idx ON cycle_requests (next_reminder_at)
  WHERE next_reminder_at IS NOT NULL;

ALTER TABLE request_items ADD COLUMN required boolean NOT NULL DEFAULT true;

-- The transactional outbox: every outgoing message is a row written in the same unit of
-- work as its cause, delivered later by a worker. The body is rendered at send time from
-- the request's current state; no token is ever stored here.
CREATE TABLE outbox_messages (
  id                   uuid NOT NULL DEFAULT gen_random_uuid(),
  client_id            uuid NOT NULL REFERENCES clients (id),
  kind                 text NOT NULL CHECK (kind IN ('magic_link', 'reminder', 'staff_digest')),
  reason               text NOT NULL CHECK (length(reason) BETWEEN 1 AND 40),
  cycle_request_id     uuid NOT NULL,
  contact_id           uuid,
  staff_user_id        uuid REFERENCES staff_users (id),
  to_address           text NOT NULL CHECK (length(to_address) BETWEEN 3 AND 320),
  status               text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
  attempts             integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at      timestamptz NOT NULL DEFAULT now(),
  locked_by            text,
  locked_until         timestamptz,
  last_error           text,
  provider_message_id  text,
  sent_at              timestamptz,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id),
  UNIQUE (client_id, id),
  FOREIGN KEY (client_id, cycle_request_id) REFERENCES cycle_requests (client_id, id),
  FOREIGN KEY (client_id, contact_id) REFERENCES contacts (client_id, id)
);
CREATE INDEX outbox_messages_client_request_idx ON outbox_messages (client_id, cycle_request_id, created_at);
-- The worker's claim: due rows across tenants, oldest first.
CREATE INDEX outbox_messages_due_idx ON outbox_messages (next_attempt_at) WHERE status IN ('pending', 'sending');

ALTER TABLE outbox_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox_messages FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON outbox_messages
  USING (client_id = ANY (string_to_array(NULLIF((SELECT current_setting('app.client_ids', true)), ''), ',')::uuid[]))
  WITH CHECK (client_id = ANY (string_to_array(NULLIF((SELECT current_setting('app.client_ids', true)), ''), ',')::uuid[]));
CREATE POLICY admin_all ON outbox_messages TO spade_admin USING (true) WITH CHECK (true);

GRANT SELECT, INSERT, UPDATE ON outbox_messages TO spade_app;
GRANT SELECT ON outbox_messages TO spade_admin;
GRANT SELECT ON request_templates TO spade_app;
GRANT SELECT, INSERT, UPDATE ON request_templates TO spade_admin;
GRANT SELECT ON request_templates TO spade_definer;

-- Resolving a link now also says whether it was already exchanged, so a second exchange
-- can be recorded as a replay on the request (and refused like any bad link).
CREATE FUNCTION spade_resolve_magic_link(p_token_hash text)
  RETURNS TABLE (cycle_request_id uuid, client_id uuid, contact_id uuid, exchanged boolean)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    SELECT r.id, r.client_id, r.contact_id, r.link_exchanged_at IS NOT NULL
    FROM cycle_requests r
    JOIN contacts c ON c.client_id = r.client_id AND c.id = r.contact_id
    WHERE r.token_hash = p_token_hash AND r.status = 'open' AND r.expires_at > now()
      AND c.deleted_at IS NULL
  $$;

-- The exchange's one write that needs the token hash: marks the link used, atomically, and
-- only inside a unit of work whose tenant context is the link's own client. Two concurrent
-- exchanges serialise on the row; the second sees link_exchanged_at set and gets nothing.
CREATE FUNCTION spade_consume_magic_link(p_token_hash text)
  RETURNS TABLE (cycle_request_id uuid, client_id uuid, contact_id uuid, expires_at timestamptz)
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    UPDATE cycle_requests r SET link_exchanged_at = now()
    FROM contacts c
    WHERE r.token_hash = p_token_hash AND r.link_exchanged_at IS NULL
      AND r.status = 'open' AND r.expires_at > now()
      AND c.client_id = r.client_id AND c.id = r.contact_id AND c.deleted_at IS NULL
      AND r.client_id = ANY (string_to_array(NULLIF((SELECT current_setting('app.client_ids', true)), ''), ',')::uuid[])
    RETURNING r.id, r.client_id, r.contact_id, r.expires_at
  $$;

-- "Email me a new link": the open requests of an address, across clients (the address is
-- all the caller has). Returns ids only; the caller continues in each client's unit of work.
CREATE FUNCTION spade_open_requests_for_email(p_email text)
  RETURNS TABLE (client_id uuid, contact_id uuid, cycle_request_id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    SELECT r.client_id, r.contact_id, r.id
    FROM contacts c
    JOIN cycle_requests r ON r.client_id = c.client_id AND r.contact_id = c.id
    WHERE lower(c.email) = lower(p_email) AND c.deleted_at IS NULL
      AND r.status = 'open' AND r.expires_at > now()
    ORDER BY r.created_at DESC
    LIMIT 5
  $$;

-- The delivery worker's claim, operations work that spans tenants: marks up to p_limit due
-- messages as being sent by p_worker for a lease, skipping rows another worker holds
-- (FOR UPDATE SKIP LOCKED), and returns only their ids. Everything else the worker does
-- (render, send, record) runs in the message's own client unit of work. A row whose lease
-- ran out ('sending' past locked_until: a worker died mid-send) is claimed again; the
-- message keeps its Message-ID, so the resend is recognisable.
CREATE FUNCTION spade_unsafe_claim_outbox(p_worker text, p_limit integer, p_lease_seconds integer)
  RETURNS TABLE (client_id uuid, id uuid)
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    UPDATE outbox_messages m
    SET status = 'sending', locked_by = p_worker, attempts = m.attempts + 1,
        locked_until = now() + make_interval(secs => p_lease_seconds), updated_at = now()
    FROM (
      SELECT o.client_id, o.id FROM outbox_messages o
      WHERE (o.status = 'pending' AND o.next_attempt_at <= now())
         OR (o.status = 'sending' AND o.locked_until < now())
      ORDER BY o.next_attempt_at
      LIMIT least(greatest(p_limit, 1), 500)
      FOR UPDATE SKIP LOCKED
    ) due
    WHERE m.client_id = due.client_id AND m.id = due.id
    RETURNING m.client_id, m.id
  $$;

-- The reminder scheduler's scan: requests whose next reminder is due — closed ones too, so
-- their schedule is stopped (and audited with the reason). Ids only; the decision (send,
-- stop, wait) is taken in each client's unit of work.
CREATE FUNCTION spade_unsafe_due_reminders(p_limit integer)
  RETURNS TABLE (client_id uuid, cycle_request_id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    SELECT r.client_id, r.id FROM cycle_requests r
    WHERE r.next_reminder_at IS NOT NULL AND r.next_reminder_at <= now()
    ORDER BY r.next_reminder_at
    LIMIT least(greatest(p_limit, 1), 1000)
  $$;

GRANT SELECT, UPDATE ON outbox_messages TO spade_definer;
GRANT UPDATE (link_exchanged_at) ON cycle_requests TO spade_definer;
REVOKE ALL ON FUNCTION spade_resolve_magic_link(text), spade_consume_magic_link(text), spade_open_requests_for_email(text),
  spade_unsafe_claim_outbox(text, integer, integer), spade_unsafe_due_reminders(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION spade_resolve_magic_link(text), spade_consume_magic_link(text), spade_open_requests_for_email(text),
  spade_unsafe_claim_outbox(text, integer, integer), spade_unsafe_due_reminders(integer) TO spade_app;

RESET ROLE;
ALTER FUNCTION spade_resolve_magic_link(text) OWNER TO spade_definer;
ALTER FUNCTION spade_consume_magic_link(text) OWNER TO spade_definer;
ALTER FUNCTION spade_open_requests_for_email(text) OWNER TO spade_definer;
ALTER FUNCTION spade_unsafe_claim_outbox(text, integer, integer) OWNER TO spade_definer;
ALTER FUNCTION spade_unsafe_due_reminders(integer) OWNER TO spade_definer;
