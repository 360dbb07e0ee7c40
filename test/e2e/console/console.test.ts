/**
 * The web console in headless Chromium against a real gateway with traffic: sign-in (and a wrong
 * token), budgets matching /v1/budget and /admin/budgets, top-up and reset, spend chart and
 * suggestions, alerts, a key created, used with the SDK, revoked and refused, cost previews that
 * pass, downgrade and reject, auto-refresh pausing in a hidden tab. Screenshots of every view go
 * to test-artifacts/console/.
 */
import OpenAI from 'openai';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatUsd } from '../../../console/src/format.js';
import { usageRows } from '../../../console/src/views/usage-series.js';
import {
  ADMIN_TOKEN,
  eventually,
  type Stack,
  startStack,
  TEST_KEY,
  TEST_KEY_2,
} from '../../helpers/stack.js';
import { launchChromium, screenshot } from './browser.js';
import { ensureConsoleBuilt } from './build.js';

const CHARLIE_KEY = 'sk-gw-test-key-charlie';
const DELTA_KEY = 'sk-gw-test-key-delta';

const KEYS_YAML = `keys:
  - { id: alpha, key: "${TEST_KEY}", team: web, user: alice }
  - { id: bravo, key: "${TEST_KEY_2}", team: data, models: [gpt-4o-mini, text-embedding-3-small] }
  - { id: charlie, key: "${CHARLIE_KEY}", team: ops }
  - { id: delta, key: "${DELTA_KEY}", team: ml }`;

const BUDGETS_YAML = `budgets:
  - id: web-monthly
    scope: { team: web }
    limit_usd: 0.05
    period: monthly
    thresholds:
      - { at: 0.5, alert: true }
      - { at: 0.8, alert: true, downgrade: { gpt-4o: gpt-4o-mini } }
  - { id: per-user-daily, scope: { user: "*" }, limit_usd: 0.05, period: daily }
  - { id: ops-tiny, scope: { team: ops }, limit_usd: 0.0001, period: monthly }
  - id: ml-daily
    scope: { team: ml }
    limit_usd: 0.01
    period: daily
    thresholds:
      - { at: 0.01, alert: true, downgrade: { gpt-4o: gpt-4o-mini } }
  - { id: everything, scope: global, limit_usd: 0.2, period: monthly }
# The console shows forecasts; this gateway has just started, so it forecasts from the first
# request (the wait for observed history is tested in src/budget/forecast-evidence.test.ts).
forecast: { min_history_ms: 0 }`;

interface BudgetLine {
  id: string;
  instance?: string;
  limit_usd: number;
  spent_usd: number;
  reserved_usd: number;
  remaining_usd: number;
}

interface AdminBudget {
  id: string;
  template: boolean;
  balance?: BudgetLine;
  instances?: { count: number; spent_usd: number; top_spenders: (BudgetLine & { instance: string })[] };
}

let stack: Stack;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];
const foreignRequests: string[] = [];

async function admin<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${stack.gateway.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(response.status, `${method} ${path}`).toBeLessThan(300);
  return (await response.json()) as T;
}

