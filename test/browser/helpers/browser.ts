import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, findBrowser, noBrowserMessage } from '../../../scripts/find-browser.mjs';

/** The browser `findBrowser` finds (CHROMIUM_PATH, Playwright's, Chrome, Chromium, Edge), headless, kept off the network. */
export async function launchChromium(): Promise<Browser> {
  const executablePath = findBrowser();
  if (!executablePath) throw new Error(noBrowserMessage());
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS });
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core's violations of serious or critical impact on the current page. */
export async function seriousAxeViolations(page: Page): Promise<{ id: string; impact: string; nodes: string[] }[]> {
  await page.addScriptTag({ content: axeSource });
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe;
    const result = await axe.run();
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')) }));
  });
}

const scratch = mkdtempSync(join(tmpdir(), 'sb-screenshots-'));

/**
 * Where a screenshot goes: `docs/` when UPDATE_SCREENSHOTS=1 (to refresh the
 * README's pictures), a scratch folder otherwise, so test runs leave the tree clean.
 */
export function screenshotPath(name: string): string {
  return process.env.UPDATE_SCREENSHOTS === '1' ? join('docs', name) : join(scratch, name);
}

/** How many emails in the demo's inbox page have this subject. */
export async function countEmails(page: Page, base: string, subject: string): Promise<number> {
  await page.goto(`${base}/inbox`);
  return page.getByRole('link', { name: subject }).count();
}

/**
 * Waits until the inbox holds more than `seenBefore` emails with this
 * subject, opens the newest, and clicks `button` inside it, as a person would.
 */
export async function clickInEmail(page: Page, base: string, subject: string, button: string, seenBefore = 0): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await countEmails(page, base, subject)) <= seenBefore) {
    if (Date.now() > deadline) throw new Error(`no new email "${subject}"`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await page.getByRole('link', { name: subject }).first().click();
  await page.frameLocator('iframe[title="Email content"]').getByRole('link', { name: button }).click();
}

/**
 * In a widget showing a service's times, picks the first free time of the
 * second day shown. The demo runs on the real clock: the first day may be
 * today with few times left, or with a time about to pass the notice; the
 * second is always a whole working day. Booked times leave the list.
 */
export async function pickTimeOnSecondDay(widget: Locator): Promise<void> {
  await widget.locator('[part~="day"]').nth(1).click();
  await widget.locator('[part~="slot"]').first().click();
}
