import { clientContext, type Database, type ScopedTx, type TxClient, type UnitOfWork } from '@breezycorp/db';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../errors.ts';
import { ANONYMOUS } from '../tenancy/actor.ts';
import { firmContext } from '../tenancy/firm-context.ts';
import type { IsolationLayers } from '../tenancy/layers.ts';
import type { RequestScope } from '../tenancy/request-scope.ts';

export type PreCommitCheck = (request: FastifyRequest) => Promise<void>;

declare module 'fastify' {
  interface FastifyInstance {
    /** Checks that run before a request's unit of work commits; a throw rolls it back. */
    addPreCommitCheck(check: PreCommitCheck): void;
  }
  interface FastifyRequest {
    /**
     * What this request may touch, set once when its unit of work opens (tenancy/request-scope.ts):
     * `none` until then and on routes without one.
     */
    readonly scope: RequestScope;
    /** Opens the client unit of work; only require-client-scope calls it, after assertClientTenant. */
    openClientUnit(clientId: string): Promise<void>;
    /** Ends the request's unit of work, rolled back (errors, refusals); a no-op without one. */
    rollbackUnit(): Promise<void>;
    /** Undo work outside the database (a stored file) if the unit rolls back. */
    onRollback(undo: () => Promise<void>): void;
  }
}

const NO_SCOPE: RequestScope = Object.freeze({ kind: 'none' });

/**
 * Each request's open unit with the scope it grants (one entry: the scope exists exactly while
 * its unit is open), and its undo actions — this plugin's own state, no decorator.
 */
const open = new WeakMap<FastifyRequest, { unit: UnitOfWork<unknown>; scope: RequestScope }>();
const rollbackActions = new WeakMap<FastifyRequest, (() => Promise<void>)[]>();

async function runRollbackActions(request: FastifyRequest) {
  const actions = rollbackActions.get(request) ?? [];
  rollbackActions.delete(request);
  for (const undo of actions) await undo().catch((error) => request.log.error({ err: error }, 'rollback action failed'));
}

/**
 * One interactive transaction per request: opened before the handler, committed in onSend
 * — before the first byte of the response leaves, so a failed audit insert fails the
 * request — and rolled back on any error or aborted request.
 */
export default fp<{ db: Database; adminDb: Database; layers: IsolationLayers; acquireTimeoutMs?: number }>(
  async (app, { db, adminDb, layers, acquireTimeoutMs }) => {
    // maxWait: how long a request may wait for a connection to start its transaction —
    // bounded like the pool's own acquisition, so a saturated or absent database is a
    // prompt 503, never a hung request.
    const options = { unsafeKeepConnectionRole: !layers.rowLevelSecurity, maxWaitMs: acquireTimeoutMs ?? 3_000 };
    const preCommitChecks: PreCommitCheck[] = [];
    app.decorate('addPreCommitCheck', (check: PreCommitCheck) => {
      preCommitChecks.push(check);
    });
    // Read-only to everyone else: only this plugin sets a request's scope (when its unit opens).
    app.decorateRequest('scope', {
      getter(this: FastifyRequest) {
        return open.get(this)?.scope ?? NO_SCOPE;
      },
    });
    app.decorateRequest('openClientUnit', async function (this: FastifyRequest, clientId: string) {
      if (open.has(this)) throw new AppError('internal', 'unit of work already open');
      // Layer 3 switched off (tests only): the same transaction without the extension; its
      // client is typed as the scoped one because handlers are written against it.
      const unit = layers.tenantScope ? await db.clientUnit(clientId, options) : await db.unit(clientContext(clientId), options);
      open.set(this, {
        unit,
        scope: Object.freeze({ kind: 'client', clientId, db: unit.tx as ScopedTx, writeAudit: unit.audit }),
      });
    });
    app.decorateRequest('rollbackUnit', async function (this: FastifyRequest) {
      const entry = open.get(this);
      if (!entry) return;
      open.delete(this);
      await entry.unit.rollback().catch((error) => this.log.error({ err: error }, 'rollback failed'));
      await runRollbackActions(this);
    });
    app.decorateRequest('onRollback', function (this: FastifyRequest, undo: () => Promise<void>) {
      const actions = rollbackActions.get(this) ?? [];
      actions.push(undo);
      rollbackActions.set(this, actions);
    });

    app.addHook('preHandler', async (request) => {
      const config = request.routeOptions.config;
      if (config.noDatabase || config.ownTransactions || config.routeScope === 'client-scoped' || request.is404) return;
      const actor = config.routeScope === 'staff-only' ? request.actor : ANONYMOUS;
      const context = firmContext(actor);
      // The admin pool is opened only here: a staff-only route, the admin's session verified.
      const pool = context.role === 'spade_firm_admin' ? adminDb : db;
      const unit = await pool.unit(context, options);
      open.set(request, { unit, scope: Object.freeze({ kind: 'firm', context, db: unit.tx, writeAudit: unit.audit }) });
    });

    app.addHook('onSend', async (request) => {
      const unit = open.get(request)?.unit;
      if (!unit) return;
      for (const check of preCommitChecks) {
        try {
          await check(request);
        } catch (error) {
          await request.rollbackUnit();
          throw error;
        }
      }
      // The unit ends here, committed or not: so does the request's scope.
      open.delete(request);
      try {
        await unit.commit();
        rollbackActions.delete(request);
      } catch (error) {
        await runRollbackActions(request);
        throw error;
      }
    });

    const abandon = async (request: FastifyRequest) => {
      if (open.has(request)) await request.rollbackUnit();
    };
    app.addHook('onResponse', abandon);
    app.addHook('onRequestAbort', abandon);
  },
  { name: 'unit-of-work' },
);

/** The transaction of a staff-only or public request. */
export function firmDb(request: FastifyRequest): TxClient {
  const scope = request.scope;
  if (scope.kind !== 'firm') throw new AppError('internal', 'no unit of work on this route');
  return scope.db;
}
