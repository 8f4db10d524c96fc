import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface OutgoingMessage {
  to: string;
  subject: string;
  text: string;
}

export interface Mailer {
  send(message: OutgoingMessage): Promise<void>;
}

/**
 * With no SMTP_URL, messages land as JSON files in the outbox (under the data dir), where
 * a developer, the CLI and tests can read them. Magic links are never written to logs.
 */
export function outboxMailer(outboxDir: string): Mailer {
  return {
    async send(message) {
      await mkdir(outboxDir, { recursive: true, mode: 0o700 });
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID()}.json`;
      await writeFile(path.join(outboxDir, name), JSON.stringify({ ...message, queuedAt: new Date().toISOString() }, null, 2), {
        mode: 0o600,
      });
    },
  };
}
