import type { Database } from '@breezycorp/db';
import type { FastifyPluginAsync } from 'fastify';
import type { Config } from '../config.ts';
import type { Mailer } from '../services/mailer.ts';
import auth from './auth/index.ts';
import clients from './clients/index.ts';
import cycles from './cycles/index.ts';
import health from './health.ts';

export interface RouteDeps {
  config: Config;
  db: Database;
  mailer: Mailer;
}

/** Every resource, one folder each. Each route declares its routeScope in its own file. */
const routes: FastifyPluginAsync<RouteDeps> = async (app, deps) => {
  await app.register(health, { db: deps.db });
  await app.register(auth, { config: deps.config });
  await app.register(clients);
  await app.register(cycles);
};

export default routes;
