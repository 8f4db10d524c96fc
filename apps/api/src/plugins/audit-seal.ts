import { hostname } from 'node:os';
import type { Database } from '@breezycorp/db';
import fp from 'fastify-plugin';
import { sealAuditTrail } from '../services/detection-store.ts';

/**
 * Seals the audit trail on an interval (SPADE_AUDIT_SEAL_INTERVAL_MS; 0 = off): one digest
 * chaining every row not sealed yet to the previous digest, written by a SECURITY DEFINER
 * function under an advisory lock, so any number of instances (and `spade audit seal`) may
 * run it. Off the request path: requests pay nothing for it.
 */
export default fp<{ db: Database; intervalMs: number }>(
  async (app, { db, intervalMs }) => {
    if (intervalMs <= 0) return;
    const sealedBy = `api:${hostname()}:${process.pid}`;
    let running: Promise<unknown> | null = null;
    const timer = setInterval(() => {
      if (running) return;
      running = sealAuditTrail(db, sealedBy)
        .then((sealed) => {
          if (sealed) app.log.info({ digest: sealed.seq, rows: sealed.rowCount }, 'audit trail sealed');
        })
        .catch((error) => app.log.error({ err: error }, 'audit seal failed'))
        .finally(() => {
          running = null;
        });
    }, intervalMs);
    timer.unref();
    app.addHook('onClose', async () => {
      clearInterval(timer);
      await running;
    });
  },
  { name: 'audit-seal' },
);
