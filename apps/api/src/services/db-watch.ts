import type { Database } from '@breezycorp/db';
import type { FastifyInstance } from 'fastify';

/**
 * The kill switch's pattern for state every instance must learn within a second: LISTEN on a
 * channel whose trigger notifies on change, re-read on each notification (a hint, not the
 * data), and poll as the fallback for a missed notification or a dropped connection.
 */
export async function watchTable(
  app: FastifyInstance,
  db: Database,
  options: { channel: string; pollMs: number; name: string; refresh: () => Promise<void>; onNotify?: (payload: string) => void },
): Promise<void> {
  const { channel, pollMs, name, refresh } = options;
  const run = () => refresh().catch((error) => app.log.error({ err: error }, `${name} refresh failed`));
  await refresh();
  let unlisten: (() => Promise<void>) | null = null;
  try {
    unlisten = await db.listen(channel, (payload) => {
      if (options.onNotify) options.onNotify(payload);
      else void run();
    });
  } catch (error) {
    app.log.warn({ err: error }, `${name} LISTEN unavailable; relying on the poll`);
  }
  const timer = setInterval(run, pollMs);
  timer.unref();
  app.addHook('onClose', async () => {
    clearInterval(timer);
    await unlisten?.();
  });
}
