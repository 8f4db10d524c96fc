import { DEMO } from '@breezycorp/db';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch, PHONE, watchedContext } from './support/browser.ts';
import { type RunningSpade, startSpade } from './support/server.ts';
import { see } from './support/steps.ts';

let spade: RunningSpade;
let browser: Browser;
beforeAll(async () => {
  [spade, browser] = await Promise.all([startSpade(), launch()]);
});
afterAll(async () => {
  await browser?.close();
  await spade?.close();
});

async function staffCall(method: 'POST', url: string) {
  const login = await spade.app.inject({
    method: 'POST',
    url: '/api/auth/login',
    payload: { email: DEMO.staff.admin.email, password: DEMO.staff.admin.password },
  });
  const token = login.json<{ token: string }>().token;
  const response = await spade.app.inject({ method, url, headers: { authorization: `Bearer ${token}` } });
  expect(response.statusCode, response.body).toBe(200);
  return response.json<{ magicLink?: { token: string } }>();
}

describe('dead links', () => {
  it('a malformed, an unknown, a replaced and a cancelled link all show the same calm page, which names no client', async () => {
    const [acme, borneo] = ['alice@acme.example', 'bala@borneo.example'].map(
      (email) => spade.seed.magicLinks.find((link) => link.contactEmail === email)!,
    );
    // Resending replaces Acme's link; cancelling kills Borneo's.
    await staffCall('POST', `/api/clients/${DEMO.clients.acme}/requests/${acme!.requestId}/resend`);
    await staffCall('POST', `/api/clients/${DEMO.clients.borneo}/requests/${borneo!.requestId}/cancel`);

    const { context, watch } = await watchedContext(browser, PHONE);
    const page = await context.newPage();
    const pages: string[] = [];
    for (const token of ['not-a-token', 'mlk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', acme!.token, borneo!.token]) {
      await page.goto(`${spade.baseUrl}/portal#token=${token}`);
      await see(page.getByRole('heading', { name: 'This link is no longer valid' }));
      expect(await page.getByRole('button', { name: 'Continue' }).count()).toBe(0);
      pages.push((await page.locator('main').textContent()) ?? '');
    }
    expect(new Set(pages).size).toBe(1);
    expect(pages[0]).toContain('Ask your firm for a new one');
    const names = ['Acme', 'Borneo', DEMO.clients.acme, DEMO.clients.borneo];
    expect(watch.bodies.filter(({ body }) => names.some((name) => body.includes(name))).map(({ url }) => url)).toEqual([]);
    expect(watch.problems).toEqual([]);
    await context.close();
  });
});
