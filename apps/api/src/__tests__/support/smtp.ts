import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export const SMTP_USER = 'spade-relay';
export const SMTP_PASSWORD = 'relay-secret';

export interface TestSmtpServer {
  port: number;
  /** Every message the server accepted, parsed. */
  received: ParsedMail[];
  /** The SMTP_URL that reaches this server with its credentials. */
  url: string;
  /** Refuse every recipient with this permanent reply (or accept again with null). */
  rejectRecipients(reply: { code: number; message: string } | null): void;
  /** Stop listening (the relay is down); `start` listens again on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Resolves once `count` messages have arrived in total. */
  waitFor(count: number, timeoutMs?: number): Promise<void>;
}

/** A real SMTP server in this process (smtp-server), with AUTH required, parsing what arrives (mailparser). */
export async function startSmtpServer(): Promise<TestSmtpServer> {
  const received: ParsedMail[] = [];
  let rejection: { code: number; message: string } | null = null;
  let server: SMTPServer | null = null;
  let port = 0;

  const create = () =>
    new SMTPServer({
      // Plain SMTP on loopback: no certificate to trust in a test; auth still required.
      disabledCommands: ['STARTTLS'],
      disableReverseLookup: true,
      allowInsecureAuth: true,
      logger: false,
      onAuth(auth, _session, callback) {
        if (auth.username === SMTP_USER && auth.password === SMTP_PASSWORD) callback(null, { user: auth.username });
        else callback(new Error('Invalid username or password'));
      },
      onRcptTo(_address, _session, callback) {
        if (!rejection) return callback();
        const error = new Error(rejection.message) as Error & { responseCode: number };
        error.responseCode = rejection.code;
        callback(error);
      },
      onData(stream, _session, callback) {
        simpleParser(stream)
          .then((mail) => {
            received.push(mail);
            callback();
          })
          .catch(callback);
      },
    });

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const listening = create();
      server = listening;
      listening.on('error', () => undefined);
      const onError = (error: Error) => reject(error);
      listening.server.once('error', onError);
      listening.listen(port, '127.0.0.1', () => {
        listening.server.off('error', onError);
        port = (listening.server.address() as AddressInfo).port;
        resolve();
      });
    });

  await listen();
  return {
    get port() {
      return port;
    },
    received,
    get url() {
      return `smtp://${SMTP_USER}:${SMTP_PASSWORD}@127.0.0.1:${port}`;
    },
    rejectRecipients(reply) {
      rejection = reply;
    },
    async stop() {
      const s = server;
      server = null;
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    start: listen,
    async waitFor(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} messages, got ${received.length}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}
