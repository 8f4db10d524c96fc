import type { Locator, Page } from 'playwright-core';
import type { RunningSpade } from './server.ts';

/** Waits for what a person would look for: a role and its accessible name. */
export async function see(locator: Locator, timeout = 15_000): Promise<Locator> {
  await locator.first().waitFor({ state: 'visible', timeout });
  return locator.first();
}

export async function staffSignsIn(page: Page, spade: RunningSpade, who: { email: string; password: string }) {
  await page.goto(`${spade.baseUrl}/app`);
  await see(page.getByRole('heading', { name: 'Sign in to Spade' }));
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await see(page.getByRole('heading', { name: 'My clients' }));
}

/** Picks files the way a person does: click the button, choose in the file dialog. */
export async function chooseFiles(page: Page, button: Locator, files: { name: string; mimeType: string; buffer: Buffer }[]) {
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), button.click()]);
  await chooser.setFiles(files);
}

export async function contactContinues(page: Page, link: string) {
  await page.goto(link);
  await (await see(page.getByRole('button', { name: 'Continue' }))).click();
  await see(page.getByRole('button', { name: 'Sign out' }));
}
