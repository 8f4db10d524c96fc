import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO, seedDemo } from '../src/seed.ts';
import { createMigratedDatabase, type TestDatabase } from '../src/testing.ts';

/*
 * Layer 5 of DESIGN.md §4: a row references its parents by (client_id, parent_id), so even
 * the owner — who bypasses RLS and the Prisma extension — cannot make one client's row point
 * at another client's row.
 */
const FOREIGN_KEY_VIOLATION = '23503';

interface ClientRows {
  cycleId: string;
  contactId: string;
  requestId: string;
  itemId: string;
}

let testDb: TestDatabase & { owner: { close(): Promise<void> } };
let storageDir: string;
let owner: pg.Client;
const rows: Record<'acme' | 'borneo', ClientRows> = {} as Record<'acme' | 'borneo', ClientRows>;

async function rowsOf(clientId: string): Promise<ClientRows> {
  // The seed's ids are derived, not exported: read one of each back per client.
  const result = await owner.query<ClientRows>(
    `SELECT c.id AS "cycleId", r.contact_id AS "contactId", r.id AS "requestId", i.id AS "itemId"
     FROM cycles c
     JOIN cycle_requests r ON r.client_id = c.client_id AND r.cycle_id = c.id
     JOIN request_items i ON i.client_id = r.client_id AND i.cycle_request_id = r.id
     WHERE c.client_id = $1 ORDER BY i.position LIMIT 1`,
    [clientId],
  );
  return result.rows[0]!;
}

/** Runs one statement in a transaction that is always rolled back, so each case starts from the seed. */
async function attempt(text: string, params: unknown[]): Promise<unknown> {
  await owner.query('BEGIN');
  try {
    await owner.query(text, params);
    return undefined;
  } catch (error) {
    return error;
  } finally {
    await owner.query('ROLLBACK');
  }
}

const INSERT_REQUEST = `INSERT INTO cycle_requests (client_id, cycle_id, contact_id, token_hash, expires_at)
                        VALUES ($1, $2, $3, 'composite-key-test', now() + interval '1 day')`;
const INSERT_FILE = `INSERT INTO files (client_id, cycle_id, request_item_id, filename, content_type, size, sha256,
                                        storage_key, uploaded_by_type, uploaded_by_id)
                     VALUES ($1, $2, $3, 'x.txt', 'text/plain', 1, repeat('a', 64), 'composite-key-test', 'staff', $4)`;

beforeAll(async () => {
  const db = await createMigratedDatabase('spade_test_keys');
  testDb = db;
  storageDir = await mkdtemp(path.join(os.tmpdir(), 'spade-keys-'));
  await seedDemo(db.owner.prisma, { storageDir });
  owner = new pg.Client({ connectionString: db.ownerUrl });
  await owner.connect();
  rows.acme = await rowsOf(DEMO.clients.acme);
  rows.borneo = await rowsOf(DEMO.clients.borneo);
});

afterAll(async () => {
  await owner?.end();
  await testDb?.drop();
  if (storageDir) await rm(storageDir, { recursive: true, force: true });
});

describe('composite tenant foreign keys', () => {
  it("accept a cycle request and a file whose parents all belong to the row's own client", async () => {
    // The control: without it a 23503 below could come from anything but the tenant mismatch.
    expect(await attempt(INSERT_REQUEST, [DEMO.clients.acme, rows.acme.cycleId, rows.acme.contactId])).toBeUndefined();
    expect(await attempt(INSERT_FILE, [DEMO.clients.acme, rows.acme.cycleId, rows.acme.itemId, DEMO.staff.admin.id])).toBeUndefined();
  });

  it("reject a cycle request pointing at another client's cycle", async () => {
    const error = await attempt(INSERT_REQUEST, [DEMO.clients.acme, rows.borneo.cycleId, rows.acme.contactId]);
    expect(error).toMatchObject({ code: FOREIGN_KEY_VIOLATION, table: 'cycle_requests' });
    expect((error as pg.DatabaseError).detail).toContain('cycle_id');
  });

  it("reject a cycle request pointing at another client's contact", async () => {
    const error = await attempt(INSERT_REQUEST, [DEMO.clients.acme, rows.acme.cycleId, rows.borneo.contactId]);
    expect(error).toMatchObject({ code: FOREIGN_KEY_VIOLATION, table: 'cycle_requests' });
    expect((error as pg.DatabaseError).detail).toContain('contact_id');
  });

  it("reject a file pointing at another client's request item", async () => {
    const error = await attempt(INSERT_FILE, [DEMO.clients.acme, rows.acme.cycleId, rows.borneo.itemId, DEMO.staff.admin.id]);
    expect(error).toMatchObject({ code: FOREIGN_KEY_VIOLATION, table: 'files' });
    expect((error as pg.DatabaseError).detail).toContain('request_item_id');
  });

  it("reject moving an existing row under another client's parent", async () => {
    // Updates are checked as well as inserts: re-pointing Acme's request at Borneo's cycle fails.
    const error = await attempt('UPDATE cycle_requests SET cycle_id = $1 WHERE id = $2', [rows.borneo.cycleId, rows.acme.requestId]);
    expect(error).toMatchObject({ code: FOREIGN_KEY_VIOLATION, table: 'cycle_requests' });
  });
});
