import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../app.ts';
import { parseConfig } from '../config.ts';
import { createTestApp, type TestApp } from './support/test-app.ts';

/*
 * More than one API instance (docs/scaling.md): with REDIS_URL set, the rate limits are
 * counted in Redis, so an attacker spreading guesses over the instances behind a load
 * balancer still meets one limit. Against the real redis-server (REDIS_URL, default
 * 127.0.0.1:6379), under a key prefix of this run's own, removed afterwards.
 */
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const PREFIX = `spade-test:${randomUUID()}:`;

let t: TestApp;
let redis: Redis;
const apps: App[] = [];

async function instance(env: Record<string, string>): Promise<App> {
  const config = parseConfig({
    SPADE_DATA_DIR: t.dataDir,
    LOG_LEVEL: 'silent',
    SPADE_LOGIN_PER_MINUTE: '3',
    SPADE_DELIVERY_WORKER: 'off',
    ...env,
  });
  const app = await buildApp(config, { db: t.db, adminDb: t.adminDb, logger: false });
  apps.push(app);
  return app;
}

const wrongLogin = (app: App) =>
  app.inject({ method: 'POST', url: '/api/auth/login', payload: { email: 'nobody@spade.test', password: 'not-the-password' } });

beforeAll(async () => {
  t = await createTestApp();
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
});

afterAll(async () => {
  for (const app of apps) await app.close();
  if (redis) {
    const keys = await redis.keys(`${PREFIX}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  }
  await t?.close();
});

describe('rate limits across instances', () => {
  it('counts sign-in attempts against both instances together when they share Redis', async () => {
    const env = { REDIS_URL, SPADE_RATE_LIMIT_PREFIX: `${PREFIX}shared:` };
    const [a, b] = [await instance(env), await instance(env)];
    const statuses = [];
    for (const app of [a, b, a, b, a]) statuses.push((await wrongLogin(app)).statusCode);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    const refused = await wrongLogin(b);
    expect(refused.json()).toMatchObject({ error: { code: 'rate_limited' } });
    expect(await redis.keys(`${PREFIX}shared:*`)).not.toEqual([]);
  });

  it('keeps separate deployments on one Redis apart by key prefix', async () => {
    const other = await instance({ REDIS_URL, SPADE_RATE_LIMIT_PREFIX: `${PREFIX}other:` });
    expect((await wrongLogin(other)).statusCode).toBe(401);
  });

  it('counts per process without REDIS_URL (the embedded, one-instance default)', async () => {
    const [a, b] = [await instance({}), await instance({})];
    const statuses = [];
    for (const app of [a, a, a, b, b, b]) statuses.push((await wrongLogin(app)).statusCode);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 401]);
    expect((await wrongLogin(a)).statusCode).toBe(429);
  });
});
