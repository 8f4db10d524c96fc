import type { Database } from '@breezycorp/db';
import type { FastifyPluginAsync } from 'fastify';
import type { Config } from '../config.ts';
import { requireOperationNames } from '../plugins/openapi.ts';
import audit from './audit/index.ts';
import auth from './auth/index.ts';
import bulkRequests from './bulk-requests/index.ts';
import clients from './clients/index.ts';
import contacts from './contacts/index.ts';
import cycles from './cycles/index.ts';
import files from './files/index.ts';
import health from './health.ts';
import incidents from './incidents/index.ts';
import portal from './portal/index.ts';
import recurringSchedules from './recurring-schedules/index.ts';
import requests from './requests/index.ts';
import staff from './staff/index.ts';
import templates from './templates/index.ts';

export interface RouteDeps {
  config: Config;
  db: Database;
}

/** Every resource, one folder each. Each route declares its routeScope in its own file. */
const routes: FastifyPluginAsync<RouteDeps> = async (app, deps) => {
  // Every product route names itself for the OpenAPI document (operationId, summary).
  app.addHook('onRoute', requireOperationNames);
  await app.register(health, { db: deps.db });
  await app.register(auth, { config: deps.config, db: deps.db });
  await app.register(clients);
  await app.register(cycles);
  await app.register(contacts);
  await app.register(staff);
  await app.register(audit);
  await app.register(incidents);
  await app.register(requests, { config: deps.config });
  await app.register(templates);
  await app.register(recurringSchedules);
  await app.register(bulkRequests, { config: deps.config, db: deps.db });
  await app.register(files, { config: deps.config });
  await app.register(portal, { config: deps.config, db: deps.db });
};

export default routes;
