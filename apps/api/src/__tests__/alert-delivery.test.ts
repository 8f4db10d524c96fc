import { runCli } from '@breezycorp/cli/program';
import { DEMO } from '@breezycorp/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, login, type TestApp } from './support/test-app.ts';

/*
 * Slack being down must not lose an alert: the incident still opens, and the failed post is
 * on its timeline (slack_failed, with the error).
 */
let down: TestApp;

beforeAll(async () => {
  // Nothing listens on port 1.
  down = await createTestApp({ env: { SLACK_WEBHOOK_URL: 'http://127.0.0.1:1/hook', SPADE_KILL_SWITCH_POLL_MS: '60000' } });
  const io = {
    env: { DATABASE_URL: down.testDb.ownerUrl, SPADE_DATA_DIR: down.dataDir, USER: 'test' },
    out: () => undefined,
    err: () => undefined,
  };
  expect(await runCli(['decoys', 'plant'], io)).toBe(0);
  await down.app.refreshDecoys();
});
afterAll(async () => {
  await down?.close();
});

async function touchDecoy(t: TestApp): Promise<string> {
  const decoy = await t.owner.prisma.decoyEntity.findFirstOrThrow({ where: { entityType: 'cycle' } });
  const admin = await login(t.app, DEMO.staff.admin);
  const r = await t.app.inject({ method: 'GET', url: `/api/clients/${decoy.clientId}/cycles/${decoy.entityId}`, headers: admin.headers });
  expect(r.statusCode).toBe(200);
  const alert = await t.owner.prisma.detectionAlert.findFirstOrThrow({ where: { requestId: String(r.headers['x-request-id']) } });
  return alert.incidentId as string;
}

async function timelineEntry(t: TestApp, incidentId: string, kind: string) {
  const until = Date.now() + 8_000;
  for (;;) {
    const entry = await t.owner.prisma.incidentTimelineEntry.findFirst({ where: { incidentId, kind } });
    if (entry || Date.now() > until) return entry;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('alert delivery', () => {
  it('an unreachable Slack is recorded as slack_failed on the incident, which stays open', async () => {
    const incidentId = await touchDecoy(down);
    const failed = await timelineEntry(down, incidentId, 'slack_failed');
    expect(failed?.message).toMatch(/^Slack post failed: /);
    expect(await down.owner.prisma.incident.findUniqueOrThrow({ where: { id: incidentId } })).toMatchObject({ status: 'open' });
    expect(await down.owner.prisma.detectionAlert.findFirst({ where: { incidentId } })).toMatchObject({ slackStatus: 'failed' });
  });
});
