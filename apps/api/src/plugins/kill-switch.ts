import { type Database, NO_TENANT } from '@breezycorp/db';
import fp from 'fastify-plugin';
import { AppError } from '../errors.ts';

export const KILL_SWITCH_CHANNEL = 'spade_route_kill_switch';

export interface KillSwitchOptions {
  db: Database;
  /** The fallback poll, for a missed notification or a dropped LISTEN connection. */
  pollMs: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** "METHOD /route/:pattern" of every route taken offline (route_kill_switches, not lifted). */
    offlineRoutes: ReadonlySet<string>;
    /** Re-reads route_kill_switches now (the LISTEN handler and the poll call it). */
    refreshKillSwitches(): Promise<void>;
  }
}

/**
 * The runbook's containment B, as a switch: a route taken offline (`spade routes offline`)
 * answers 503 with Retry-After to client-scoped requests; staff-only routes keep working.
 * Every API instance learns of a change through LISTEN/NOTIFY (a trigger on
 * route_kill_switches notifies) within a second, with a poll as fallback; the switch lives
 * in the database, so it survives a restart.
 */
export default fp<KillSwitchOptions>(
  async (app, { db, pollMs }) => {
    let offline = new Set<string>();
    app.decorate('offlineRoutes', {
      getter: () => offline,
    });
    const refresh = async () => {
      const rows = await db.inUnit(NO_TENANT, (tx) =>
        tx.routeKillSwitch.findMany({ where: { liftedAt: null }, select: { method: true, routePattern: true } }),
      );
      offline = new Set(rows.map((row) => `${row.method.toUpperCase()} ${row.routePattern}`));
    };
    app.decorate('refreshKillSwitches', refresh);
    await refresh();

    let unlisten: (() => Promise<void>) | null = null;
    try {
      const refreshNow = () => {
        refresh().catch((error) => app.log.error({ err: error }, 'kill-switch refresh failed'));
      };
      // A lost LISTEN connection comes back by itself (with backoff); what changed while it
      // was away is read at once on reconnect, so propagation stays sub-second.
      unlisten = await db.listen(KILL_SWITCH_CHANNEL, refreshNow, () => {
        app.log.info('kill-switch LISTEN re-established');
        refreshNow();
      });
    } catch (error) {
      app.log.warn({ err: error }, 'kill-switch LISTEN unavailable; relying on the poll');
    }
    const timer = setInterval(() => {
      refresh().catch((error) => app.log.error({ err: error }, 'kill-switch poll failed'));
    }, pollMs);
    timer.unref();
    app.addHook('onClose', async () => {
      clearInterval(timer);
      await unlisten?.();
    });

    app.addHook('onRequest', async (request) => {
      if (request.is404 || offline.size === 0 || request.routeOptions.config.routeScope !== 'client-scoped') return;
      const url = request.routeOptions.url ?? '';
      // A GET taken offline takes its automatic HEAD with it.
      const methods = request.method === 'HEAD' ? ['HEAD', 'GET'] : [request.method];
      if (methods.some((method) => offline.has(`${method} ${url}`))) {
        throw new AppError('route_offline', 'This route is temporarily offline; try again later');
      }
    });
  },
  { name: 'kill-switch', dependencies: ['scope-enforcer'] },
);
