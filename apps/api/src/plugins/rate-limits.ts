import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Redis } from 'ioredis';
import type { Config } from '../config.ts';

/**
 * Where rate-limit counters live: with REDIS_URL, in Redis, so N instances enforce one limit
 * together; without it, in this process's memory (the embedded, one-instance default).
 * A Redis outage lets requests through rather than failing them (skipOnError): sign-in has
 * its own per-account lockout in the database, and tokens are 256-bit random.
 */
function rateLimitStore(app: FastifyInstance, config: Config) {
  const { redisUrl, keyPrefix } = config.rateLimit;
  if (!redisUrl) return {};
  const redis = new Redis(redisUrl, { connectTimeout: 2_000, maxRetriesPerRequest: 1, enableAutoPipelining: true });
  redis.on('error', (error: Error) => app.log.warn({ err: error }, 'rate-limit store (redis) unavailable'));
  app.addHook('onClose', async () => {
    await redis.quit().catch(() => redis.disconnect());
  });
  return { redis, nameSpace: keyPrefix, skipOnError: true };
}

/** Per-route rate limits (`config.rateLimit` on a route; none globally), counted where rateLimitStore says. */
export default fp<{ config: Config }>(
  async (app, { config }) => {
    await app.register(rateLimit, { global: false, ...rateLimitStore(app, config) });
  },
  { name: 'rate-limits' },
);
