import type { Prisma } from './generated/prisma/client.ts';
import { writingAuditRows } from './tenant-context.ts';
import type { ScopedTx, TxClient } from './unit-of-work.ts';

/** One audit_events row; id and occurred_at are the database's (gen_random_uuid(), clock_timestamp()). */
export interface AuditRowValues {
  eventType: string;
  actorType: 'staff' | 'contact' | 'anonymous' | 'system' | 'operator';
  actorId: string | null;
  clientId: string | null;
  entityType: string | null;
  entityId: string | null;
  requestId: string | null;
  eventDataJson: Prisma.InputJsonObject;
}

const COLUMNS = 8;
const statements = new Map<number, string>();

/** The INSERT for `n` rows, built once per row count (a parameterised, cached text). */
function insertFor(n: number): string {
  let text = statements.get(n);
  if (!text) {
    const rows = Array.from({ length: n }, (_, i) => {
      const p = (k: number) => `$${i * COLUMNS + k}`;
      return `(${p(1)}, ${p(2)}, ${p(3)}::uuid, ${p(4)}::uuid, ${p(5)}, ${p(6)}, ${p(7)}, ${p(8)}::jsonb)`;
    });
    text = `INSERT INTO audit_events (event_type, actor_type, actor_id, client_id, entity_type, entity_id, request_id, event_data_json) VALUES ${rows.join(', ')}`;
    if (statements.size < 64) statements.set(n, text);
  }
  return text;
}

/**
 * Writes audit rows with one parameterised INSERT on the unit of work's own connection,
 * inside its transaction — so they commit with the work or not at all, and RLS's WITH
 * CHECK still applies to every row. Not Prisma's createMany: its runtime keeps createMany
 * out of the query-plan cache, so every call ran the query compiler (~0.6 ms of CPU per
 * request, issue 13). Through a client's scoped transaction the tenant-scope extension lets
 * this one statement through only when every row names that client.
 */
export async function insertAuditRows(tx: TxClient | ScopedTx, rows: readonly AuditRowValues[]): Promise<void> {
  if (rows.length === 0) return;
  const params: unknown[] = [];
  for (const r of rows) {
    params.push(r.eventType, r.actorType, r.actorId, r.clientId, r.entityType, r.entityId, r.requestId, JSON.stringify(r.eventDataJson));
  }
  await writingAuditRows(
    rows.map((r) => r.clientId),
    // Awaited inside the context: Prisma's promises start work only when awaited.
    async () => await tx.$executeRawUnsafe(insertFor(rows.length), ...params),
  );
}
