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

RESET ROLE;
