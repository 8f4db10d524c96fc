-- The data model of DESIGN.md §2. Every tenant table: client_id uuid not null, a unique
-- key on (client_id, id), parents referenced by (client_id, parent_id), and every unique
-- index leading with client_id.
SET LOCAL ROLE spade_owner;

CREATE TABLE clients (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  uen         text,
  status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
-- A UEN identifies one company; only admins create clients, so this cannot be probed by a tenant.
CREATE UNIQUE INDEX clients_uen_key ON clients (uen);

CREATE TABLE staff_users (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email          text NOT NULL,
  name           text NOT NULL,
  role           text NOT NULL CHECK (role IN ('admin', 'staff')),
  password_hash  text NOT NULL,
  disabled_at    timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX staff_users_email_key ON staff_users (lower(email));

CREATE TABLE staff_sessions (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  staff_user_id   uuid NOT NULL REFERENCES staff_users (id),
  token_hash      text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL,
  last_seen_at    timestamptz,
  revoked_at      timestamptz,
  revoked_reason  text
);
CREATE UNIQUE INDEX staff_sessions_token_hash_key ON staff_sessions (token_hash);
CREATE INDEX staff_sessions_staff_user_id_idx ON staff_sessions (staff_user_id);
CREATE INDEX staff_sessions_active_idx ON staff_sessions (staff_user_id) WHERE revoked_at IS NULL;

CREATE TABLE contacts (
  id          uuid NOT NULL DEFAULT gen_random_uuid(),
  client_id   uuid NOT NULL REFERENCES clients (id),
  name        text NOT NULL,
  email       text NOT NULL,
  phone       text,
  deleted_at  timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id),
  UNIQUE (client_id, id)
);
CREATE UNIQUE INDEX contacts_client_email_key ON contacts (client_id, lower(email)) WHERE deleted_at IS NULL;

CREATE TABLE staff_client_assignments (
  id             uuid NOT NULL DEFAULT gen_random_uuid(),
  client_id      uuid NOT NULL REFERENCES clients (id),
  staff_user_id  uuid NOT NULL REFERENCES staff_users (id),
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id),
  UNIQUE (client_id, id),
  UNIQUE (client_id, staff_user_id)
);
CREATE INDEX staff_client_assignments_staff_idx ON staff_client_assignments (staff_user_id);

CREATE TABLE cycles (
  id          uuid NOT NULL DEFAULT gen_random_uuid(),
  client_id   uuid NOT NULL REFERENCES clients (id),
  kind        text NOT NULL CHECK (kind IN ('bookkeeping', 'accounting', 'tax', 'corporate_secretarial', 'payroll', 'other')),
  period      text NOT NULL CHECK (length(period) BETWEEN 1 AND 40),
  title       text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  due_date    date,
  status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'in_progress', 'closed')),
  created_by  uuid REFERENCES staff_users (id),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id),
  UNIQUE (client_id, id)
);
CREATE INDEX cycles_client_due_idx ON cycles (client_id, due_date);

CREATE TABLE cycle_requests (
  id          uuid NOT NULL DEFAULT gen_random_uuid(),
  client_id   uuid NOT NULL REFERENCES clients (id),
  cycle_id    uuid NOT NULL,
  contact_id  uuid NOT NULL,
  token_hash  text NOT NULL,
  expires_at  timestamptz NOT NULL,
  status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'completed', 'cancelled')),
  message     text,
  created_by  uuid REFERENCES staff_users (id),
  sent_at     timestamptz NOT NULL DEFAULT now(),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id),
  UNIQUE (client_id, id),
  FOREIGN KEY (client_id, cycle_id) REFERENCES cycles (client_id, id),
  FOREIGN KEY (client_id, contact_id) REFERENCES contacts (client_id, id)
);
-- Resolving a magic link happens before its tenant is known (SECURITY DEFINER function).
CREATE INDEX cycle_requests_token_hash_idx ON cycle_requests (token_hash);
CREATE INDEX cycle_requests_client_cycle_idx ON cycle_requests (client_id, cycle_id);

CREATE TABLE request_items (
  id                uuid NOT NULL DEFAULT gen_random_uuid(),
  client_id         uuid NOT NULL REFERENCES clients (id),
  cycle_request_id  uuid NOT NULL,
  position          integer NOT NULL DEFAULT 0,
  label             text NOT NULL CHECK (length(label) BETWEEN 1 AND 200),
  description       text,
  status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'submitted', 'accepted', 'rejected')),
  review_comment    text,
  reviewed_by       uuid REFERENCES staff_users (id),
  reviewed_at       timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id),
  UNIQUE (client_id, id),
  FOREIGN KEY (client_id, cycle_request_id) REFERENCES cycle_requests (client_id, id)
);
CREATE INDEX request_items_client_request_idx ON request_items (client_id, cycle_request_id, position);

