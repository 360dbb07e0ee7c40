/**
 * Headless Chromium (the Debian package) driven by playwright-core, for the console's browser tests.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOTS = join(import.meta.dirname, '..', '..', '..', 'test-artifacts', 'console');

/**
 * Shifts the page's Date by `offsetMs`, as test/helpers/shift-clock.mjs shifts Node's: under
 * `npm run test:calendar` the browser reads the same (shifted) time as the gateway it talks to.
 * Runs in the page, so it must not close over anything.
 */
function shiftPageClock(offsetMs: number): void {
  const RealDate = Date;
  class ShiftedDate extends RealDate {
    constructor(...args: ConstructorParameters<DateConstructor> | []) {
      if (args.length === 0) super(RealDate.now() + offsetMs);
      else super(...(args as ConstructorParameters<DateConstructor>));
    }
    static override now(): number {
      return RealDate.now() + offsetMs;
    }
    static override [Symbol.hasInstance](value: unknown): boolean {
      return value instanceof RealDate;
    }
  }
  (globalThis as { Date: DateConstructor }).Date = new Proxy(ShiftedDate, {
    apply: () => new ShiftedDate().toString(),
  }) as DateConstructor;
}

export async function launchChromium(): Promise<Browser> {
  const browser = await launchUnshifted();
  const offsetMs = Number(process.env.SHIFT_CLOCK_OFFSET_MS ?? 0);
  if (!offsetMs) return browser;
  const newPage = browser.newPage.bind(browser);
  browser.newPage = async (options) => {
    const page = await newPage(options);
    await page.addInitScript(shiftPageClock, offsetMs);
    return page;
  };
  return browser;
}

function launchUnshifted(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Writes test-artifacts/console/<name>.png (gitignored) for a person to look at. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}
