import { DEMO } from '@breezycorp/db';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch, PHONE, screenshot, seriousA11yViolations, watchedContext } from './support/browser.ts';
import { csv, html, pdf, png } from './support/files.ts';
import { linkIn, type RunningSpade, startSpade } from './support/server.ts';
import { chooseFiles, see, staffSignsIn } from './support/steps.ts';

let spade: RunningSpade;
let browser: Browser;
beforeAll(async () => {
  [spade, browser] = await Promise.all([startSpade(), launch()]);
});
afterAll(async () => {
  await browser?.close();
  await spade?.close();
});

describe('the whole journey, in a real browser over the real API and PostgreSQL', () => {
  it('staff send a three-item request; the contact uploads from the emailed link; a rejection is fixed; the request completes and the audit trail shows it', async () => {
    const a11y: Record<string, string[]> = {};
    const scan = async (page: import('playwright-core').Page, name: string) => {
      a11y[name] = await seriousA11yViolations(page);
      await screenshot(page, name);
    };

    // Staff: sign in, open the client, create a cycle and a request with three items.
    const staff = await watchedContext(browser);
    const console_ = await staff.context.newPage();
    await console_.goto(`${spade.baseUrl}/app`);
    await see(console_.getByRole('heading', { name: 'Sign in to Spade' }));
    await scan(console_, 'console-login');
    await staffSignsIn(console_, spade, DEMO.staff.staff);
    await see(console_.getByRole('link', { name: 'Acme Trading Pte Ltd', exact: true }));
    await scan(console_, 'console-home');
    await console_.getByRole('link', { name: 'Acme Trading Pte Ltd', exact: true }).click();
    await see(console_.getByRole('heading', { name: 'Acme Trading Pte Ltd', level: 1 }));

    const newCycle = console_.getByRole('form', { name: 'New cycle' });
    await newCycle.getByLabel('Kind').selectOption('bookkeeping');
    await newCycle.getByLabel('Period').fill('2026-11');
    await newCycle.getByLabel('Cycle title').fill('November 2026 bookkeeping');
    await newCycle.getByLabel('Due date').fill('2026-12-20');
    await newCycle.getByRole('button', { name: 'Create cycle' }).click();
    await see(console_.getByRole('heading', { name: 'November 2026 bookkeeping', level: 3 }));

    await console_.getByText('New request for November 2026 bookkeeping').click();
    const newRequest = console_.getByRole('form', { name: 'New request for November 2026 bookkeeping' });
    await newRequest.getByLabel('Send to').selectOption({ label: 'Alice Tan (alice@acme.example)' });
    await newRequest.getByLabel('Checklist items (one per line)').fill('Bank statements\nSales invoices\nPayroll summary');
    await newRequest.getByLabel('Message to the client').fill('Please send November’s documents.');
    await newRequest.getByRole('button', { name: 'Send request' }).click();
    await see(console_.getByRole('status').filter({ hasText: 'Request sent to alice@acme.example' }));
    await scan(console_, 'console-client');

    // The mail lands in the outbox.
    const mail = (await spade.outbox()).filter((m) => m.to === 'alice@acme.example').at(-1);
    expect(mail?.text).toContain('/portal#token=');
    const link = linkIn(mail!.text, spade.baseUrl);

    // The contact, on a phone, in a separate browser context: open, check, Continue.
    const contact = await watchedContext(browser, PHONE);
    const portal = await contact.context.newPage();
    await portal.goto(link);
    await see(portal.getByRole('heading', { name: 'November 2026 bookkeeping' }));
    expect(await portal.getByText('Acme Trading Pte Ltd').count()).toBeGreaterThan(0);
    await scan(portal, 'portal-landing');
    await portal.getByRole('button', { name: 'Continue' }).click();
    await see(portal.getByRole('status').filter({ hasText: '3 of 3' }));
    expect(portal.url()).toBe(`${spade.baseUrl}/portal`);
    expect(await portal.evaluate(() => window.location.hash)).toBe('');
    await scan(portal, 'portal-checklist');

    // A file the firm does not accept is refused before sending, with a clear message.
    await chooseFiles(portal, portal.getByRole('button', { name: 'Choose files for Bank statements' }), [html('notes.html')]);
    await see(portal.getByRole('alert').filter({ hasText: 'notes.html is not a file type we accept' }));
    await portal.getByRole('button', { name: 'Dismiss notes.html' }).click();

    // Two files at once, on a slow uplink: a progress bar per file.
    const cdp = await contact.context.newCDPSession(portal);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 20,
      downloadThroughput: -1,
      uploadThroughput: 150 * 1024,
    });
    await chooseFiles(portal, portal.getByRole('button', { name: 'Choose files for Bank statements' }), [
      pdf('statement-nov.pdf', 300 * 1024),
      png('statement-scan.png', 300 * 1024),
    ]);
    await see(portal.getByRole('progressbar', { name: 'Uploading statement-nov.pdf' }));
    await see(portal.getByRole('progressbar', { name: 'Uploading statement-scan.png' }));
    await see(portal.getByRole('list', { name: 'Files sent for Bank statements' }).getByText('statement-scan.png'), 30_000);
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await see(portal.getByRole('list', { name: 'Files sent for Bank statements' }).getByText('statement-nov.pdf'));
    await chooseFiles(portal, portal.getByRole('button', { name: 'Choose files for Sales invoices' }), [pdf('invoices-oct.pdf')]);
    await see(portal.getByRole('list', { name: 'Files sent for Sales invoices' }).getByText('invoices-oct.pdf'));
    await chooseFiles(portal, portal.getByRole('button', { name: 'Choose files for Payroll summary' }), [csv('payroll.csv')]);
    await see(portal.getByRole('status').filter({ hasText: 'Everything is sent' }));

    // Staff review: preview the scan, download the statement, reject the invoices with a comment.
    await console_
      .getByRole('list', { name: 'Requests in November 2026 bookkeeping' })
      .getByRole('link', { name: /Request to Alice Tan, sent .* \(3 items\)/ })
      .click();
    await see(console_.getByRole('status').filter({ hasText: '0 of 3 items accepted' }));
    await console_.getByRole('button', { name: 'Preview statement-scan.png' }).click();
    const preview = await see(console_.getByRole('img', { name: 'Preview of statement-scan.png' }));
    await console_.waitForFunction(() => {
      const image = document.querySelector('.preview img') as HTMLImageElement | null;
      return image?.complete && image.naturalWidth === 1;
    });
    expect(await preview.isVisible()).toBe(true);
    const [download] = await Promise.all([
      console_.waitForEvent('download'),
      console_.getByRole('link', { name: 'Download statement-nov.pdf' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('statement-nov.pdf');
    await console_.getByLabel('Comment for the client (needed to reject Sales invoices)').fill('These are October’s; we need November’s.');
    await console_.getByRole('button', { name: 'Reject Sales invoices' }).click();
    await see(console_.getByText('Comment: These are October’s; we need November’s.'));
    await scan(console_, 'console-request');

    // The contact sees the comment and sends a new file for that item.
    await portal.reload();
    await see(portal.getByText('These are October’s; we need November’s.'));
    await see(portal.getByRole('status').filter({ hasText: '1 of 3' }));
    await chooseFiles(portal, portal.getByRole('button', { name: 'Upload a new file for Sales invoices' }), [pdf('invoices-nov.pdf')]);
    await see(portal.getByRole('list', { name: 'Files sent for Sales invoices' }).getByText('invoices-nov.pdf'));

    // Staff accept all three: the request is complete.
    await console_.reload();
    for (const label of ['Bank statements', 'Sales invoices', 'Payroll summary']) {
      await (await see(console_.getByRole('button', { name: `Accept ${label}` }))).click();
      await console_.getByRole('button', { name: `Accept ${label}` }).waitFor({ state: 'detached' });
    }
    await see(console_.getByRole('status').filter({ hasText: 'Complete: every item is accepted.' }));

    await portal.reload();
    await see(portal.getByRole('heading', { name: 'All done' }));
    await scan(portal, 'portal-all-done');
    await portal.getByRole('button', { name: 'Sign out' }).click();
    await see(portal.getByRole('heading', { name: 'You have signed out' }));

    // The audit trail shows the contact's reads and the staff download, filterable.
    await console_.getByRole('link', { name: 'Back to the client' }).click();
    const trail = console_.getByRole('table', { name: 'Audit events' });
    await console_.getByLabel('Show').selectOption({ label: 'Downloads' });
    await see(trail.getByRole('cell', { name: 'file.downloaded' }));
    expect(await trail.getByRole('cell', { name: 'request.read' }).count()).toBe(0);
    await console_.getByLabel('Show').selectOption({ label: 'Reads' });
    await see(trail.getByRole('cell', { name: 'request.read' }));
    expect(await trail.getByRole('row').filter({ hasText: 'contact' }).count()).toBeGreaterThan(0);
    await scan(console_, 'console-audit');

    expect(a11y).toEqual(Object.fromEntries(Object.keys(a11y).map((name) => [name, []])));
    expect(staff.watch.problems).toEqual([]);
    expect(contact.watch.problems).toEqual([]);
    await staff.context.close();
    await contact.context.close();
  });
});
