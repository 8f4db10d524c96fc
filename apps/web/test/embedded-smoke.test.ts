import { DEMO } from '@breezycorp/db';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch, PHONE, watchedContext } from './support/browser.ts';
import { pdf } from './support/files.ts';
import { type RunningSpade, startSpade } from './support/server.ts';
import { chooseFiles, see } from './support/steps.ts';

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

/** Tabs until `name` has the focus (a person with a keyboard), and checks the focus is visible. */
async function tabTo(page: Page, name: string) {
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const el = document.activeElement as (HTMLElement & { labels?: NodeListOf<HTMLLabelElement> }) | null;
      if (!el) return null;
      const style = getComputedStyle(el);
      const name = el.getAttribute('aria-label') ?? el.labels?.[0]?.textContent ?? el.textContent ?? '';
      return { text: name.trim(), outline: style.outlineStyle };
    });
    if (focused?.text === name) {
      expect(focused.outline, `focus on "${name}" is visible`).not.toBe('none');
      return;
    }
  }
  throw new Error(`"${name}" cannot be reached with Tab`);
}

describe('the web app on the embedded database', () => {
  it('staff sign in with the keyboard alone and see only their own client', async () => {
    const { context, watch } = await watchedContext(browser);
    const page = await context.newPage();
    await page.goto(`${spade.baseUrl}/app`);
    await see(page.getByRole('heading', { name: 'Sign in to Spade' }));
    await tabTo(page, 'Email');
    await page.keyboard.type(DEMO.staff.staff.email);
    await page.keyboard.press('Tab');
    await page.keyboard.type(DEMO.staff.staff.password);
    await page.keyboard.press('Enter');
    await see(page.getByRole('link', { name: 'Acme Trading Pte Ltd', exact: true }));
    expect(await page.getByRole('link', { name: /Borneo/ }).count()).toBe(0);
    expect(watch.problems).toEqual([]);
    await context.close();
  });

  it('on a phone, a contact continues with the keyboard, is offered the camera, retries an upload that failed, and removes it before review', async () => {
    const link = spade.seed.magicLinks.find((l) => l.contactEmail === 'alice@acme.example')!;
    const { context, watch } = await watchedContext(browser, PHONE);
    const page = await context.newPage();
    await page.goto(`${spade.baseUrl}/portal#token=${link.token}`);
    await see(page.getByRole('button', { name: 'Continue' }));
    await tabTo(page, 'Continue');
    await page.keyboard.press('Enter');
    await see(page.getByRole('button', { name: 'Sign out' }));

    const item = await see(page.getByRole('button', { name: /^(Choose files|Upload a new file) for / }));
    const label = ((await item.textContent()) ?? '').replace(/^(Choose files|Upload a new file) for /, '');
    const camera = await see(page.getByRole('button', { name: `Take a photo for ${label}` }));
    const [photo] = await Promise.all([page.waitForEvent('filechooser'), camera.click()]);
    expect(await photo.element().getAttribute('capture')).toBe('environment');
    await photo.setFiles([]);

    // The connection drops during the upload: a clear message and "Try again".
    await context.setOffline(true);
    await chooseFiles(page, item, [pdf('receipt.pdf')]);
    await see(page.getByRole('alert').filter({ hasText: 'The connection was lost' }));
    await context.setOffline(false);
    await page.getByRole('button', { name: 'Try again to upload receipt.pdf' }).click();
    const sent = page.getByRole('list', { name: `Files sent for ${label}` });
    await see(sent.getByText('receipt.pdf'));

    await page.getByRole('button', { name: 'Remove receipt.pdf' }).click();
    // Not one receipt.pdf is left in the list (it may briefly render twice while the list refetches).
    await expect.poll(() => sent.getByText('receipt.pdf').count(), { timeout: 15_000 }).toBe(0);
    // Chromium logs the offline attempt itself as a failed load; nothing else may appear.
    expect(watch.problems.filter((p) => !p.includes('net::ERR_INTERNET_DISCONNECTED'))).toEqual([]);
    await context.close();
  });
});
