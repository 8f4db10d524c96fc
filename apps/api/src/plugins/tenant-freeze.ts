import type { Database } from '@breezycorp/db';
import fp from 'fastify-plugin';
import { AppError } from '../errors.ts';
import { watchTable } from '../services/db-watch.ts';
import { activeFreezes } from '../services/detection-store.ts';

export const TENANT_FREEZE_CHANNEL = 'spade_tenant_freeze';
/** How long a frozen client's callers are told to wait before retrying (seconds). */
export const FROZEN_RETRY_AFTER_S = 300;

declare module 'fastify' {
  interface FastifyInstance {
    /** Clients frozen now (`spade tenants freeze`): their client-scoped routes answer 503 to all but admins. */
    frozenClients: ReadonlySet<string>;
    refreshTenantFreezes(): Promise<void>;
  }
}

/**
 * Per-tenant containment: while a client is frozen, every client-scoped route for it answers
 * 503 (the one error shape, with Retry-After) to everyone but admin staff. It runs after
 * assertClientTenant, so an actor who may not see the client still gets the usual 404 and
 * learns nothing about the freeze. Every instance learns of a freeze within a second
 * (LISTEN/NOTIFY on tenant_freezes, poll as fallback); other clients are untouched.
 */
export default fp<{ db: Database; pollMs: number }>(
  async (app, { db, pollMs }) => {
    let frozen = new Set<string>();
    app.decorate('frozenClients', { getter: () => frozen });
    const refresh = async () => {
      frozen = await activeFreezes(db);
    };
    app.decorate('refreshTenantFreezes', refresh);
    await watchTable(app, db, { channel: TENANT_FREEZE_CHANNEL, pollMs, name: 'tenant-freeze', refresh });

    app.addHook('preValidation', async (request, reply) => {
      if (frozen.size === 0 || request.is404 || request.routeOptions.config.routeScope !== 'client-scoped') return;
      const clientId = (request.params as { clientId?: unknown }).clientId;
      if (typeof clientId !== 'string' || !frozen.has(clientId)) return;
      const actor = request.actor;
      if (actor.kind === 'staff' && actor.role === 'admin') return;
      reply.header('retry-after', String(FROZEN_RETRY_AFTER_S));
      throw new AppError('unavailable', 'This client is temporarily unavailable; try again later');
    });
  },
  { name: 'tenant-freeze', dependencies: ['require-client-scope'] },
);
