import { IncomingWebhook } from '@slack/webhook';

export type SlackOutcome =
  | { status: 'posted'; text: string }
  | { status: 'failed'; text: string; error: string }
  | { status: 'skipped'; text: string };

/** A hung webhook must not hold up containment: give up after this long. */
const SLACK_TIMEOUT_MS = 5_000;

/**
 * Posts to Slack's incoming webhook (SLACK_WEBHOOK_URL — configure it for #spade-ops).
 * Never throws: Slack being down must not stop an incident being handled. The caller
 * records the outcome (on the incident's timeline: slack_posted / slack_failed / slack_skipped).
 */
export async function postToSlack(env: Record<string, string | undefined>, text: string): Promise<SlackOutcome> {
  const url = env.SLACK_WEBHOOK_URL;
  if (!url) return { status: 'skipped', text };
  try {
    const webhook = new IncomingWebhook(url, { timeout: SLACK_TIMEOUT_MS });
    await webhook.send({ text, link_names: true });
    return { status: 'posted', text };
  } catch (error) {
    return { status: 'failed', text, error: describe(error) };
  }
}

function describe(error: unknown): string {
  const err = error as Error & { original?: Error & { cause?: Error } };
  const cause = err.original?.cause?.message ?? err.original?.message;
  return cause ? `${err.message} (${cause})` : (err.message ?? String(error));
}