CREATE TABLE files (
  id               uuid NOT NULL DEFAULT gen_random_uuid(),
  client_id        uuid NOT NULL REFERENCES clients (id),
  cycle_id         uuid NOT NULL,
  request_item_id  uuid NOT NULL,
  filename         text NOT NULL CHECK (length(filename) BETWEEN 1 AND 255),
  content_type     text NOT NULL,
  size             bigint NOT NULL CHECK (size >= 0),
  sha256           text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  storage_key      text NOT NULL,
  uploaded_by_type text NOT NULL CHECK (uploaded_by_type IN ('staff', 'contact')),
  uploaded_by_id   uuid NOT NULL,
  deleted_at       timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id),
  UNIQUE (client_id, id),
  UNIQUE (client_id, storage_key),
  FOREIGN KEY (client_id, cycle_id) REFERENCES cycles (client_id, id),
  FOREIGN KEY (client_id, request_item_id) REFERENCES request_items (client_id, id)
);
CREATE INDEX files_client_item_idx ON files (client_id, request_item_id);

CREATE TABLE contact_sessions (
  id                uuid NOT NULL DEFAULT gen_random_uuid(),
  client_id         uuid NOT NULL REFERENCES clients (id),
  contact_id        uuid NOT NULL,
  cycle_request_id  uuid NOT NULL,
  token_hash        text NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now(),
  expires_at        timestamptz NOT NULL,
  revoked_at        timestamptz,
  PRIMARY KEY (id),
  UNIQUE (client_id, id),
  FOREIGN KEY (client_id, contact_id) REFERENCES contacts (client_id, id),
  FOREIGN KEY (client_id, cycle_request_id) REFERENCES cycle_requests (client_id, id)
);
CREATE INDEX contact_sessions_token_hash_idx ON contact_sessions (token_hash);
CREATE INDEX contact_sessions_client_request_idx ON contact_sessions (client_id, cycle_request_id);

-- Append-only: the runtime role may insert and read, never update or delete.
CREATE TABLE audit_events (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  occurred_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  event_type       text NOT NULL,
  actor_type       text NOT NULL CHECK (actor_type IN ('staff', 'contact', 'anonymous', 'system', 'operator')),
  actor_id         uuid,
  client_id        uuid REFERENCES clients (id),
  entity_type      text,
  entity_id        text,
  request_id       text,
  event_data_json  jsonb NOT NULL DEFAULT '{}'::jsonb
);
-- The runbook's investigation query: actor_id = … AND occurred_at > … ORDER BY occurred_at DESC.
CREATE INDEX audit_events_actor_occurred_idx ON audit_events (actor_id, occurred_at DESC);
CREATE INDEX audit_events_client_occurred_idx ON audit_events (client_id, occurred_at DESC);
CREATE INDEX audit_events_request_id_idx ON audit_events (request_id);

CREATE TABLE route_kill_switches (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  method        text NOT NULL,
  route_pattern text NOT NULL,
  reason        text NOT NULL,
  incident_id   uuid,
  created_by    text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  lifted_at     timestamptz,
  lifted_by     text
);
CREATE UNIQUE INDEX route_kill_switches_active_key ON route_kill_switches (method, route_pattern) WHERE lifted_at IS NULL;

-- Runtime grants: only the DML each table needs.
GRANT SELECT, INSERT, UPDATE ON clients, contacts, cycles, cycle_requests, request_items, files TO spade_app;
GRANT SELECT, INSERT, DELETE ON staff_client_assignments TO spade_app;
GRANT SELECT, INSERT, UPDATE ON staff_users, staff_sessions, contact_sessions TO spade_app;
GRANT SELECT, INSERT ON audit_events TO spade_app;
GRANT SELECT ON route_kill_switches TO spade_app;
-- spade_admin (admin staff-only routes): reads everything, writes firm-wide records.
GRANT SELECT ON clients, contacts, staff_users, staff_sessions, staff_client_assignments, cycles, cycle_requests,
  request_items, files, contact_sessions, audit_events, route_kill_switches TO spade_admin;
GRANT INSERT, UPDATE ON clients, staff_users TO spade_admin;
GRANT INSERT, DELETE ON staff_client_assignments TO spade_admin;
GRANT UPDATE ON staff_sessions TO spade_admin;
GRANT INSERT ON audit_events TO spade_admin;
