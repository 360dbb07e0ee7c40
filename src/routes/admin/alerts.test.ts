/**
 * GET /admin/alerts: behind the admin token, newest first, ?limit and ?type, bounded by
 * alerts.history, documented for /admin/openapi.json; anomalies raised by other modules show up too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, chat } from '../../../test/controls/helpers.js';
import { type Stack, startStack } from '../../../test/helpers/stack.js';
import { listAlerts } from './alerts.js';
import { adminRoutes } from './index.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    extraYaml: `
budgets:
  - { id: web-monthly, scope: { team: web }, limit_usd: 0.01, thresholds: [{ at: 0.1 }, { at: 0.2, alert: false }] }
alerts:
  history: 4
`,
  });
});
afterAll(async () => {
  await stack?.close();
});

async function list(query = ''): Promise<Array<Record<string, any>>> {
  const response = await admin(stack, `/admin/alerts${query}`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { alerts: Array<Record<string, any>> }).alerts;
}

describe('GET /admin/alerts', () => {
  it('needs the admin token', async () => {
    expect((await fetch(`${stack.gateway.url}/admin/alerts`)).status).toBe(401);
    const wrong = await fetch(`${stack.gateway.url}/admin/alerts`, {
      headers: { authorization: 'Bearer nope' },
    });
    expect(wrong.status).toBe(401);
  });

  it('lists the alerts raised here, newest first, with ?limit and ?type', async () => {
    expect(await list()).toEqual([]);
    // A real threshold alert (10%) from spend; the 20% threshold has alert: false.
    await chat(stack.openai(), 'gpt-4o', { maxTokens: 300, outputTokens: 300 });
    const [threshold] = await list();
    expect(threshold).toMatchObject({ type: 'threshold', budget_id: 'web-monthly', at: 0.1, deliveries: [] });
    // Anomalies, as the admin analytics raise them.
    for (let i = 1; i <= 3; i++) {
      stack.gateway.alerts.emit({
        type: 'anomaly',
        budgetId: 'web-monthly',
        timeMs: Date.now(),
        message: `Spend rate ${i * 5}x the budget's baseline.`,
        details: { rate_ratio: i * 5 },
      });
    }
    const all = await list();
    expect(all.map((a) => a.type)).toEqual(['anomaly', 'anomaly', 'anomaly', 'threshold']);
    expect(all[0]).toMatchObject({
      details: { rate_ratio: 15 },
      message: "Spend rate 15x the budget's baseline.",
    });
    expect(all[0]?.text).toContain("Spend rate 15x the budget's baseline.");
    expect((await list('?limit=2')).map((a) => a.details?.rate_ratio)).toEqual([15, 10]);
    expect((await list('?type=threshold')).map((a) => a.id)).toEqual([threshold?.id]);
    expect(await list('?type=forecast')).toEqual([]);
    // alerts.history: 4 — one more pushes the oldest out.
    stack.gateway.alerts.emit({ type: 'anomaly', budgetId: 'web-monthly', timeMs: Date.now() });
    expect((await list()).map((a) => a.type)).toEqual(['anomaly', 'anomaly', 'anomaly', 'anomaly']);
  });

  it('answers 400 naming a malformed parameter', async () => {
    for (const [query, param] of [
      ['?limit=0', 'limit'],
      ['?limit=abc', 'limit'],
      ['?limit=1.5', 'limit'],
      ['?limit=100000', 'limit'],
      ['?type=panic', 'type'],
    ] as const) {
      const response = await admin(stack, `/admin/alerts${query}`);
      expect(response.status, query).toBe(400);
      const body = (await response.json()) as { error: { param: string; message: string } };
      expect(body.error.param).toBe(param);
      expect(body.error.message).toMatch(new RegExp(`^${param}: `));
    }
  });

  it('is documented for /admin/openapi.json', () => {
    expect(adminRoutes).toContain(listAlerts);
    const doc = listAlerts.doc;
    expect(doc?.query).toBeDefined();
    expect(doc?.response).toBeDefined();
    expect(doc?.summary).toMatch(/per instance/i);
  });
});
