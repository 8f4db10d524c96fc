import {
  ADMIN_CONTEXT,
  clientContext,
  clientsContext,
  type Database,
  NO_TENANT,
  type ScopedTx,
  type TenantContext,
  type TxClient,
  type UnitOfWork,
} from '@breezycorp/db';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../errors.ts';
import { type Actor, ANONYMOUS } from '../tenancy/actor.ts';
import type { IsolationLayers } from '../tenancy/layers.ts';

export type PreCommitCheck = (request: FastifyRequest) => Promise<void>;

declare module 'fastify' {
  interface FastifyInstance {
    /** Checks that run before a request's unit of work commits; a throw rolls it back. */
    addPreCommitCheck(check: PreCommitCheck): void;
  }
  interface FastifyRequest {
    unit: UnitOfWork<unknown> | null;
    /** Client-scoped routes: the scoped transaction client (RLS + tenant-scope extension). */
    tenantDb: ScopedTx | null;
    /** Staff-only and public routes: the transaction client, RLS limited to the actor's clients. */
    firmDb: TxClient | null;
    /** Opens the client unit of work; only require-client-scope calls it, after assertClientTenant. */
    openClientUnit(clientId: string): Promise<void>;
    rollbackUnit(): Promise<void>;
    /** Undo work outside the database (a stored file) if the unit rolls back. */
    onRollback(undo: () => Promise<void>): void;
    rollbackActions: (() => Promise<void>)[] | null;
  }
}

/**
 * The clients a staff-only or public request may see: exactly the actor's, never more.
 * Admins read through the spade_firm_admin role (a role, never a flag) on its own login and
 * pool (`adminDb`), which spade_app cannot switch to; public routes see no tenant.
 */
export function firmContext(actor: Actor): TenantContext {
  if (actor.kind === 'staff') return actor.role === 'admin' ? ADMIN_CONTEXT : clientsContext(actor.clientIds);
  return NO_TENANT;
}

async function runRollbackActions(request: FastifyRequest) {
  const actions = request.rollbackActions ?? [];
  request.rollbackActions = null;
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
    app.decorateRequest('unit', null);
    app.decorateRequest('tenantDb', null);
    app.decorateRequest('firmDb', null);
    app.decorateRequest('rollbackActions', null);
    app.decorateRequest('openClientUnit', async function (this: FastifyRequest, clientId: string) {
      if (this.unit) throw new AppError('internal', 'unit of work already open');
      if (layers.tenantScope) {
        const unit = await db.clientUnit(clientId, options);
        this.unit = unit;
        this.tenantDb = unit.tx;
      } else {
        // Layer 3 switched off (tests only): the same transaction without the extension.
        const unit = await db.unit(clientContext(clientId), options);
        this.unit = unit;
        this.tenantDb = unit.tx as unknown as ScopedTx;
      }
    });
    app.decorateRequest('rollbackUnit', async function (this: FastifyRequest) {
      const unit = this.unit;
      if (!unit) return;
      this.unit = null;
      this.tenantDb = null;
      this.firmDb = null;
      await unit.rollback().catch((error) => this.log.error({ err: error }, 'rollback failed'));
      await runRollbackActions(this);
    });
    app.decorateRequest('onRollback', function (this: FastifyRequest, undo: () => Promise<void>) {
      this.rollbackActions ??= [];
      this.rollbackActions.push(undo);
    });

    app.addHook('preHandler', async (request) => {
      const config = request.routeOptions.config;
      if (config.noDatabase || config.ownTransactions || config.routeScope === 'client-scoped' || request.is404) return;
      const actor = config.routeScope === 'staff-only' ? request.actor : ANONYMOUS;
      const context = firmContext(actor);
      // The admin pool is opened only here: a staff-only route, the admin's session verified.
      const pool = context.role === 'spade_firm_admin' ? adminDb : db;
      const unit = await pool.unit(context, options);
      request.unit = unit;
      request.firmDb = unit.tx;
    });

    app.addHook('onSend', async (request) => {
      const unit = request.unit;
      if (!unit) return;
      for (const check of preCommitChecks) {
        try {
          await check(request);
        } catch (error) {
          await request.rollbackUnit();
          throw error;
        }
      }
      request.unit = null;
      try {
        await unit.commit();
        request.rollbackActions = null;
      } catch (error) {
        await runRollbackActions(request);
        throw error;
      }
    });

    const abandon = async (request: FastifyRequest) => {
      if (request.unit) await request.rollbackUnit();
    };
    app.addHook('onResponse', abandon);
    app.addHook('onRequestAbort', abandon);
  },
  { name: 'unit-of-work' },
);

/** The scoped transaction of a client-scoped request (opened by require-client-scope). */
export function tenantDb(request: FastifyRequest): ScopedTx {
  if (!request.tenantDb) throw new AppError('internal', 'no tenant unit of work on this route');
  return request.tenantDb;
}

/** The transaction of a staff-only or public request. */
export function firmDb(request: FastifyRequest): TxClient {
  if (!request.firmDb) throw new AppError('internal', 'no unit of work on this route');
  return request.firmDb;
}
