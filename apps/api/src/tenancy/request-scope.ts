import type { AuditRowValues, ScopedTx, TenantContext, TxClient } from '@breezycorp/db';

/**
 * What one request may touch — set once, when its unit of work opens (plugins/unit-of-work.ts),
 * and read by every layer that needs it: handlers (`clientScope`, `firmDb`), the audit writer
 * (which client an event belongs to), the response guard (which client a body may name),
 * the authorization proof (which client the assertion must have covered), detection.
 * - `client`: a client-scoped route; `db` is confined to `clientId` by RLS and the
 *   tenant-scope extension.
 * - `firm`: a staff-only or public route; `db`'s RLS admits exactly `context`'s clients.
 * - both: `writeAudit` records rows in the same unit (they commit with its work or not at
 *   all); handlers record through `request.audit` (plugins/audit.ts), which calls it.
 * - `none`: no unit of work (yet, or ever: health, the OpenAPI document, routes that run
 *   their own transactions, a request refused before its unit opened).
 */
export type RequestScope =
  | { readonly kind: 'client'; readonly clientId: string; readonly db: ScopedTx; readonly writeAudit: AuditWriter }
  | { readonly kind: 'firm'; readonly context: TenantContext; readonly db: TxClient; readonly writeAudit: AuditWriter }
  | { readonly kind: 'none' };

export type AuditWriter = (rows: readonly AuditRowValues[]) => Promise<void>;
