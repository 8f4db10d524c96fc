import { DEMO } from '@breezycorp/db';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch, PHONE, seriousA11yViolations, watchedContext } from './support/browser.ts';
import { linkIn, type RunningSpade, startSpade } from './support/server.ts';
import { contactContinues, see } from './support/steps.ts';

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
      // A fresh load for each: from /portal#token=…, another fragment alone would not reload the app.
      await page.goto('about:blank');
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

  it('a used link offers "Email me a new link": the mail arrives and its link opens the checklist; an unknown address gets the same confirmation; asking too often gets a clear message', async () => {
    const chloe = spade.seed.magicLinks.find((link) => link.contactEmail === 'chloe@cinnamon.example')!;
    const used = `${spade.baseUrl}/portal#token=${chloe.token}`;
    const { context, watch } = await watchedContext(browser, PHONE);
    const page = await context.newPage();
    await contactContinues(page, used);

    // The link works once: opened again (a forwarded mail, another device) it is dead…
    // A fresh load each time: from /portal, going to /portal#token=… only changes the fragment.
    const askFor = async (email: string) => {
      await page.goto('about:blank');
      await page.goto(used);
      await see(page.getByRole('heading', { name: 'This link is no longer valid' }));
      await page.getByRole('textbox', { name: 'Email address' }).fill(email);
      await page.getByRole('button', { name: 'Email me a new link' }).click();
    };
    const before = (await spade.outbox()).filter((mail) => mail.to === chloe.contactEmail).length;
    await askFor(chloe.contactEmail);
    const confirmation = await see(page.getByRole('status'));
    const confirmed = await confirmation.textContent();
    expect(confirmed).toContain('If that address has an open request, a new link is on its way');
    expect(await page.getByRole('button', { name: 'Email me a new link' }).count()).toBe(0);
    expect(await seriousA11yViolations(page)).toEqual([]);

    // …and the mail brings a new link that opens the checklist.
    const mail = await spade.nextMail(chloe.contactEmail, before);
    const cycleTitle = (
      await spade.owner.prisma.cycleRequest.findUniqueOrThrow({
        where: { id: chloe.requestId },
        select: { cycle: { select: { title: true } } },
      })
    ).cycle.title;
    await page.goto('about:blank');
    await contactContinues(page, linkIn(mail.text, spade.baseUrl));
    await see(page.getByRole('heading', { name: cycleTitle, level: 1 }));

    // An address with no request: the very same confirmation, and no mail.
    const outboxSize = (await spade.outbox()).length;
    await askFor('nobody-here@cinnamon.example');
    expect(await (await see(page.getByRole('status'))).textContent()).toBe(confirmed);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await spade.outbox()).length).toBe(outboxSize);

    // Past the per-IP limit (SPADE_NEW_LINK_PER_IP_PER_MINUTE, 5): a clear message, the form stays.
    let limited = false;
    for (let i = 0; i < 6 && !limited; i++) {
      await askFor(`someone-${i}@cinnamon.example`);
      await see(page.getByRole('status').or(page.getByRole('alert')));
      limited = (await page.getByRole('alert').count()) > 0;
    }
    expect(limited).toBe(true);
    expect(await page.getByRole('alert').textContent()).toContain('Too many requests');
    expect(await page.getByRole('button', { name: 'Email me a new link' }).count()).toBe(1);
    // The 429 is the product working, as Chromium logs it.
    expect(watch.problems.filter((problem) => !/status of 429/.test(problem))).toEqual([]);
    await context.close();
  });
});
