import type { Database } from '@breezycorp/db';
import fp from 'fastify-plugin';
import { watchTable } from '../services/db-watch.ts';
import {
  type AlertInput,
  type ClaimedAlert,
  claimAlertDelivery,
  finishAlertDelivery,
  type RaisedAlert,
  raiseAlert,
  undeliveredAlerts,
} from '../services/detection-store.ts';

export const DETECTION_ALERT_CHANNEL = 'spade_detection_alert';
const SLACK_TIMEOUT_MS = 5_000;

declare module 'fastify' {
  interface FastifyInstance {
    /** Raises a detection alert (decoy touches open an incident) and delivers it to Slack. */
    raiseAlert(alert: AlertInput): Promise<RaisedAlert>;
    /** Raises without waiting (breadth alerts: off the request path); errors are logged. */
    raiseAlertLater(alert: AlertInput): void;
  }
}

function slackText(alert: ClaimedAlert): string {
  const who = `${alert.actorType}${alert.actorId ? ` ${alert.actorId}` : ''}${alert.address ? ` from ${alert.address}` : ''}`;
  const where = `${alert.route ? ` on ${alert.route}` : ''}${alert.requestId ? ` (x-request-id ${alert.requestId})` : ''}`;
  if (alert.kind === 'decoy.touched') {
    return `:rotating_light: CRITICAL — a decoy tenant was touched by ${who}${where}, seen by ${alert.detectedBy}. Incident ${alert.incidentId} opened automatically: \`pnpm spade incident timeline ${alert.incidentId}\`.`;
  }
  return `:warning: Detection alert ${alert.kind} for ${who}${where}. Suggested incident: \`pnpm spade incident list\`.`;
}

/**
 * Every alert, from any instance or from the database-side tripwire, is announced on the
 * channel spade_detection_alert; one instance claims it (a row update), posts it to Slack and
 * records the outcome — on the incident's timeline too (slack_posted / slack_failed /
 * slack_skipped when SLACK_WEBHOOK_URL is unset). A poll picks up any missed notification.
 */
export default fp<{ db: Database; slackWebhookUrl: string | null; pollMs: number }>(
  async (app, { db, slackWebhookUrl, pollMs }) => {
    const pending = new Set<Promise<unknown>>();
    const track = <T>(promise: Promise<T>): Promise<T> => {
      pending.add(promise);
      void promise.finally(() => pending.delete(promise)).catch(() => undefined);
      return promise;
    };

    const deliver = async (alertId: string) => {
      const claimed = await claimAlertDelivery(db, alertId);
      if (!claimed) return;
      const text = slackText(claimed);
      if (!slackWebhookUrl) {
        await finishAlertDelivery(db, alertId, { status: 'skipped', error: null, text });
        return;
      }
      try {
        const response = await fetch(slackWebhookUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ text, link_names: true }),
          signal: AbortSignal.timeout(SLACK_TIMEOUT_MS),
        });
        if (!response.ok) throw new Error(`Slack answered ${response.status}`);
        await finishAlertDelivery(db, alertId, { status: 'posted', error: null, text });
      } catch (error) {
        await finishAlertDelivery(db, alertId, { status: 'failed', error: (error as Error).message, text });
      }
    };
    const deliverLater = (alertId: string) => {
      void track(deliver(alertId).catch((error) => app.log.error({ err: error, alertId }, 'alert delivery failed')));
    };

    await watchTable(app, db, {
      channel: DETECTION_ALERT_CHANNEL,
      pollMs,
      name: 'alert-delivery',
      refresh: async () => {
        for (const id of await undeliveredAlerts(db)) deliverLater(id);
      },
      onNotify: deliverLater,
    });

    app.decorate('raiseAlert', async (alert: AlertInput) => {
      const raised = await track(raiseAlert(db, alert));
      if (raised.isNew) deliverLater(raised.alertId);
      return raised;
    });
    app.decorate('raiseAlertLater', (alert: AlertInput) => {
      void app.raiseAlert(alert).catch((error) => app.log.error({ err: error, kind: alert.kind }, 'raising a detection alert failed'));
    });
    app.addHook('onClose', async () => {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    });
  },
  { name: 'alert-delivery' },
);
