/**
 * The migrations a fresh database gets, in order — pinned here once for every test that
 * checks what was applied (migrate.test.ts on PostgreSQL, pglite.test.ts on the embedded
 * default), so a new migration is one line in one place and a lost or renamed file fails both.
 */
export const EXPECTED_MIGRATIONS = [
  '0001_roles',
  '0002_schema',
  '0003_row_level_security',
  '0004_incidents',
  '0005_resolve_staff_session',
  '0007_least_privilege',
  '0008_outbox_and_delivery',
  '0009_detection',
  '0010_hot_path',
  '0011_contact_idle',
  '0012_incident_console',
  '0013_one_client_session_check',
  '0014_list_order_indexes',
] as const;
