import { openDatabase } from '@breezycorp/db/unsafe';
import pino from 'pino';
import { parseConfig } from './config.ts';
import { transportFromConfig } from './plugins/delivery.ts';
import { createDeliveryWorker, type RunReport } from './services/delivery/worker.ts';
import { assertRuntimeRole } from './services/runtime-role.ts';

/**
 * The delivery worker as its own process (`pnpm spade worker`): the same worker the API
 * runs in-process, for deployments that set SPADE_DELIVERY_WORKER=off on the API instances.
 * It logs in as spade_app like the API and refuses to start on a role that bypasses RLS.
 */
export async function runWorker(options: {
  env: Record<string, string | undefined>;
  once: boolean;
  out: (line: string) => void;
  /** Resolves when the process should stop (SIGINT/SIGTERM); ignored with `once`. */
  until?: Promise<void>;
}): Promise<RunReport | null> {
  const config = parseConfig(options.env);
  if (config.database.kind === 'pglite') {
    throw new Error(
      'The embedded database belongs to the API process, whose own worker delivers its mail; set DATABASE_URL to run a separate worker',
    );
  }
  const db = await openDatabase(config.database);
  const transport = transportFromConfig(config);
  try {
    // The worker serves no admin route: it has no admin pool to check.
    await assertRuntimeRole(db, null);
    const log = pino({ level: config.logLevel });
    const worker = createDeliveryWorker({ db, config, transport, log });
    options.out(`delivery worker ${worker.id}: ${config.mail.smtpUrl ? 'SMTP' : `outbox folder ${config.outboxDir}`}`);
    if (options.once) {
      const report = await worker.drain();
      options.out(
        `sent ${report.sent}, retried ${report.retried}, failed ${report.failed}, cancelled ${report.cancelled}, reminders ${report.reminders}`,
      );
      return report;
    }
    worker.start();
    await options.until;
    await worker.stop();
    return null;
  } finally {
    await transport.close();
    await db.close();
  }
}
