import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMigratedDatabase, type TestDatabase } from '../src/testing.ts';

/**
 * DESIGN §4: the policy is one index-friendly expression — the subselect evaluates once per
 * statement and a tenant's rows are found through the (client_id, …) indexes, never by
 * scanning every tenant's rows.
 */
let testDb: TestDatabase & { owner: { close(): Promise<void> } };
let app: pg.Client;
let clientId: string;

beforeAll(async () => {
  testDb = await createMigratedDatabase();
  const owner = new pg.Client({ connectionString: testDb.ownerUrl });
  await owner.connect();
  // 200 clients × 100 files each, through the whole chain of composite keys.
  await owner.query(`
    INSERT INTO clients (id, name) SELECT gen_random_uuid(), 'Client ' || g FROM generate_series(1, 200) g;
    INSERT INTO contacts (client_id, name, email) SELECT id, 'C', 'c@example.com' FROM clients;
    INSERT INTO cycles (client_id, kind, period, title) SELECT id, 'bookkeeping', '2026-10', 'T' FROM clients;
    INSERT INTO cycle_requests (client_id, cycle_id, contact_id, token_hash, expires_at)
      SELECT c.client_id, c.id, k.id, md5(random()::text), now() + interval '1 day'
      FROM cycles c JOIN contacts k ON k.client_id = c.client_id;
    INSERT INTO request_items (client_id, cycle_request_id, label) SELECT client_id, id, 'L' FROM cycle_requests;
    INSERT INTO files (client_id, cycle_id, request_item_id, filename, content_type, size, sha256, storage_key, uploaded_by_type, uploaded_by_id)
      SELECT i.client_id, r.cycle_id, i.id, 'f' || g, 'text/plain', 1, repeat('a', 64), i.client_id || '/' || g, 'staff', gen_random_uuid()
      FROM request_items i JOIN cycle_requests r ON r.client_id = i.client_id AND r.id = i.cycle_request_id, generate_series(1, 100) g;
    ANALYZE;`);
  clientId = (await owner.query('SELECT id FROM clients LIMIT 1')).rows[0].id;
  // One big client (10,000 more files), as the bench's list route reads.
  await owner.query(
    `INSERT INTO files (client_id, cycle_id, request_item_id, filename, content_type, size, sha256, storage_key, uploaded_by_type, uploaded_by_id)
       SELECT i.client_id, r.cycle_id, i.id, 'big' || g, 'text/plain', 1, repeat('b', 64), i.client_id || '/big/' || g, 'staff', gen_random_uuid()
       FROM request_items i JOIN cycle_requests r ON r.client_id = i.client_id AND r.id = i.cycle_request_id, generate_series(1, 10000) g
       WHERE i.client_id = $1;
     ANALYZE files;`.replace('$1', `'${clientId}'`),
  );
  await owner.end();
  app = new pg.Client({ connectionString: testDb.appUrl });
  await app.connect();
});
afterAll(async () => {
  await app?.end();
  await testDb?.drop();
});

async function plan(sql: string, params: unknown[] = []): Promise<string> {
  await app.query('BEGIN');
  try {
    await app.query("SELECT set_config('app.client_ids', $1, true)", [clientId]);
    const rows = await app.query(`EXPLAIN ${sql}`, params);
    return rows.rows.map((row) => row['QUERY PLAN']).join('\n');
  } finally {
    await app.query('ROLLBACK');
  }
}

describe('the RLS policy uses the tenant indexes', () => {
  it("listing a tenant's files reads its index range, not every tenant's rows", async () => {
    const text = await plan('SELECT * FROM files');
    expect(text).toMatch(/Index|Bitmap/);
    expect(text).not.toMatch(/Seq Scan on files/);
    // The setting is read once per statement (an InitPlan), not once per row.
    expect(text).toMatch(/InitPlan/);
  });

  it("a page of a client's files in list order reads the order index and stops, without sorting the client's files", async () => {
    // The files list's keyset page (apps/api routes/files: oldest first, then id, not deleted).
    const text = await plan('SELECT * FROM files WHERE client_id = $1 AND deleted_at IS NULL ORDER BY created_at ASC, id ASC LIMIT 51', [
      clientId,
    ]);
    expect(text).toMatch(/files_client_created_idx/);
    expect(text).not.toMatch(/Sort/);
  });

  it('a lookup by id under the policy is an index scan too', async () => {
    const text = await plan('SELECT * FROM files WHERE id = $1', ['00000000-0000-4000-8000-000000000000']);
    expect(text).toMatch(/Index/);
    expect(text).not.toMatch(/Seq Scan on files/);
  });
});
