import { createInterface } from 'node:readline/promises';

/** Where a command writes; tests pass their own to read what it printed. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  env: Record<string, string | undefined>;
  /**
   * Asks the operator a question and returns the answer. Present only when a person can
   * answer (a TTY on stdin); without it, containment commands need --yes.
   */
  prompt?(question: string): Promise<string>;
  /** All of stdin, when it is not a terminal (a piped secret, e.g. `--password-stdin`). */
  readStdin?(): Promise<string>;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  env: process.env,
  ...(process.stdin.isTTY
    ? {
        async prompt(question: string) {
          const rl = createInterface({ input: process.stdin, output: process.stderr });
          try {
            return await rl.question(question);
          } finally {
            rl.close();
          }
        },
      }
    : {
        async readStdin() {
          const chunks: Buffer[] = [];
          for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
          return Buffer.concat(chunks).toString('utf8');
        },
      }),
};

/** Documented exit codes (README, `spade --help`). */
export const EXIT = {
  ok: 0,
  /** Something failed, or a check found problems (`routes check`). */
  failure: 1,
  /** Bad usage: unknown option, malformed duration/date/id, or a confirmation refused for lack of --yes. */
  usage: 2,
  /** An id that names nothing: incident, staff user, request, actor, route. */
  notFound: 3,
  databaseDown: 4,
  /** The running API (SPADE_API_URL) could not be reached. */
  apiDown: 5,
} as const;

export const EXIT_CODES_HELP = `Exit codes: ${EXIT.ok} ok, ${EXIT.failure} failure (or problems found), ${EXIT.usage} usage error (bad option, duration, date or id; confirmation needed: pass --yes), ${EXIT.notFound} unknown id, ${EXIT.databaseDown} database unreachable, ${EXIT.apiDown} API unreachable`;

export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
  ) {
    super(message);
  }
}
