import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestsToJsonLines, listDigests, sealAudit, verifyAuditTrail } from '../src/audit-trail.ts';
import { pgExecutor } from '../src/sql-executor.ts';
import { createMigratedDatabase, type TestDatabase } from '../src/testing.ts';

/*
 * The tamper-evident audit trail on the real PostgreSQL: seals chain, verification names the
 * first row or digest that was edited, deleted or inserted out of order, and the runtime role
 * can neither change audit rows nor touch digests except through the sealing function.
 */
let db: TestDatabase & { owner: { close(): Promise<void> } };
let owner: pg.Client;
let app: pg.Client;
const sql = () => pgExecutor(owner);

async function insertEvents(n: number, type = 'cycle.read'): Promise<void> {
  await owner.query(
    `INSERT INTO audit_events (event_type, actor_type, entity_type, entity_id, request_id, event_data_json)
     SELECT $1, 'system', 'thing', g::text, 'req-' || g, jsonb_build_object('n', g) FROM generate_series(1, $2) g`,
    [type, n],
  );
}

beforeAll(async () => {
  db = await createMigratedDatabase('spade_test_audit_trail');
  owner = new pg.Client({ connectionString: db.ownerUrl });
  await owner.connect();
  app = new pg.Client({ connectionString: db.appUrl });
  await app.connect();
});
afterAll(async () => {
  await app?.end();
  await owner?.end();
  await db?.drop();
});

describe('audit digests', () => {
  it('chains each seal to the previous one and verifies clean; an empty seal writes nothing', async () => {
    await insertEvents(5);
    const first = await sealAudit(sql(), 'test');
    expect(first).toMatchObject({ seq: 1, rowCount: 5, firstPosition: 1, lastPosition: 5 });
    expect(await sealAudit(sql(), 'test')).toBeNull();
    await insertEvents(3);
    const second = await sealAudit(sql(), 'test');
    expect(second).toMatchObject({ seq: 2, rowCount: 3, firstPosition: 6, lastPosition: 8 });
    const digests = await listDigests(sql());
    expect(digests[1]?.prevHash).toBe(first?.hash);
    const report = await verifyAuditTrail(sql());
    expect(report).toMatchObject({ ok: true, digests: 2, rows: 8, unsealed: 0, problems: [] });
  });

  it('the runtime role seals through the definer function but cannot update or delete audit rows, nor write digests directly', async () => {
    await insertEvents(2);
    const sealed = await sealAudit(pgExecutor(app), 'api:test');
    expect(sealed?.rowCount).toBe(2);
    for (const statement of [
      "UPDATE audit_events SET event_type = 'x'",
      'DELETE FROM audit_events',
      "UPDATE audit_digests SET hash = repeat('0', 64)",
      'DELETE FROM audit_digests',
      'DELETE FROM audit_digest_entries',
      "INSERT INTO audit_digests (seq, sealed_at, sealed_by, first_position, last_position, row_count, entries_sha256, prev_hash, hash) VALUES (99, now(), 'x', 1, 1, 1, repeat('0', 64), repeat('0', 64), repeat('1', 64))",
      'SELECT * FROM audit_digests',
    ]) {
      await expect(app.query(statement), statement).rejects.toThrow(/permission denied/);
    }
  });

  it('names the edited row first, then a deleted one, and a backdated insert', async () => {
    await insertEvents(4, 'file.downloaded');
    await sealAudit(sql(), 'test');
    const entries = await owner.query<{ audit_event_id: string; position: string }>(
      'SELECT audit_event_id::text, position FROM audit_digest_entries ORDER BY position',
    );
    const [edited, deleted] = [entries.rows[3]!, entries.rows[9]!];
    await owner.query('BEGIN');
    try {
      await owner.query(`UPDATE audit_events SET event_data_json = '{"n": 999}' WHERE id = $1`, [edited.audit_event_id]);
      await owner.query('DELETE FROM audit_events WHERE id = $1', [deleted.audit_event_id]);
      await owner.query(
        `INSERT INTO audit_events (occurred_at, event_type, actor_type) VALUES (now() - interval '2 hours', 'cycle.read', 'system')`,
      );
      const report = await verifyAuditTrail(sql());
      expect(report.ok).toBe(false);
      expect(report.problems[0]).toMatchObject({
        kind: 'row_edited',
        auditEventId: edited.audit_event_id,
        position: Number(edited.position),
      });
      expect(report.problems).toContainEqual(expect.objectContaining({ kind: 'row_deleted', auditEventId: deleted.audit_event_id }));
      expect(report.problems).toContainEqual(expect.objectContaining({ kind: 'row_inserted_out_of_order', digestSeq: null }));
    } finally {
      await owner.query('ROLLBACK');
    }
    expect((await verifyAuditTrail(sql())).ok).toBe(true);
  });

  it('names a rewritten digest, a broken link and a digest that differs from its exported copy', async () => {
    const exported = digestsToJsonLines(await listDigests(sql()));
    expect(exported.split('\n').filter(Boolean)).toHaveLength(4);
    await owner.query('BEGIN');
    try {
      await owner.query("UPDATE audit_digests SET sealed_by = 'someone else' WHERE seq = 2");
      const altered = await verifyAuditTrail(sql());
      expect(altered.problems[0]).toMatchObject({ kind: 'digest_altered', digestSeq: 2 });
      // A careful forger recomputes the hash: the next digest's link breaks, and the export disagrees.
      await owner.query(
        `UPDATE audit_digests SET hash = spade_audit_digest_hash(seq, prev_hash, sealed_at, sealed_by, first_position, last_position, row_count, entries_sha256) WHERE seq = 2`,
      );
      const relinked = await verifyAuditTrail(sql(), {
        exported: exported
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line)),
      });
      expect(relinked.problems.map((p) => `${p.kind}@${p.digestSeq}`)).toEqual(['digest_rewritten@2', 'digest_chain_broken@3']);
    } finally {
      await owner.query('ROLLBACK');
    }
  });

  it('verifies at a measured rate (rows/s) over 50,000 rows', async () => {
    await insertEvents(50_000);
    const sealStarted = performance.now();
    const sealed = await sealAudit(sql(), 'test');
    const sealMs = performance.now() - sealStarted;
    expect(sealed?.rowCount).toBe(50_000);
    const report = await verifyAuditTrail(sql());
    expect(report.ok).toBe(true);
    console.log(
      `audit trail: sealed 50,000 rows in ${sealMs.toFixed(0)} ms; verified ${report.rows} rows over ${report.digests} digests in ` +
        `${report.elapsedMs.toFixed(0)} ms = ${report.rowsPerSecond.toLocaleString('en')} rows/s`,
    );
  });
});
