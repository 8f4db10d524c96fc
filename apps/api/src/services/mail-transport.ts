import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';

/** A message as the delivery worker hands it to a transport: rendered, addressed, with its stable Message-ID. */
export interface OutgoingMail {
  /** `<outbox-row-id@domain>`: the same on every attempt, so a resend after a crash is recognisable. */
  messageId: string;
  from: { name: string; address: string };
  to: string;
  subject: string;
  text: string;
  html: string;
  headers: Record<string, string>;
}

export interface MailTransport {
  readonly kind: 'smtp' | 'folder' | 'memory';
  /** Resolves with the provider's message id (or null); throws a DeliveryError when the message was not accepted. */
  send(mail: OutgoingMail): Promise<{ providerMessageId: string | null }>;
  close(): Promise<void>;
}

/**
 * Why a send failed, and whether retrying can help. A permanent failure (an SMTP 5xx: the
 * relay refused the recipient or the message) is not retried; anything else is.
 */
export class DeliveryError extends Error {
  override name = 'DeliveryError';
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
  }
}

/** Nodemailer's error → a DeliveryError; never carries the message body (it holds a link). */
export function classifySendError(error: unknown): DeliveryError {
  const e = error as { responseCode?: number; code?: string; message?: string };
  const code = typeof e.responseCode === 'number' ? e.responseCode : null;
  if (code !== null && code >= 500 && code < 600) {
    return new DeliveryError(`SMTP ${code}: ${oneLine(e.message)}`, true);
  }
  const label = code !== null ? `SMTP ${code}` : (e.code ?? 'error');
  return new DeliveryError(`${label}: ${oneLine(e.message)}`, false);
}

function oneLine(text: string | undefined): string {
  return (text ?? 'unknown error').replace(/\s+/g, ' ').slice(0, 300);
}

export interface SmtpOptions {
  url: string;
  /** false only for a relay with a private certificate you cannot install (SMTP_TLS_REJECT_UNAUTHORIZED=false). */
  tlsRejectUnauthorized: boolean;
  /** Seconds to wait for the connection and for each command. */
  timeoutMs: number;
}

/**
 * SMTP through nodemailer: `smtp://user:pass@host:587` (STARTTLS when offered) or
 * `smtps://…:465` (TLS from the first byte). Auth comes from the URL's user and password.
 */
export function smtpTransport(options: SmtpOptions): MailTransport {
  const url = new URL(options.url);
  const transporter = nodemailer.createTransport({
    host: url.hostname,
    port: Number(url.port) || (url.protocol === 'smtps:' ? 465 : 587),
    secure: url.protocol === 'smtps:',
    ...(url.username && { auth: { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } }),
    tls: { rejectUnauthorized: options.tlsRejectUnauthorized },
    connectionTimeout: options.timeoutMs,
    greetingTimeout: options.timeoutMs,
    socketTimeout: options.timeoutMs,
    // A few reused connections; one the relay closed is replaced on the next send (a failed
    // send is retried by the worker anyway).
    pool: true,
    maxConnections: 4,
  });
  return {
    kind: 'smtp',
    async send(mail) {
      try {
        const info = await transporter.sendMail({
          messageId: mail.messageId,
          from: mail.from,
          to: mail.to,
          subject: mail.subject,
          text: mail.text,
          html: mail.html,
          headers: mail.headers,
        });
        return { providerMessageId: typeof info.response === 'string' ? providerIdFrom(info.response) : null };
      } catch (error) {
        throw classifySendError(error);
      }
    },
    async close() {
      transporter.close();
    },
  };
}

/** `250 2.0.0 Ok: queued as 4F1C2` → `4F1C2`; otherwise the whole reply line. */
function providerIdFrom(response: string): string {
  const queued = /queued as\s+(\S+)/i.exec(response);
  return (queued?.[1] ?? response).slice(0, 200);
}

/**
 * With no SMTP_URL, messages land as JSON files in the outbox folder (under the data dir),
 * where a developer and the CLI can read them. Never logged: a magic-link mail is a key.
 */
export function folderTransport(dir: string): MailTransport {
  return {
    kind: 'folder',
    async send(mail) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const id = mail.messageId.replace(/[<>]/g, '').split('@')[0] ?? 'message';
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${id}.json`;
      await writeFile(path.join(dir, name), JSON.stringify({ ...mail, writtenAt: new Date().toISOString() }, null, 2), {
        mode: 0o600,
      });
      return { providerMessageId: `file:${name}` };
    },
    async close() {},
  };
}

/** Keeps messages in memory (tests and the embedded demo's own checks). */
export function memoryTransport(): MailTransport & { readonly sent: OutgoingMail[] } {
  const sent: OutgoingMail[] = [];
  return {
    kind: 'memory',
    sent,
    async send(mail) {
      sent.push(mail);
      return { providerMessageId: `memory:${sent.length}` };
    },
    async close() {},
  };
}
