import { DEMO } from '@breezycorp/db';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch, screenshot, seriousA11yViolations, watchedContext } from './support/browser.ts';
import { type RunningSpade, startSpade } from './support/server.ts';
import { see, staffSignsIn } from './support/steps.ts';

/**
 * The admin incident console in a real browser: what the CLI records (here written as the
 * CLI writes it, over the owner connection) is shown to an admin with its clocks counting
 * down and the command to act; a non-admin sees no entry and is refused at the address.
 */
const TITLE = 'Acme saw a Borneo bank statement';
const ROUTE = '/api/clients/:clientId/cycles/:cycleId';

let spade: RunningSpade;
let browser: Browser;
let incidentId: string;

beforeAll(async () => {
  [spade, browser] = await Promise.all([startSpade(), launch()]);
  const db = spade.owner.prisma;
  // Opened two days ago: the 30-day assessment clock is running, about 28 days left.
  const openedAt = new Date(Date.now() - 2 * 86_400_000);
  const incident = await db.incident.create({
    data: { title: TITLE, reporter: 'Alice Tan (Acme)', openedAt, openedBy: 'on-call', channel: '#incident-tenant-leak-test' },
  });
  incidentId = incident.id;
  await db.incidentTimelineEntry.create({
    data: { incidentId, kind: 'opened', actor: 'on-call', message: `Incident opened: ${TITLE}`, occurredAt: openedAt },
  });
  await db.tenantFreeze.create({
    data: { clientId: DEMO.clients.borneo, incidentId, reason: 'tenant leak containment', createdBy: 'on-call' },
  });
  await db.incidentTimelineEntry.create({
    data: { incidentId, kind: 'containment.tenant_frozen', actor: 'on-call', message: 'Froze Borneo' },
  });
  await db.routeKillSwitch.create({
    data: { method: 'GET', routePattern: ROUTE, reason: 'patch in progress', incidentId, createdBy: 'on-call' },
  });
});
afterAll(async () => {
  await browser?.close();
  await spade?.close();
});

describe('the incident console', () => {
  it('an admin opens Incidents: the incident with its clocks counting down, its timeline, containment and the commands to act', async () => {
    const { context, watch } = await watchedContext(browser);
    const page = await context.newPage();
    await staffSignsIn(page, spade, DEMO.staff.admin);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Incidents' }).click();
    await see(page.getByRole('heading', { name: 'Incidents', level: 1 }));

    const incident = page.getByRole('article', { name: TITLE });
    await see(incident);
    await see(incident.getByText('Severity: critical'));
    await see(incident.getByText('Open', { exact: true }));

    // The assessment clock counts down, second by second, from the server's deadline.
    const clocks = incident.getByRole('list', { name: `PDPA clocks of ${TITLE}` });
    const assessment = clocks.getByRole('listitem').filter({ hasText: 'Assessment of notifiability' });
    await see(assessment.getByText('Running'));
    const timer = assessment.getByRole('timer');
    const first = await timer.textContent();
    expect(first).toMatch(/^2[78] d \d\d h \d\d m \d\d s left$/);
    await page.waitForTimeout(1_500);
    expect(await timer.textContent()).not.toBe(first);
    await see(clocks.getByRole('listitem').filter({ hasText: 'PDPC notification' }).getByText('Not started'));
    await see(clocks.getByRole('listitem').filter({ hasText: 'Blameless post-mortem' }).getByText('Not started'));

    // The command to act, beside it: a real spade command, in a <code> block.
    const commands = incident.getByRole('region', { name: `Commands for ${TITLE}` });
    await see(commands.getByText('Run this to act'));
    await see(commands.locator('code').filter({ hasText: `pnpm spade incident notifiable ${incidentId} --basis "…"` }));
    await see(commands.locator('code').filter({ hasText: `pnpm spade incident resolve ${incidentId} --summary "…"` }));

    // Copy puts the command on the clipboard (or, without clipboard access, selects it for Ctrl+C).
    const copy = commands.getByRole('button', { name: /^Copy\s*: Mark the incident resolved/ });
    await copy.click();
    await see(commands.getByRole('button', { name: /^(Copied|Selected: press Ctrl\+C)\s*: Mark the incident resolved/ }));

    // The timeline, on demand.
    await incident.getByRole('button', { name: `Show the timeline of ${TITLE}` }).click();
    const timeline = incident.getByRole('list', { name: `Timeline of ${TITLE}` });
    await see(timeline.getByText(`Incident opened: ${TITLE}`));
    await see(timeline.getByText('Froze Borneo'));

    // Frozen tenants and routes offline, each with the command that undoes it.
    const frozen = page.getByRole('listitem', { name: /^Frozen: Borneo/ });
    await see(frozen);
    await see(frozen.locator('code').filter({ hasText: `pnpm spade tenants thaw ${DEMO.clients.borneo} --incident ${incidentId}` }));
    const offline = page.getByRole('listitem', { name: `Offline: GET ${ROUTE}` });
    await see(offline.locator('code').filter({ hasText: `pnpm spade routes online "GET ${ROUTE}" --incident ${incidentId}` }));

    // Read-only: the only buttons are the timeline toggles, copy buttons and sign-out.
    const buttons = await page.locator('main button').allTextContents();
    for (const text of buttons) expect(text, text).toMatch(/^(Show|Hide) the timeline|^Cop(y|ied)|^Selected: press Ctrl\+C/);

    expect(await seriousA11yViolations(page)).toEqual([]);
    await screenshot(page, 'console-incidents');
    expect(watch.problems).toEqual([]);
    await context.close();
  });

  it('non-admin staff see no Incidents entry and get "Page not found" at its address, with nothing of the incident', async () => {
    const { context, watch } = await watchedContext(browser);
    const page = await context.newPage();
    await staffSignsIn(page, spade, DEMO.staff.staff);
    const nav = page.getByRole('navigation', { name: 'Main' });
    await see(nav.getByRole('link', { name: 'My clients' }));
    expect(await nav.getByRole('link', { name: 'Incidents' }).count()).toBe(0);

    await page.goto(`${spade.baseUrl}/app/incidents`);
    await see(page.getByRole('heading', { name: 'Page not found' }));
    expect(await page.getByText(TITLE).count()).toBe(0);
    // The API refuses it too, the same way as any other admin-only route.
    const status = await page.evaluate(async () => (await fetch('/api/admin/incidents', { credentials: 'same-origin' })).status);
    expect(status).toBe(404);
    expect(watch.bodies.some((b) => b.body.includes(TITLE))).toBe(false);
    expect(watch.problems).toEqual([]);
    await context.close();
  });
});
