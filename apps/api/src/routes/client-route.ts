import type { ScopedTx } from '@breezycorp/db';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';

/** What a client-scoped handler works with: its client's scoped transaction, and which client that is. */
export interface ClientScope {
  /** Confined to `clientId` by RLS and the tenant-scope extension (plugins/unit-of-work.ts). */
  readonly db: ScopedTx;
  /** The client require-client-scope asserted and the unit of work was opened for. */
  readonly clientId: string;
}

/**
 * The first line of every client-scoped handler: `const { db, clientId } = clientScope(request)`.
 * The one accessor of a client unit's transaction (with `firmDb` for the others), and hides no
 * policy: the route still declares `config: { routeScope: 'client-scoped', actors?, adminOnly? }`
 * literally in its own options, where the boot check, the route-coverage test, the runbook's
 * grep and the tenant-bypass scanner (scripts/tenant-bypass-scan.ts, which treats this call
 * as the tenant accessor) read it. On any route whose unit of work is not a client unit it throws.
 */
export function clientScope(request: FastifyRequest): ClientScope {
  const scope = request.scope;
  if (scope.kind !== 'client') throw new AppError('internal', 'no tenant unit of work on this route');
  return { db: scope.db, clientId: scope.clientId };
}
