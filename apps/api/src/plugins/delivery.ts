import type { Database } from '@breezycorp/db';
import fp from 'fastify-plugin';
import type { Config } from '../config.ts';
import { createDeliveryWorker, type DeliveryWorker } from '../services/delivery/worker.ts';
import { folderTransport, type MailTransport, smtpTransport } from '../services/mail-transport.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The outbox's delivery worker (docs/delivery.md). Polls in this process unless SPADE_DELIVERY_WORKER=off. */
    delivery: DeliveryWorker;
  }
}

/** SMTP when SMTP_URL is set; otherwise the outbox folder under the data dir (the embedded default). */
export function transportFromConfig(config: Config): MailTransport {
  const mail = config.mail;
  return mail.smtpUrl
    ? smtpTransport({ url: mail.smtpUrl, tlsRejectUnauthorized: mail.smtpTlsRejectUnauthorized, timeoutMs: mail.smtpTimeoutMs })
    : folderTransport(config.outboxDir);
}

export default fp<{ db: Database; config: Config; transport?: MailTransport | undefined }>(
  async (app, { db, config, transport }) => {
    const chosen = transport ?? transportFromConfig(config);
    const worker = createDeliveryWorker({ db, config, transport: chosen, log: app.log.child({ component: 'delivery' }) });
    app.decorate('delivery', worker);
    if (config.mail.worker === 'in-process') app.addHook('onReady', async () => worker.start());
    app.addHook('onClose', async () => {
      await worker.stop();
      // A transport handed in by the caller is the caller's to close.
      if (!transport) await chosen.close();
    });
  },
  { name: 'delivery' },
);
