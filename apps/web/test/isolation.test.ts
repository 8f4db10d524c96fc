import { randomUUID } from 'node:crypto';
import { DEMO } from '@breezycorp/db';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch, PHONE, seriousA11yViolations, watchedContext } from './support/browser.ts';
import { type RunningSpade, startSpade } from './support/server.ts';
import { contactContinues, see, staffSignsIn } from './support/steps.ts';

/**
 * Isolation as a person in a browser meets it: what another client's URL shows, and what
 * every response the page received contains (listened to on the network).
 */
let spade: RunningSpade;
let browser: Browser;
let borneo: { clientId: string; fileId: string; requestId: string; markers: string[] };
beforeAll(async () => {
  [spade, browser] = await Promise.all([startSpade(), launch()]);
  const file = await spade.owner.withSql((sql) =>
    sql.query<{ id: string }>('SELECT id FROM files WHERE client_id = $1 LIMIT 1', [DEMO.clients.borneo]),
  );
  const request = spade.seed.magicLinks.find((link) => link.contactEmail === 'bala@borneo.example')!;
  borneo = {
    clientId: DEMO.clients.borneo,
    fileId: file[0]!.id,
    requestId: request.requestId,
    markers: ['Borneo', 'bala@borneo.example', DEMO.clients.borneo, file[0]!.id, request.requestId],
  };
});
afterAll(async () => {
  await browser?.close();
  await spade?.close();
});

const leaksIn = (bodies: { url: string; body: string }[], markers: string[]) =>
  bodies.flatMap(({ url, body }) =>
    markers.filter((marker) => body.toLowerCase().includes(marker.toLowerCase())).map((m) => `${m} in ${url}`),
  );

/** The API's error body without its per-request id: what the two answers must share. */
const withoutRequestId = (body: string) => body.replace(/"requestId":"[^"]*"/, '"requestId":"…"');

describe('isolation in the browser', () => {
  it("a contact of Acme who pastes Borneo's file URLs gets exactly the answer of a file that does not exist, and no response carries Borneo", async () => {
    const acmeLink = spade.seed.magicLinks.find((link) => link.contactEmail === 'alice@acme.example')!;
    const { context, watch } = await watchedContext(browser, PHONE);
    const page = await context.newPage();
    await contactContinues(page, `${spade.baseUrl}/portal#token=${acmeLink.token}`);

    const answers: string[] = [];
    for (const url of [
      `/api/portal/clients/${borneo.clientId}/files/${borneo.fileId}/download`,
      `/api/portal/clients/${DEMO.clients.acme}/files/${borneo.fileId}/download`,
      `/api/portal/clients/${DEMO.clients.acme}/files/${randomUUID()}/download`,
    ]) {
      const response = await page.goto(`${spade.baseUrl}${url}`);
      expect(response?.status(), url).toBe(404);
      answers.push(withoutRequestId(await response!.text()));
    }
    expect(new Set(answers).size).toBe(1);
    // The staff URL of the same file: the contact's cookie is not even sent there (path /api/portal).
    const staffUrl = await page.goto(`${spade.baseUrl}/api/clients/${borneo.clientId}/files/${borneo.fileId}/download`);
    expect(staffUrl?.status()).toBe(401);
    // And the console, pasted by a contact, is only its sign-in page.
    await page.goto(`${spade.baseUrl}/app/clients/${borneo.clientId}`);
    await see(page.getByRole('heading', { name: 'Sign in to Spade' }));

    expect(leaksIn(watch.bodies, borneo.markers)).toEqual([]);
    expect(watch.problems).toEqual([]);
    await context.close();
  });

  it("staff not assigned to Borneo who open Borneo's client and request pages see the same not-found page as for a client that does not exist, and no response carries Borneo", async () => {
    const { context, watch } = await watchedContext(browser);
    const page = await context.newPage();
    await staffSignsIn(page, spade, DEMO.staff.staff);
    const texts: string[] = [];
    for (const path of [
      `/app/clients/${borneo.clientId}`,
      `/app/clients/${borneo.clientId}/requests/${borneo.requestId}`,
      `/app/clients/${DEMO.clients.acme}/requests/${borneo.requestId}`,
      `/app/clients/${randomUUID()}`,
    ]) {
      await page.goto(`${spade.baseUrl}${path}`);
      await see(page.getByRole('heading', { name: 'Page not found' }));
      texts.push((await page.getByRole('main').textContent()) ?? '');
    }
    expect(new Set(texts).size).toBe(1);
    expect(await seriousA11yViolations(page)).toEqual([]);
    expect(leaksIn(watch.bodies, borneo.markers)).toEqual([]);
    expect(watch.problems).toEqual([]);
    await context.close();
  });
});
