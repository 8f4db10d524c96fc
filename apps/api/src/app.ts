import type { Database } from '@breezycorp/db';
import cookie from '@fastify/cookie';
import helmet from '@fastify/helmet';
import multipart from '@fastify/multipart';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Config } from './config.ts';
import { AppError } from './errors.ts';
import audit from './plugins/audit.ts';
import auth from './plugins/auth.ts';
import errors from './plugins/errors.ts';
import killSwitch from './plugins/kill-switch.ts';
import requestId, { requestIdFrom } from './plugins/request-id.ts';
import requireClientScope from './plugins/require-client-scope.ts';
import responseGuard from './plugins/response-guard.ts';
import scopeEnforcer from './plugins/scope-enforcer.ts';
import unitOfWork from './plugins/unit-of-work.ts';
import webApp, { DEFAULT_WEB_DIR } from './plugins/web-app.ts';
import routes from './routes/index.ts';
import type { Mailer } from './services/mailer.ts';
import { outboxMailer } from './services/mailer.ts';
import { assertRuntimeRole } from './services/runtime-role.ts';
import { ALL_LAYERS_ON, type IsolationLayers } from './tenancy/layers.ts';

export interface AppDeps {
  db: Database;
  /** Tests only: switch isolation layers off to prove each one alone (tenancy/layers.ts). */
  layers?: Partial<IsolationLayers>;
  /** Tests only: accept a runtime role that bypasses RLS (to prove the other layers without layer 4). */
  unsafeSkipRuntimeRoleCheck?: boolean;
  mailer?: Mailer;
  /** Extra routes registered after the product's (tests use it for deliberately broken routes). */
  extraRoutes?: (app: FastifyInstance) => Promise<void>;
  logger?: boolean | object;
  /** The web app's build output (default apps/web/dist). */
  webDir?: string;
}

/** A URL longer than this is refused with 400 before routing. */
const MAX_URL_LENGTH = 4_096;

/**
 * Composes Spade's plugins and routes. It never listens (server.ts does), and it throws
 * while booting if any route lacks a valid route scope.
 */
export async function buildApp(config: Config, deps: AppDeps) {
  if (!deps.unsafeSkipRuntimeRoleCheck) await assertRuntimeRole(deps.db);
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
    genReqId: requestIdFrom,
    bodyLimit: 1024 * 1024,
    routerOptions: { maxParamLength: 200 },
    trustProxy: false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(requestId);
  app.addHook('onRequest', async (request) => {
    if (request.url.length > MAX_URL_LENGTH) throw new AppError('bad_request', 'URL too long');
  });
  await app.register(unitOfWork, { db: deps.db, layers });
  await app.register(errors, { sentryDsn: config.sentryDsn });
  await app.register(cookie);
  await app.register(helmet, { contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } } });
  await app.register(rateLimit, { global: false });
  await app.register(multipart, {
    limits: { fileSize: config.upload.maxBytes, files: 1, fields: 10, parts: 12, fieldSize: 1024 },
  });
  await app.register(swagger, {
    openapi: { info: { title: 'Spade API', version: '0.1.0' } },
    transformObject: (documentObject) => {
      const spec = (documentObject as { openapiObject: Record<string, unknown> }).openapiObject as {
        paths?: Record<string, Record<string, Record<string, unknown>>>;
      };
      for (const entry of app.routeTable) {
        const path = entry.url.replace(/:(\w+)/g, '{$1}');
        const operation = spec.paths?.[path]?.[entry.method.toLowerCase()];
        if (operation) operation['x-route-scope'] = entry.scope;
      }
      return spec;
    },
  });
  await app.register(auth, { db: deps.db });
  await app.register(scopeEnforcer, { enforceAtRequest: layers.routeScope });
  await app.register(killSwitch, { db: deps.db, pollMs: config.killSwitchPollMs });
  await app.register(audit, { db: deps.db });
  await app.register(requireClientScope, { layers });
  if (layers.responseGuard) await app.register(responseGuard);
  await app.register(routes, { config, db: deps.db, mailer: deps.mailer ?? outboxMailer(config.outboxDir) });
  await app.register(webApp, { root: deps.webDir ?? DEFAULT_WEB_DIR });
  if (deps.extraRoutes) await app.register(deps.extraRoutes);
  await app.ready();
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
