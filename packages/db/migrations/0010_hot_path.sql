-- Issue 13: ready for more than one machine, and a cheaper hot path.
--
-- 1. Tenant tables key on (client_id, id), not (id): under Citus every primary key and
--    unique constraint of a table distributed by client_id must include client_id
--    (docs/scaling.md; packages/db/test/distribution-ready.test.ts checks the catalogue).
--    It also stops a global-id unique check from answering "this id exists in another
--    tenant". The existing UNIQUE (client_id, id) constraints stay: the composite foreign
--    keys (layer 5) are bound to them.
SET LOCAL ROLE spade_owner;

ALTER TABLE contacts DROP CONSTRAINT contacts_pkey, ADD PRIMARY KEY (client_id, id);
ALTER TABLE staff_client_assignments DROP CONSTRAINT staff_client_assignments_pkey, ADD PRIMARY KEY (client_id, id);
ALTER TABLE cycles DROP CONSTRAINT cycles_pkey, ADD PRIMARY KEY (client_id, id);
ALTER TABLE cycle_requests DROP CONSTRAINT cycle_requests_pkey, ADD PRIMARY KEY (client_id, id);
ALTER TABLE request_items DROP CONSTRAINT request_items_pkey, ADD PRIMARY KEY (client_id, id);
ALTER TABLE files DROP CONSTRAINT files_pkey, ADD PRIMARY KEY (client_id, id);
ALTER TABLE contact_sessions DROP CONSTRAINT contact_sessions_pkey, ADD PRIMARY KEY (client_id, id);
ALTER TABLE outbox_messages DROP CONSTRAINT outbox_messages_pkey, ADD PRIMARY KEY (client_id, id);
ALTER TABLE recurring_schedules DROP CONSTRAINT recurring_schedules_pkey, ADD PRIMARY KEY (client_id, id);

RESET ROLE;

-- 2. The per-request session lookups in PL/pgSQL (the staff one already is, since 0007;
--    this makes the contact one so). A SQL-language SECURITY DEFINER function
--    is never inlined and is planned again on every call; PL/pgSQL keeps the plan of its
--    query per connection (DESIGN §9: ~0.1 ms of PostgreSQL CPU per request). Same
--    signatures, same bodies, same owner (spade_definer) and grants: CREATE OR REPLACE keeps
--    both. Run by the migrating login, which owns them through spade_definer.
CREATE OR REPLACE FUNCTION spade_resolve_contact_session(p_token_hash text)
  RETURNS TABLE (session_id uuid, client_id uuid, contact_id uuid, cycle_request_id uuid)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  #variable_conflict use_column
  BEGIN
    RETURN QUERY
    SELECT s.id, s.client_id, s.contact_id, s.cycle_request_id
    FROM contact_sessions s
    JOIN cycle_requests r ON r.client_id = s.client_id AND r.id = s.cycle_request_id
    JOIN contacts c ON c.client_id = s.client_id AND c.id = s.contact_id
    WHERE s.token_hash = p_token_hash
      AND s.revoked_at IS NULL AND s.expires_at > now()
      AND r.status = 'open' AND r.expires_at > now()
      AND c.deleted_at IS NULL;
  END
  $$;
