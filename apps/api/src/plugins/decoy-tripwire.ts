import type { Database } from '@breezycorp/db';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../errors.ts';
import { watchTable } from '../services/db-watch.ts';
import { type DecoyIds, decoyIds } from '../services/detection-store.ts';
import { actorAuditFields } from '../tenancy/actor.ts';

export const DECOYS_CHANNEL = 'spade_decoys_changed';

interface Touch {
  /** Which check saw it: the URL, the body, the audit writer or the response. */
  via: 'api.url' | 'api.body' | 'api.audit-writer' | 'api.response';
  decoyClientId: string;
  entityId: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Re-reads decoy_entities now (the LISTEN handler and the poll call it). */
    refreshDecoys(): Promise<void>;
  }
  interface FastifyRequest {
    decoyTouches: Touch[] | null;
  }
  interface FastifyContextConfig {
    /**
     * false only on routes whose answers may legitimately name a decoy's id: the firm-wide
     * audit trail, which records the touches themselves (reading it is investigation).
     */
    decoyScan?: boolean;
  }
}

/**
 * Every decoy id among the string values of `value` (any depth). On the response path of every
 * request while decoys are armed, so it allocates nothing for a value that is not a decoy id
 * (ids leave the server lower-case; the map holds them lower-case).
 */
export function decoyIdsIn(value: unknown, decoys: ReadonlyMap<string, string>, found: Map<string, string>, depth = 0): void {
  if (typeof value === 'string') {
    if (value.length === 36) {
      const client = decoys.get(value);
      if (client !== undefined) found.set(value, client);
    }
    return;
  }
  if (value === null || typeof value !== 'object' || depth > 32) return;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) decoyIdsIn(value[i], decoys, found, depth + 1);
    return;
  }
  const record = value as Record<string, unknown>;
  for (const key in record) decoyIdsIn(record[key], decoys, found, depth + 1);
}

/**
 * Decoy tenants as tripwires. Nothing legitimate ever names a decoy's id — they are assigned
 * to no staff and left out of every firm list — so any request that does is a leak or a probe:
 * its URL or body naming one, the audit writer recording a read of one, or a response carrying
 * one. The first check that sees it marks the request; once its unit of work has committed or
 * rolled back (so the alert survives either), an alert is raised that opens an incident with
 * the request id, actor, route and what was seen, records `decoy.touched` and posts to Slack —
 * before the response leaves. If that cannot be recorded the request fails (500): fail closed.
 * The database's own tripwire (a trigger on audit_events) catches what bypasses the API.
 */
export default fp<{ db: Database; pollMs: number }>(
  async (app, { db, pollMs }) => {
    let decoys: DecoyIds = { byId: new Map(), clientIds: new Set() };
    const refresh = async () => {
      decoys = await decoyIds(db);
    };
    app.decorate('refreshDecoys', refresh);
    await watchTable(app, db, { channel: DECOYS_CHANNEL, pollMs, name: 'decoy-tripwire', refresh });

    app.decorateRequest('decoyTouches', null);
    const touch = (request: FastifyRequest, via: Touch['via'], found: Map<string, string>) => {
      if (found.size === 0) return;
      request.decoyTouches ??= [];
      for (const [entityId, decoyClientId] of found) request.decoyTouches.push({ via, decoyClientId, entityId });
    };

    app.addHook('onRequest', async (request) => {
      if (decoys.byId.size === 0) return;
      const found = new Map<string, string>();
      // A URL may spell an id in upper case (PostgreSQL compares uuids regardless).
      const lower = (value: unknown) => (typeof value === 'string' ? value.toLowerCase() : value);
      const values = (record: unknown) => (record && typeof record === 'object' ? Object.values(record) : []);
      decoyIdsIn([...values(request.params), ...values(request.query)].flat().map(lower), decoys.byId, found);
      touch(request, 'api.url', found);
    });
    app.addHook('preHandler', async (request) => {
      if (decoys.byId.size === 0 || request.body === undefined || request.body === null) return;
      const found = new Map<string, string>();
      decoyIdsIn(request.body, decoys.byId, found);
      touch(request, 'api.body', found);
    });
    app.observeAudit((request, rows) => {
      if (decoys.clientIds.size === 0) return;
      const found = new Map<string, string>();
      for (const row of rows) if (row.clientId && decoys.clientIds.has(row.clientId)) found.set(row.clientId, row.clientId);
      touch(request, 'api.audit-writer', found);
    });
    app.addHook('preSerialization', async (request, _reply, payload) => {
      if (decoys.byId.size === 0 || request.routeOptions.config.decoyScan === false) return payload;
      const found = new Map<string, string>();
      decoyIdsIn(payload, decoys.byId, found);
      touch(request, 'api.response', found);
      return payload;
    });

    // After unit-of-work's onSend (registered earlier): the request's transaction is settled.
    app.addHook('onSend', async (request, reply, payload) => {
      const touches = request.decoyTouches;
      if (!touches || touches.length === 0) return payload;
      request.decoyTouches = null;
      const first = touches[0] as Touch;
      const { actorType, actorId } = actorAuditFields(request.actor);
      try {
        await app.raiseAlert({
          kind: 'decoy.touched',
          requestId: request.id,
          actorType,
          actorId,
          address: request.ip,
          route: `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`,
          clientId: first.decoyClientId,
          detectedBy: first.via,
          details: {
            method: request.method,
            url: request.url.slice(0, 500),
            statusCode: reply.statusCode,
            seen: touches.slice(0, 20),
          },
        });
      } catch (error) {
        request.log.error({ err: error }, 'a decoy was touched and the alert could not be recorded');
        throw new AppError('internal', 'decoy alert not recorded');
      }
      return payload;
    });
  },
  { name: 'decoy-tripwire', dependencies: ['audit', 'alert-delivery', 'unit-of-work'] },
);
