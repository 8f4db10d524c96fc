import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

/** Debian's Chromium (`apt-get install -y chromium`); never a downloaded browser build. */
export const CHROMIUM = process.env.SPADE_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const SCREENSHOT_DIR = path.resolve(import.meta.dirname, '../../test-results/screenshots');
export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 900 };

export function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
}

/**
 * What a page must never do: log an error, throw, or violate the CSP. A request the API
 * answers with an expected 401/404 is logged by Chromium as "Failed to load resource";
 * those are the product working (dead links, not-found pages), so they alone are let through.
 */
export interface PageWatch {
  problems: string[];
  /** Every response body the pages of this context received (for leak checks). */
  bodies: { url: string; body: string }[];
}

export async function watchedContext(browser: Browser, viewport = DESKTOP): Promise<{ context: BrowserContext; watch: PageWatch }> {
  // Phone width means a phone: touch and a coarse pointer (the portal then offers the camera).
  const phone = viewport.width < 600;
  const context = await browser.newContext({ viewport, acceptDownloads: true, ...(phone && { isMobile: true, hasTouch: true }) });
  const watch: PageWatch = { problems: [], bodies: [] };
  context.on('page', (page) => attach(page, watch));
  context.on('response', async (response) => {
    try {
      watch.bodies.push({ url: response.url(), body: (await response.body()).toString('utf8') });
    } catch {
      // Redirects and aborted requests have no body.
    }
  });
  return { context, watch };
}

function attach(page: Page, watch: PageWatch) {
  page.on('console', (message) => {
    if (message.type() !== 'error' && message.type() !== 'warning') return;
    const text = message.text();
    if (/Failed to load resource: the server responded with a status of (401|404)/.test(text)) return;
    if (message.type() === 'warning' && !/Content.Security.Policy/i.test(text)) return;
    watch.problems.push(`${message.type()}: ${text}`);
  });
  page.on('pageerror', (error) => watch.problems.push(`pageerror: ${error.message}`));
}

/** axe-core over the page as it is now: no serious or critical violation. */
export async function seriousA11yViolations(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  return result.violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => `${violation.id}: ${violation.help} (${violation.nodes.map((node) => node.target.join(' ')).join(', ')})`);
}

/** A full-page screenshot at the page's width, and at the other one too. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const original = page.viewportSize() ?? DESKTOP;
  for (const [label, size] of [
    ['phone', PHONE],
    ['desktop', DESKTOP],
  ] as const) {
    await page.setViewportSize(size);
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}-${label}.png`), fullPage: true });
  }
  await page.setViewportSize(original);
}
