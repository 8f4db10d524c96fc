import { DEMO } from '@breezycorp/db';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch, PHONE, watchedContext } from './support/browser.ts';
import { type RunningSpade, startSpade } from './support/server.ts';
import { contactContinues, see, staffSignsIn } from './support/steps.ts';

/** `pnpm start`'s default: the embedded PGlite database, the same pages. */
let spade: RunningSpade;
let browser: Browser;
beforeAll(async () => {
  [spade, browser] = await Promise.all([startSpade({ embedded: true }), launch()]);
});
afterAll(async () => {
  await browser?.close();
  await spade?.close();
});

describe('the web app on the embedded database', () => {
  it("staff sign in and see only their client; the demo contact's link opens the checklist", async () => {
    const staff = await watchedContext(browser);
    const console_ = await staff.context.newPage();
    await staffSignsIn(console_, spade, DEMO.staff.staff);
    await see(console_.getByRole('link', { name: 'Acme Trading Pte Ltd', exact: true }));
    expect(await console_.getByRole('link', { name: /Borneo/ }).count()).toBe(0);

    const link = spade.seed.magicLinks.find((l) => l.contactEmail === 'alice@acme.example')!;
    const contact = await watchedContext(browser, PHONE);
    const portal = await contact.context.newPage();
    await contactContinues(portal, `${spade.baseUrl}/portal#token=${link.token}`);
    await see(portal.getByRole('heading', { level: 1 }));
    expect(await portal.getByRole('heading', { level: 2 }).count()).toBeGreaterThan(0);

    expect(staff.watch.problems).toEqual([]);
    expect(contact.watch.problems).toEqual([]);
  });
});
