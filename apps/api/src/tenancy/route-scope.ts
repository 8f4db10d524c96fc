/**
 * The runbook's route scopes. Every route declares one in `config.routeScope`; a route
 * without one, or with any other value, makes buildApp throw.
 */
export const ROUTE_SCOPES = ['public', 'staff-only', 'client-scoped'] as const;
export type RouteScope = (typeof ROUTE_SCOPES)[number];

export function isRouteScope(value: unknown): value is RouteScope {
  return typeof value === 'string' && (ROUTE_SCOPES as readonly string[]).includes(value);
}

/** Which actors a client-scoped route admits. Contacts only ever reach their own request. */
export type ClientRouteActor = 'staff' | 'contact';

declare module 'fastify' {
  interface FastifyContextConfig {
    routeScope?: RouteScope;
    /** client-scoped routes: which actor kinds may call it (default: staff only). */
    actors?: readonly ClientRouteActor[];
    /** admin staff only (on staff-only or client-scoped routes). */
    adminOnly?: boolean;
    /** Routes that need no database at all (health, OpenAPI): no actor lookup, no unit of work. */
    noDatabase?: boolean;
    /**
     * Public routes whose service runs its own transactions (the magic-link exchange, whose
     * client is known only after the token resolves): no request unit of work is opened,
     * which also keeps the embedded database's single connection free for them.
     */
    ownTransactions?: boolean;
    /**
     * Upload routes: the multipart body is received (streamed to a temporary file, type,
     * size and sha256 checked) after the tenant assertion and *before* the unit of work
     * opens, so a slow or stalled upload holds no database connection (plugins/uploads.ts).
     */
    upload?: boolean;
    /**
     * The second-factor routes: the only ones a session still owing its second factor
     * (password right, code not yet given) is resolved on; everywhere else it is anonymous.
     */
    secondFactorStep?: boolean;
  }
}
