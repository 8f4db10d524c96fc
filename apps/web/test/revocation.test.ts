import { DEMO } from '@breezycorp/db';
import { RUNBOOK_SQL } from '@breezycorp/db/runbook-sql';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch, PHONE, screenshot, seriousA11yViolations, watchedContext } from './support/browser.ts';
import { pdf } from './support/files.ts';
import { type RunningSpade, startSpade } from './support/server.ts';
import { chooseFiles, contactContinues, see, staffSignsIn } from './support/steps.ts';

let spade: RunningSpade;
let browser: Browser;
beforeAll(async () => {
  [spade, browser] = await Promise.all([startSpade(), launch()]);
});
afterAll(async () => {
  await browser?.close();
  await spade?.close();
});

const runbook = (sql: string) => spade.owner.withSql((executor) => executor.exec(sql));

describe('revocation and expiry take effect on the next navigation', () => {
  it("the runbook's session revocation sends signed-in staff to the login page on their next click, with nothing of the client left on screen", async () => {
    const { context, watch } = await watchedContext(browser);
    const page = await context.newPage();
    await staffSignsIn(page, spade, DEMO.staff.staff);
    await see(page.getByRole('link', { name: 'Acme Trading Pte Ltd', exact: true }));
    await runbook(RUNBOOK_SQL.revokeStaffSessions);
    await page.getByRole('link', { name: 'Acme Trading Pte Ltd', exact: true }).click();
    await see(page.getByRole('heading', { name: 'Sign in to Spade' }));
    expect(await page.getByText('Acme').count()).toBe(0);
    expect(watch.problems).toEqual([]);
    await context.close();
  });

  it("an admin's 'Sign out everywhere' ends a staff member's session at their next page load", async () => {
    const admin = await watchedContext(browser);
    const staff = await watchedContext(browser);
    const adminPage = await admin.context.newPage();
    const staffPage = await staff.context.newPage();
    await staffSignsIn(staffPage, spade, DEMO.staff.staff);
    await staffSignsIn(adminPage, spade, DEMO.staff.admin);
    await adminPage.getByRole('link', { name: 'Administration' }).click();
    await see(adminPage.getByRole('heading', { name: 'Administration' }));
    expect(await seriousA11yViolations(adminPage)).toEqual([]);
    await screenshot(adminPage, 'console-admin');
    await adminPage.getByRole('button', { name: 'Sign out everywhere (Sam Staff)' }).click();
    await see(adminPage.getByRole('status').filter({ hasText: '1 session(s) ended.' }));

    await staffPage.reload();
    await see(staffPage.getByRole('heading', { name: 'Sign in to Spade' }));
    expect(admin.watch.problems).toEqual([]);
    expect(staff.watch.problems).toEqual([]);
    await admin.context.close();
    await staff.context.close();
  });

  it("the runbook's link expiry turns the contact's next action into the invalid-link page, with the checklist gone", async () => {
    const link = spade.seed.magicLinks.find((l) => l.contactEmail === 'alice@acme.example')!;
    const { context, watch } = await watchedContext(browser, PHONE);
    const page = await context.newPage();
    await contactContinues(page, `${spade.baseUrl}/portal#token=${link.token}`);
    const firstItem = page.getByRole('button', { name: /^(Choose files|Upload a new file) for / }).first();
    await see(firstItem);

    await runbook(RUNBOOK_SQL.expireRequest.replace('<suspected-request-id>', link.requestId));
    await chooseFiles(page, firstItem, [pdf('after-expiry.pdf')]);
    await see(page.getByRole('heading', { name: 'This link is no longer valid' }));
    expect(await page.getByRole('button', { name: 'Sign out' }).count()).toBe(0);
    expect(await page.getByText('Acme').count()).toBe(0);
    // A reload brings nothing back either.
    await page.reload();
    await see(page.getByRole('heading', { name: 'This link is no longer valid' }));
    expect(await seriousA11yViolations(page)).toEqual([]);
    await screenshot(page, 'portal-invalid-link');
    expect(watch.problems).toEqual([]);
    await context.close();
  });
});
