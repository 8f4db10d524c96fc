import type { FastifyContextConfig } from 'fastify';
import type { ClientRouteActor, RouteScope } from './route-scope.ts';

/** A route's declared config; importing this type brings the declarations below into any program that uses the plugins. */
export type RouteConfig = FastifyContextConfig;

/** What a route declares in its `config` (Fastify's FastifyContextConfig), read by the plugins. */
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
