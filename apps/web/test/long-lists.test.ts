import { DEMO } from '@breezycorp/db';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch, watchedContext } from './support/browser.ts';
import { type RunningSpade, startSpade } from './support/server.ts';
import { see, staffSignsIn } from './support/steps.ts';

/*
 * The API answers lists a page at a time (at most 500 rows, 100 by default). The console
 * still shows a staff member every client they serve, and the audit trail offers its older
 * events on demand.
 */
let spade: RunningSpade;
let browser: Browser;
beforeAll(async () => {
  [spade, browser] = await Promise.all([startSpade(), launch()]);
});
afterAll(async () => {
  await browser?.close();
  await spade?.close();
});

const MANY = 520;

describe('long lists in the console', () => {
  it('an admin sees all of 520+ clients on the home page, and the audit trail loads older events', async () => {
    await spade.owner.prisma.client.createMany({
      data: Array.from({ length: MANY }, (_, i) => ({ name: `Long list client ${String(i).padStart(3, '0')}` })),
    });
    // More than one page (200) of Acme's audit trail: each read of a cycle is audited.
    const login = await spade.app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: DEMO.staff.admin.email, password: DEMO.staff.admin.password },
    });
    const headers = { authorization: `Bearer ${login.json<{ token: string }>().token}` };
    const cycle = await spade.owner.prisma.cycle.findFirstOrThrow({ where: { clientId: DEMO.clients.acme } });
    for (let i = 0; i < 210; i++) {
      const read = await spade.app.inject({ method: 'GET', url: `/api/clients/${DEMO.clients.acme}/cycles/${cycle.id}`, headers });
      expect(read.statusCode).toBe(200);
    }

    const { context, watch } = await watchedContext(browser);
    const page = await context.newPage();
    await staffSignsIn(page, spade, DEMO.staff.admin);
    // Beyond the first page of 500: the last client by name is listed too.
    await see(page.getByRole('link', { name: 'Long list client 519' }));
    expect(await page.getByRole('link', { name: /^Long list client \d{3}$/ }).count()).toBe(MANY);

    await page.goto(`${spade.baseUrl}/app/clients/${DEMO.clients.acme}`);
    const trail = page.getByRole('table', { name: 'Audit events' });
    await see(trail.getByRole('cell', { name: 'cycle.read' }));
    const rows = trail.locator('tbody tr');
    await expect.poll(() => rows.count()).toBe(200);
    await page.getByRole('button', { name: 'Load older events' }).click();
    await expect.poll(() => rows.count()).toBeGreaterThan(200);
    expect(watch.problems).toEqual([]);
    await context.close();
  });
});
