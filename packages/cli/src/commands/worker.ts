import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import type { Io } from '../io.ts';

/**
 * `spade worker`: the API's delivery worker as a separate process. The worker lives with
 * the API (apps/api/src/worker.ts, the way server.ts does); this command is its entry, so
 * the path is resolved at run time rather than making this package depend on the app.
 */
const WORKER_ENTRY = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../apps/api/src/worker.ts');

type RunWorker = (options: {
  env: Record<string, string | undefined>;
  once: boolean;
  out: (line: string) => void;
  until?: Promise<void>;
}) => Promise<unknown>;

export function registerWorkerCommands(program: Command, io: Io) {
  program
    .command('worker')
    .description('deliver the outbox (magic links, reminders, staff digests) as a separate process')
    .option('--once', 'deliver everything due now, print a summary and exit')
    .addHelpText(
      'after',
      '\nRuns until SIGINT/SIGTERM. Set SPADE_DELIVERY_WORKER=off on the API instances when you run it.\n' +
        'SMTP_URL chooses the relay (unset: the outbox folder under SPADE_DATA_DIR). See docs/delivery.md.\n\n' +
        'Example:\n  DATABASE_URL=postgres://postgres@127.0.0.1:5432/spade SMTP_URL=smtp://user:pass@relay:587 pnpm spade worker',
    )
    .action(async (options: { once?: boolean }) => {
      const { runWorker } = (await import(pathToFileURL(WORKER_ENTRY).href)) as { runWorker: RunWorker };
      const until = new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await runWorker({ env: io.env, once: options.once === true, out: io.out, until });
    });
}
