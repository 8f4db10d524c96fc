import type { Database } from '@breezycorp/db';
import cookie from '@fastify/cookie';
import multipart from '@fastify/multipart';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Config } from './config.ts';
import alertDelivery from './plugins/alert-delivery.ts';
import audit from './plugins/audit.ts';
import auditSeal from './plugins/audit-seal.ts';
import auth from './plugins/auth.ts';
import background from './plugins/background.ts';
import breadthAlerts from './plugins/breadth-alerts.ts';
import decoyTripwire from './plugins/decoy-tripwire.ts';
import delivery from './plugins/delivery.ts';
import errors, { clientErrorHandler, frameworkErrorHandler } from './plugins/errors.ts';
import inputBoundary from './plugins/input-boundary.ts';
import killSwitch from './plugins/kill-switch.ts';
import openapi from './plugins/openapi.ts';
import rateLimits from './plugins/rate-limits.ts';
import requestId, { requestIdGenerator } from './plugins/request-id.ts';
import requireClientScope from './plugins/require-client-scope.ts';
import responseGuard from './plugins/response-guard.ts';
import scopeEnforcer from './plugins/scope-enforcer.ts';
import securityHeaders from './plugins/security-headers.ts';
import tenantFreeze from './plugins/tenant-freeze.ts';
import unitOfWork from './plugins/unit-of-work.ts';
import uploads from './plugins/uploads.ts';
import webApp, { DEFAULT_WEB_DIR } from './plugins/web-app.ts';
import routes from './routes/index.ts';
import type { MailTransport } from './services/mail-transport.ts';
import { assertRuntimeRole } from './services/runtime-role.ts';
import { ALL_LAYERS_ON, type IsolationLayers } from './tenancy/layers.ts';

export interface AppDeps {
  db: Database;
  /** Admin firm-wide reads' own login (spade_admin_login); defaults to `db`, where admin contexts fail closed on PostgreSQL. */
  adminDb?: Database;
  /** Tests only: switch isolation layers off to prove each one alone (tenancy/layers.ts). */
  layers?: Partial<IsolationLayers>;
  /** Tests only: accept a runtime role that bypasses RLS (to prove the other layers without layer 4). */
  unsafeSkipRuntimeRoleCheck?: boolean;
  /** Where the delivery worker sends mail; default from config (SMTP_URL, else the outbox folder). */
  mailTransport?: MailTransport;
  /** Extra routes registered after the product's (tests use it for deliberately broken routes). */
  extraRoutes?: (app: FastifyInstance) => Promise<void>;
  logger?: boolean | object;
  /** The web app's build output (default apps/web/dist). */
  webDir?: string;
}

/**
 * Composes Spade's plugins and routes. It never listens (server.ts does), and it throws
 * while booting if any route lacks a valid route scope.
 */
export async function buildApp(config: Config, deps: AppDeps) {
  const adminDb = deps.adminDb ?? deps.db;
  if (!deps.unsafeSkipRuntimeRoleCheck) await assertRuntimeRole(deps.db, adminDb);
  const layers: IsolationLayers = { ...ALL_LAYERS_ON, ...deps.layers };
  if (!layers.rowLevelSecurity && !deps.unsafeSkipRuntimeRoleCheck) {
    throw new Error('rowLevelSecurity can only be switched off together with unsafeSkipRuntimeRoleCheck (tests)');
  }
  const app = Fastify({
    logger: deps.logger ?? {
      level: config.logLevel,
      redact: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-csrf-token"]'],
      // SPADE_LOG_FILE: JSON lines (with reqId) that `spade evidence request` collects.
      ...(config.logFile && { file: config.logFile }),
    },
    genReqId: requestIdGenerator(config.trustProxyRequestId),
    bodyLimit: 1024 * 1024,
    routerOptions: { maxParamLength: 200 },
    trustProxy: false,
    // Timeouts, set deliberately: a whole request (headers and body) must arrive within
    // requestTimeout; a socket silent for connectionTimeout is closed; idle keep-alive
    // sockets are closed after keepAliveTimeout. Uploads have their own idle timeout too.
    requestTimeout: config.http.requestTimeoutMs,
    connectionTimeout: config.http.connectionTimeoutMs,
    keepAliveTimeout: config.http.keepAliveTimeoutMs,
    // Our own 503 while draining (errors plugin), in the error shape with a request id.
    return503OnClosing: false,
    // A missing Host is refused by the input boundary in the error shape, not by Node's bare 400.
    http: { requireHostHeader: false },
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(requestId);
  await app.register(inputBoundary);
  await app.register(unitOfWork, {
    db: deps.db,
    adminDb,
    layers,
    ...(config.database.kind === 'postgres' && { acquireTimeoutMs: config.database.acquireTimeoutMs }),
  });
  await app.register(errors, { sentryDsn: config.sentryDsn });
  await app.register(cookie);
  await app.register(securityHeaders);
  await app.register(rateLimits, { config });
  await app.register(multipart, {
    // files: 2 so that a second file is seen and refused (400), not silently dropped.
    limits: { fileSize: config.upload.maxBytes, files: 2, fields: 10, parts: 12, fieldSize: 1024 },
  });
  await app.register(auth, { db: deps.db, contactIdleMs: config.contactIdleMs });
  await app.register(scopeEnforcer, { enforceAtRequest: layers.routeScope });
  await app.register(openapi);
  await app.register(killSwitch, { db: deps.db, pollMs: config.killSwitchPollMs });
  await app.register(audit, { db: deps.db });
  await app.register(requireClientScope, { layers });
  await app.register(uploads, { config });
  // Detection (docs/detection.md). Not isolation layers: they stay on when tests switch layers off.
  await app.register(tenantFreeze, { db: deps.db, pollMs: config.killSwitchPollMs });
  await app.register(alertDelivery, { db: deps.db, slackWebhookUrl: config.slackWebhookUrl, pollMs: config.killSwitchPollMs });
  await app.register(decoyTripwire, { db: deps.db, pollMs: config.killSwitchPollMs });
  await app.register(breadthAlerts, { limits: config.detection });
  await app.register(auditSeal, { db: deps.db, intervalMs: config.auditSealIntervalMs });
  if (layers.responseGuard) await app.register(responseGuard);
  await app.register(delivery, { db: deps.db, config, transport: deps.mailTransport });
  await app.register(background);
  await app.register(routes, { config, db: deps.db });
  await app.register(webApp, { root: deps.webDir ?? DEFAULT_WEB_DIR });
  if (deps.extraRoutes) await app.register(deps.extraRoutes);
  await app.ready();
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
