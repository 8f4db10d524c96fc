import fp from 'fastify-plugin';
import { BreadthDetector, type BreadthLimits } from '../services/breadth-detector.ts';
import { actorAuditFields } from '../tenancy/actor.ts';

/**
 * Breadth alerts (docs/detection.md): a staff member touching more distinct clients in a window
 * than the threshold and k× their own trailing baseline; a contact session whose request names
 * another client; a burst of tenant_access_denied from one actor or address. Each raises an
 * alert — audit event, Slack, a suggested incident in `spade incident list` — off the request
 * path. Decided in memory per instance (BreadthDetector): no audit-table query per request.
 */
export default fp<{ limits: BreadthLimits }>(
  async (app, { limits }) => {
    const detector = new BreadthDetector(limits);
    const route = (request: { method: string; routeOptions: { url?: string | undefined } }) =>
      `${request.method} ${request.routeOptions.url ?? ''}`;
    const contactsAlerted = new Set<string>();

    // onRequest, not later: assertClientTenant refuses such a request (404) before any later hook.
    app.addHook('onRequest', async (request) => {
      const actor = request.actor;
      if (request.routeOptions.config.routeScope !== 'client-scoped' || request.is404) return;
      const clientId = (request.params as { clientId?: unknown }).clientId;
      if (actor.kind === 'contact' && typeof clientId === 'string' && clientId !== actor.clientId) {
        if (contactsAlerted.has(actor.sessionId)) return;
        if (contactsAlerted.size > 100_000) contactsAlerted.clear();
        contactsAlerted.add(actor.sessionId);
        app.raiseAlertLater({
          kind: 'breadth.contact_foreign_client',
          requestId: request.id,
          actorType: 'contact',
          actorId: actor.contactId,
          address: request.ip,
          route: route(request),
          clientId: actor.clientId,
          detectedBy: 'api.breadth',
          details: { sessionClientId: actor.clientId, namedClientId: clientId },
        });
      }
    });

    // After require-client-scope opened the client's unit (preHandler): only admitted access counts.
    app.addHook('preHandler', async (request) => {
      const actor = request.actor;
      const scope = request.scope;
      if (actor.kind !== 'staff' || scope.kind !== 'client') return;
      const verdict = detector.observeStaffClient(actor.staffUserId, scope.clientId, Date.now());
      if (!verdict) return;
      app.raiseAlertLater({
        kind: 'breadth.staff_clients',
        requestId: request.id,
        actorType: 'staff',
        actorId: actor.staffUserId,
        address: request.ip,
        route: route(request),
        clientId: null,
        detectedBy: 'api.breadth',
        details: { ...verdict, threshold: limits.staffClientsThreshold, factor: limits.staffBaselineFactor },
      });
    });

    app.observeAudit((request, rows) => {
      if (!rows.some((row) => row.eventType === 'tenant_access_denied')) return;
      const { actorType, actorId } = actorAuditFields(request.actor);
      const now = Date.now();
      for (const key of [actorId ? `actor:${actorId}` : null, `address:${request.ip}`]) {
        if (!key) continue;
        const denials = detector.observeDenial(key, now);
        if (denials === null) continue;
        const byActor = key.startsWith('actor:');
        app.raiseAlertLater({
          kind: 'breadth.denied_burst',
          // One alert per request and kind: the address-keyed alert carries the request id in its details.
          requestId: byActor ? request.id : null,
          actorType,
          actorId: byActor ? actorId : null,
          address: byActor ? null : request.ip,
          route: route(request),
          clientId: null,
          detectedBy: 'api.breadth',
          details: {
            requestId: request.id,
            denials,
            windowSeconds: limits.deniedBurstWindowMs / 1000,
            threshold: limits.deniedBurstThreshold,
          },
        });
      }
    });
  },
  { name: 'breadth-alerts', dependencies: ['audit', 'alert-delivery', 'require-client-scope'] },
);