async function selfService<T>(key: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${stack.gateway.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(response.status, path).toBe(200);
  return (await response.json()) as T;
}

async function chat(
  key: string,
  model: string,
  user?: string,
  prompt = 'Say something short.',
): Promise<void> {
  await stack
    .openai(key)
    .chat.completions.create(
      { model, messages: [{ role: 'user', content: prompt }], max_tokens: 40 },
      { headers: { 'x-mock-output-tokens': '30', ...(user ? { 'x-gateway-user': user } : {}) } },
    );
}

/** Waits until the view on screen has loaded its data; on failure, says what the page said. */
async function waitLoaded(): Promise<void> {
  try {
    await page.waitForSelector('main[data-loaded="true"]', { timeout: 15_000 });
  } catch (error) {
    const said = await page
      .locator('header .status, [data-field="signin-message"]')
      .allTextContents()
      .catch(() => []);
    throw new Error(`the view did not load; the page says: ${JSON.stringify(said)}`, { cause: error });
  }
}

/** Opens a view and waits until its data has loaded. */
async function openView(id: string): Promise<void> {
  await page.click(`nav a[data-view="${id}"]`);
  await page.waitForSelector(`nav a[data-view="${id}"][aria-current="page"]`);
  await waitLoaded();
}

/** Evaluates an expression in the page (a string: this file is compiled without DOM types). */
const inPage = <T = unknown>(expression: string) => page.evaluate(expression) as Promise<T>;
const text = async (selector: string) => (await page.locator(selector).first().textContent()) ?? '';

describe('web console in a browser', () => {
  beforeAll(async () => {
    ensureConsoleBuilt();
    stack = await startStack({ keysYaml: KEYS_YAML, extraYaml: BUDGETS_YAML });
    await admin('POST', '/admin/budgets', {
      id: 'data-prepaid',
      scope: { team: 'data' },
      limit_usd: 1,
      period: 'none',
    });
    // Traffic: three teams, three users under the "*" budget, one team past a downgrade threshold,
    // and long prompts with short answers on gpt-4o (a suggestion: gpt-4o-mini would do).
    const longPrompt = 'Summarise the quarterly budget report in one line. '.repeat(150);
    for (let i = 0; i < 4; i++) await chat(TEST_KEY, 'gpt-4o', undefined, longPrompt);
    await chat(TEST_KEY_2, 'gpt-4o-mini', 'bob');
    await chat(TEST_KEY_2, 'gpt-4o-mini', 'carol');
    await chat(TEST_KEY_2, 'gpt-4o-mini', 'carol');
    await chat(DELTA_KEY, 'gpt-4o');
    await stack.anthropic().messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 50,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    // History is written in batches off the request path; alerts are raised after settling.
    await stack.gateway.analytics.flush();
    await eventually(async () => {
      const { alerts } = await admin<{ alerts: { budget_id?: string }[] }>('GET', '/admin/alerts');
      expect(alerts.some((a) => a.budget_id === 'ml-daily')).toBe(true);
    });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('request', (request) => {
      if (!request.url().startsWith(stack.gateway.url) && !request.url().startsWith('data:'))
        foreignRequests.push(request.url());
    });
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('refuses a wrong admin token with a clear message', async () => {
    await page.goto(`${stack.gateway.url}/console`);
    await page.fill('input[name="token"]', 'not-the-admin-token');
    await page.click('button[type="submit"]');
    const message = page.locator('[data-field="signin-message"] [role="alert"]');
    await message.waitFor();
    expect(await message.textContent()).toMatch(/did not accept this admin token \(401\)/);
    expect(await inPage<number>('sessionStorage.length')).toBe(0);
    await screenshot(page, 'signin-wrong-token');
  });

  it('signs in, keeps the token in sessionStorage only, and shows every budget with the API numbers', async () => {
    await page.fill('input[name="token"]', ADMIN_TOKEN);
    await page.click('button[type="submit"]');
    await waitLoaded();
    const storage = await inPage(
      '({ session: Object.values(sessionStorage), local: localStorage.length, cookies: document.cookie })',
    );
    expect(storage).toEqual({ session: [ADMIN_TOKEN], local: 0, cookies: '' });

    const { budgets } = await admin<{ budgets: AdminBudget[] }>('GET', '/admin/budgets');
    expect(budgets.map((b) => b.id).sort()).toEqual(
      ['data-prepaid', 'everything', 'ml-daily', 'ops-tiny', 'per-user-daily', 'web-monthly'].sort(),
    );
    expect(await page.locator('[data-budget]').count()).toBe(budgets.length);
    for (const budget of budgets) {
      const row = `.budget-list [data-budget="${budget.id}"]`;
      if (budget.balance) {
        for (const field of ['spent', 'reserved', 'remaining', 'limit'] as const) {
          expect(await text(`${row} [data-field="${field}"]`), `${budget.id} ${field}`).toBe(
            formatUsd(budget.balance[`${field}_usd`]),
          );
        }
      } else {
        expect(budget.template).toBe(true);
        expect(await text(`${row} [data-field="count"]`)).toBe(String(budget.instances?.count));
        expect(await text(`${row} [data-field="spent"]`)).toBe(formatUsd(budget.instances?.spent_usd));
        for (const spender of budget.instances?.top_spenders ?? []) {
          expect(await text(`${row} [data-instance="${spender.instance}"] [data-field="spent"]`)).toBe(
            formatUsd(spender.spent_usd),
          );
        }
      }
    }
    const template = budgets.find((b) => b.id === 'per-user-daily');
    expect(template?.instances?.count).toBe(3); // alice, bob, carol

    // What each key sees of itself (/v1/budget) is what the console shows.
    for (const key of [TEST_KEY, TEST_KEY_2, DELTA_KEY]) {
      const mine = await selfService<{ budgets: BudgetLine[] }>(key, '/v1/budget');
      expect(mine.budgets.length).toBeGreaterThan(0);
      for (const line of mine.budgets) {
        if (line.instance && line.instance !== line.id) {
          const cell = `[data-budget="${line.id}"] [data-instance="${line.instance}"] [data-field="spent"]`;
          expect(await text(cell), line.instance).toBe(formatUsd(line.spent_usd));
        } else {
          const row = `.budget-list [data-budget="${line.id}"]`;
          expect(await text(`${row} [data-field="spent"]`), line.id).toBe(formatUsd(line.spent_usd));
          expect(await text(`${row} [data-field="remaining"]`), line.id).toBe(formatUsd(line.remaining_usd));
          expect(await text(`${row} [data-field="limit"]`), line.id).toBe(formatUsd(line.limit_usd));
        }
      }
    }
    expect(await text('[data-budget="web-monthly"] [data-field="state"]')).toBe('ok');
    expect(await text('[data-budget="ml-daily"] [data-field="state"]')).toBe('downgrading');
    expect(await text('[data-budget="data-prepaid"] [data-field="resets"]')).toMatch(/never resets/);
    expect(await text('[data-budget="web-monthly"] [data-field="resets"]')).toMatch(/^Resets /);
    expect(await text('[data-budget="web-monthly"] [data-field="forecast"]')).toMatch(
      /^Forecast at period end \$/,
    );
    expect(await page.locator('[data-budget="web-monthly"] .bar .mark').count()).toBe(2);
    await screenshot(page, 'budgets');

    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot(page, 'budgets-phone');
    const overflow = await inPage<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('tops up a prepaid budget and resets it, each after a confirmation', async () => {
    const row = '.budget-list [data-budget="data-prepaid"]';
    const before = await admin<AdminBudget>('GET', '/admin/budgets/data-prepaid');
    expect(before.balance?.spent_usd).toBeGreaterThan(0);

    await page.click(`${row} button:has-text("Top up")`);
    await page.fill('dialog input[name="value"]', '2.5');
    await screenshot(page, 'budgets-topup-dialog');
    await page.click('dialog button[type="submit"]');
    await page.waitForSelector(`${row} [data-field="limit"]:text-is("${formatUsd(3.5)}")`);
    const toppedUp = await admin<AdminBudget>('GET', '/admin/budgets/data-prepaid');
    expect(toppedUp.balance?.limit_usd).toBe(3.5);
    expect(toppedUp.balance?.spent_usd).toBe(before.balance?.spent_usd);

    // Cancelling changes nothing.
    await page.click(`${row} button:has-text("Reset")`);
    await page.click('dialog button:has-text("Cancel")');
    expect((await admin<AdminBudget>('GET', '/admin/budgets/data-prepaid')).balance?.spent_usd).toBe(
      before.balance?.spent_usd,
    );

    await page.click(`${row} button:has-text("Reset")`);
    await page.click('dialog button[type="submit"]');
    await page.waitForSelector(`${row} [data-field="spent"]:text-is("$0.00")`);
    // One reset went out: the cancelled dialog sent nothing.
    const resets = await inPage<number>(
      `performance.getEntriesByType('resource').filter((e) => e.name.endsWith('/data-prepaid/reset')).length`,
    );
    expect(resets).toBe(1);
    expect((await admin<AdminBudget>('GET', '/admin/budgets/data-prepaid')).balance?.spent_usd).toBe(0);
  });

  it('charts spend over time from /admin/usage with the suggestions beside it', async () => {
    await openView('spend');
    await page.waitForSelector('[data-field="chart"] canvas');
    const to = new Date();
    const from = new Date(to.getTime() - 24 * 3_600_000);
    const usage = await admin<unknown>(
      'GET',
      `/admin/usage?from=${from.toISOString()}&to=${to.toISOString()}&group_by=model&bucket=hour`,
    );
    const rows = usageRows(usage, 'model');
    expect(new Set(rows.map((r) => r.group))).toEqual(new Set(['gpt-4o', 'gpt-4o-mini', 'claude-haiku-4-5']));
    const total = rows.reduce((sum, r) => sum + r.costUsd, 0);
    expect(await text('[data-field="total"]')).toContain(formatUsd(total));
    // One band per model in the legend.
    const groups = () =>
      page
        .locator('[data-field="legend"] [data-group]')
        .evaluateAll((els) => els.map((e) => e.getAttribute('data-group')));
    expect((await groups()).sort()).toEqual(['claude-haiku-4-5', 'gpt-4o', 'gpt-4o-mini']);
    const { suggestions } = await admin<{ suggestions: { message: string; savings_usd: number }[] }>(
      'GET',
      '/admin/suggestions',
    );
    expect(suggestions.length).toBeGreaterThan(0);
    const panel = await text('[data-field="suggestions"]');
    for (const suggestion of suggestions) {
      expect(panel).toContain(suggestion.message);
      expect(panel).toContain(formatUsd(suggestion.savings_usd));
    }
    await page.selectOption('select[name="group_by"]', 'team');
    await eventually(async () => expect((await groups()).sort()).toEqual(['data', 'ml', 'web']));
    await screenshot(page, 'spend');
  });

  it('lists alerts and anomalies, newest first', async () => {
    await openView('alerts');
    // Alerts may still arrive (forecasts run in the background): compare until the page's next
    // refresh has caught up with the API.
    await eventually(async () => {
      const { alerts } = await admin<{ alerts: { type: string; time: string; message: string }[] }>(
        'GET',
        '/admin/alerts',
      );
      expect(alerts.length).toBeGreaterThan(0);
      const shown = await page.locator('[data-field="alerts"] .event').allInnerTexts();
      expect(shown.length).toBe(alerts.length);
      const newestFirst = [...alerts].sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
      newestFirst.forEach((alert, i) => {
        expect(shown[i]).toContain(alert.message);
      });
      expect(shown.join('\n')).toContain('ml-daily');
    }, 15_000);
    await page.locator('[data-field="anomalies"]').waitFor();
    await screenshot(page, 'alerts');
  });

  it('creates a key (secret shown once), which works with the SDK until it is revoked', async () => {
    await openView('keys');
    await page.fill('input[name="id"]', 'console-made');
    await page.fill('input[name="team"]', 'web');
    await page.click('form button[type="submit"]');
    const secret = (await page.locator('[data-field="secret"]').textContent()) ?? '';
    expect(secret).toMatch(/^sk-gw-/);
    await page.waitForSelector('[data-key="console-made"]');
    await screenshot(page, 'keys-created');

    const client = new OpenAI({ apiKey: secret, baseURL: `${stack.gateway.url}/v1`, maxRetries: 0 });
    const reply = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Hello from a console-made key' }],
      max_tokens: 20,
    });
    expect(reply.choices[0]?.message.content).toBeTruthy();
    expect(stack.records.at(-1)?.keyId).toBe('console-made');
    // The secret is never shown again: not by the API, not after a refresh of the view.
    const listed = await admin<{ keys: unknown[] }>('GET', '/admin/keys');
    expect(JSON.stringify(listed)).not.toContain(secret);
    await page.click('[data-field="secret"] ~ button:has-text("Done")');
    expect(await page.content()).not.toContain(secret);

    await page.click('[data-key="console-made"] button:has-text("Revoke")');
    await page.click('dialog button[type="submit"]');
    await page.waitForSelector('[data-key="console-made"]', { state: 'detached' });
    await eventually(async () => {
      const refused = await client.chat.completions
        .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'again' }], max_tokens: 5 })
        .then(
          () => null,
          (error: unknown) => error,
        );
      expect(refused).toBeInstanceOf(OpenAI.AuthenticationError);
      expect((refused as InstanceType<typeof OpenAI.AuthenticationError>).status).toBe(401);
    });
    await screenshot(page, 'keys');
  });

  it('previews a request: the same estimate as /v1/cost/estimate; passed, downgraded, rejected', async () => {
    await openView('preview');
    const compose = async (key: string, model: string, maxTokens: string) => {
      await page.selectOption('select[name="key_id"]', key);
      await page.fill('input[name="model"]', model);
      await page.fill('input[name="max_tokens"]', maxTokens);
      await page.locator('textarea[name="content"]').nth(1).fill('How much will this question cost me?');
      await page.click('form button:has-text("Estimate")');
    };
    const verdictAfter = async (previous: string | null) => {
      // The answer replaces the result; its exact amount (title) differs from the previous one.
      const changed = previous === null ? '' : `:not([title="${previous}"])`;
      await page.waitForSelector(`[data-field="estimate"]${changed}`);
      return text('[data-field="verdict"]');
    };

    await compose('alpha', 'gpt-4o', '300');
    expect(await verdictAfter(null)).toBe('passed');
    const expected = await selfService<{ estimated_usd: number; budgets: BudgetLine[] }>(
      TEST_KEY,
      '/v1/cost/estimate',
      {
        model: 'gpt-4o',
        max_tokens: 300,
        messages: [
          { role: 'system', content: 'You are a helpful assistant.' },
          { role: 'user', content: 'How much will this question cost me?' },
        ],
      },
    );
    expect(await text('[data-field="estimate"]')).toBe(formatUsd(expected.estimated_usd));
    const touched = await page
      .locator('[data-field="result"] [data-budget]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-budget')));
    expect(touched.sort()).toEqual(expected.budgets.map((b) => b.instance ?? b.id).sort());
    await screenshot(page, 'preview');

    const passedTitle = await page.locator('[data-field="estimate"]').getAttribute('title');
    await compose('delta', 'gpt-4o', '300');
    expect(await verdictAfter(passedTitle)).toBe('downgraded');
    expect(await text('[data-field="reason"]')).toContain('gpt-4o-mini');

    const downgradedTitle = await page.locator('[data-field="estimate"]').getAttribute('title');
    await compose('charlie', 'gpt-4o', '1000');
    expect(await verdictAfter(downgradedTitle)).toBe('rejected');
    expect(await text('[data-field="reason"]')).toContain('ops-tiny');
    await screenshot(page, 'preview-rejected');

    // Nothing was reserved by any preview.
    const { budgets } = await admin<{ budgets: AdminBudget[] }>('GET', '/admin/budgets');
    for (const b of budgets) expect(b.balance?.reserved_usd ?? 0, b.id).toBe(0);
  });

  it('refreshes every few seconds while visible and pauses in a hidden tab', async () => {
    await page.goto(`${stack.gateway.url}/console/?refresh=500#budgets`);
    await waitLoaded();
    // The page's own record of when each /admin/budgets fetch started (resource timing), so a
    // slow machine delivering browser events late cannot blur the count.
    const startsAfter = (since: number) =>
      inPage<number>(
        `performance.getEntriesByType('resource')
          .filter((e) => e.name.endsWith('/admin/budgets') && e.startTime > ${since}).length`,
      );
    await eventually(async () => expect(await startsAfter(0)).toBeGreaterThanOrEqual(3), 10_000);

    const setVisibility = (state: 'hidden' | 'visible') =>
      inPage<number>(
        `Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => '${state}' });
         document.dispatchEvent(new Event('visibilitychange'));
         performance.now()`,
      );
    const hiddenAt = await setVisibility('hidden');
    // Four refresh intervals, and time for a fetch that was on the wire to finish and be recorded.
    await page.waitForTimeout(2000);
    expect(await startsAfter(hiddenAt)).toBe(0);

    const visibleAt = await setVisibility('visible');
    await eventually(async () => expect(await startsAfter(visibleAt)).toBeGreaterThan(0), 5000);
  });

  it('loaded nothing from outside the gateway and threw no script errors', () => {
    expect(foreignRequests).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
