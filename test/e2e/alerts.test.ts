/**
 * Alerts end to end: gateways (two instances on one SQLite file) raise threshold, exhausted and
 * forecast alerts while serving real SDK requests, and a real node:http receiver gets each exactly
 * once, signed; a receiver that is down gets it once it is up; one that hangs costs requests nothing.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { verifySignature } from '../../src/alerts/signature.js';
import { admin, chat } from '../controls/helpers.js';
import { ofType, type Receiver, startReceiver } from '../controls/receiver.js';
import { freePort } from '../helpers/ports.js';
import { eventually, type Stack, type StackOptions, startStack, TEST_KEY_2 } from '../helpers/stack.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function stack(options: StackOptions): Promise<Stack> {
  const s = await startStack(options);
  cleanups.push(() => s.close());
  return s;
}

async function receiver(options?: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const r = await startReceiver(options);
  cleanups.push(() => r.close());
  return r;
}

/** Two gateways on one SQLite file and one mock provider. */
async function twoInstances(extraYaml: string, clock?: () => number): Promise<[Stack, Stack]> {
  const a = await stack({ extraYaml, clock });
  const b = await stack({
    extraYaml,
    clock,
    mockProvider: a.mock,
    store: { type: 'sqlite', path: join(a.dir, 'gateway.db') },
  });
  return [a, b];
}

async function adminAlerts(s: Stack, query = '') {
  const response = await admin(s, `/admin/alerts${query}`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { alerts: Array<Record<string, unknown>> }).alerts;
}

describe('alerts end to end', () => {
  it('two instances crossing thresholds together deliver each alert exactly once', async () => {
    const hook = await receiver();
    const [a, b] = await twoInstances(`
budgets:
  - id: web-monthly
    scope: { team: web }
    limit_usd: 0.01
    period: monthly
    thresholds: [{ at: 0.2 }, { at: 0.4 }, { at: 0.6 }, { at: 0.8 }]
alerts:
  webhooks: [{ url: "${hook.url}", secret: "e2e-secret" }]
`);
    // ~$0.001 each; 9 of them, all at once, split over both instances: every threshold crossed once.
    await Promise.all(
      Array.from({ length: 9 }, (_, i) =>
        chat((i % 2 ? a : b).openai(), 'gpt-4o', { maxTokens: 100, outputTokens: 100 }),
      ),
    );
    await Promise.all([a.gateway.alerts.idle(), b.gateway.alerts.idle()]);
    const thresholds = ofType(hook, 'threshold');
    expect(thresholds.map((r) => r.body.at).sort()).toEqual([0.2, 0.4, 0.6, 0.8]);
    expect(new Set(thresholds.map((r) => r.body.id)).size).toBe(4);
    for (const r of thresholds) {
      expect(verifySignature(r.raw, 'e2e-secret', r.headers['x-gateway-signature'])).toBe(true);
      expect(r.body).toMatchObject({ budget_id: 'web-monthly', instance: 'web-monthly', limit_usd: 0.01 });
      expect(r.body.spent_usd as number).toBeGreaterThanOrEqual((r.body.at as number) * 0.01);
      expect(r.body.text).toEqual(expect.stringContaining('web-monthly passed'));
    }
    // Each instance lists the ones it raised; together, all four, none twice.
    const listed = [...(await adminAlerts(a)), ...(await adminAlerts(b))];
    expect(listed.map((x) => x.id).sort()).toEqual(thresholds.map((r) => r.body.id).sort());
    expect(listed.every((x) => (x.deliveries as Array<{ status: string }>)[0]?.status === 'delivered')).toBe(
      true,
    );

    // Spending the rest: one exhausted alert, from whichever instance got there.
    for (let i = 0; i < 4; i++) {
      await chat((i % 2 ? a : b).openai(), 'gpt-4o', { maxTokens: 300, outputTokens: 300 }).catch(
        () => undefined,
      );
    }
    await Promise.all([a.gateway.alerts.idle(), b.gateway.alerts.idle()]);
    await eventually(() => expect(ofType(hook, 'exhausted')).toHaveLength(1));
    expect(ofType(hook, 'threshold')).toHaveLength(4);
    const metrics =
      (await (await fetch(`${a.gateway.url}/metrics`)).text()) +
      (await (await fetch(`${b.gateway.url}/metrics`)).text());
    const raised = [...metrics.matchAll(/^llm_gateway_alerts_total\{type="threshold"\} (\d+)/gm)].map((m) =>
      Number(m[1]),
    );
    expect(raised.reduce((x, y) => x + y, 0)).toBe(4);
  });

  it('raises a forecast alert once per period across instances, when the burn rate runs out early', async () => {
    const hook = await receiver();
    // The gateways start at ten and watch two quiet hours (no forecast before an hour of them).
    let now = Date.UTC(2026, 10, 20, 10, 0, 0);
    const [a, b] = await twoInstances(
      `
budgets:
  - { id: web-daily, scope: { team: web }, limit_usd: 0.01, period: daily }
alerts:
  webhooks: [{ url: "${hook.url}", events: [forecast] }]
`,
      () => now,
    );
    // Noon: half of the day has passed. 10% spent by noon projects 20%: no forecast.
    now = Date.UTC(2026, 10, 20, 12, 0, 0);
    await chat(b.openai(), 'gpt-4o', { maxTokens: 100, outputTokens: 100 });
    now += 10_000;
    // 60% spent by noon projects 120%: instance A forecasts exhaustion before midnight.
    await chat(a.openai(), 'gpt-4o', { maxTokens: 500, outputTokens: 500 });
    now += 10_000;
    // Instance B now sees it too, but the store gave A the claim for this period.
    await chat(b.openai(), 'gpt-4o', { maxTokens: 50, outputTokens: 50 });
    await eventually(() => expect(ofType(hook, 'forecast')).toHaveLength(1));
    // Both watchers' claims answered, then both dispatchers' deliveries: nothing else is coming.
    await Promise.all([a.gateway.forecastWatch.idle(), b.gateway.forecastWatch.idle()]);
    await Promise.all([a.gateway.alerts.idle(), b.gateway.alerts.idle()]);
    expect(hook.received).toHaveLength(1);
    const forecast = hook.received[0]!.body;
    expect(forecast).toMatchObject({ type: 'forecast', budget_id: 'web-daily', period: '2026-11-20' });
    expect(forecast.projected_usd as number).toBeGreaterThan(0.01);
    const exhaustedAt = Date.parse(forecast.exhausted_at as string);
    expect(exhaustedAt).toBeGreaterThan(now - 20_000);
    expect(exhaustedAt).toBeLessThan(Date.UTC(2026, 10, 21));
    expect((await adminAlerts(a, '?type=forecast')).map((x) => x.id)).toEqual([forecast.id]);
    expect(await adminAlerts(b, '?type=forecast')).toEqual([]);
  });

  it('delivers to a receiver that was down, once it is up', async () => {
    const port = await freePort();
    const s = await stack({
      extraYaml: `
budgets:
  - { id: web-monthly, scope: { team: web }, limit_usd: 0.01, thresholds: [{ at: 0.1 }] }
alerts:
  webhooks: [{ url: "http://127.0.0.1:${port}/hook" }]
  delivery: { backoff_ms: 50, max_backoff_ms: 200, max_attempts: 100 }
`,
    });
    await chat(s.openai(), 'gpt-4o', { maxTokens: 200, outputTokens: 200 });
    await eventually(async () => {
      const [alert] = await adminAlerts(s);
      const deliveries = (alert?.deliveries ?? []) as Array<{ status: string; attempts: number }>;
      expect(deliveries).toHaveLength(1);
      expect(deliveries[0]?.status).toBe('pending');
      expect(deliveries[0]?.attempts).toBeGreaterThanOrEqual(2);
    });
    const hook = await receiver({ port });
    await eventually(() => expect(hook.received).toHaveLength(1));
    const [alert] = await adminAlerts(s);
    expect(alert?.deliveries).toEqual([expect.objectContaining({ status: 'delivered', last_error: null })]);
    expect(hook.received[0]!.body.id).toBe(alert?.id);
    await s.gateway.alerts.idle();
    expect(hook.received).toHaveLength(1);
    // The receiver's URL (which may hold a token) is not shown by the admin API.
    expect(JSON.stringify(alert)).not.toContain(String(port));
  });

  it('a receiver that hangs does not slow the requests down', async () => {
    const healthyHook = await receiver();
    const hangingHook = await receiver({ mode: { kind: 'hang' } });
    // A per-user budget with a tiny threshold: every new user's first request raises an alert.
    const config = (url: string) => `
budgets:
  - { id: per-user, scope: { user: "*" }, limit_usd: 1, period: daily, thresholds: [{ at: 0.000001 }] }
alerts:
  webhooks: [{ url: "${url}" }]
  delivery: { timeout_ms: 20000, max_attempts: 1 }
`;
    const healthy = await stack({ extraYaml: config(healthyHook.url) });
    const hanging = await stack({ extraYaml: config(hangingHook.url), mockProvider: healthy.mock });
    const time = async (s: Stack, user: string): Promise<number> => {
      const started = performance.now();
      const { headers } = await chat(s.openai(TEST_KEY_2), 'gpt-4o-mini', { maxTokens: 20, user });
      expect(headers.get('x-gateway-cost-usd')).not.toBeNull();
      return performance.now() - started;
    };
    for (let i = 0; i < 3; i++) {
      await time(healthy, `warmup-${i}`);
      await time(hanging, `warmup-${i}`);
    }
    // Alternating, so whatever else the machine does weighs on both alike.
    const times = { healthy: [] as number[], hanging: [] as number[] };
    for (let i = 0; i < 12; i++) {
      times.healthy.push(await time(healthy, `user-${i}`));
      times.hanging.push(await time(hanging, `user-${i}`));
    }
    // Every request raised an alert: delivered on one side, hanging on the other.
    await eventually(() => expect(healthyHook.received).toHaveLength(15));
    await eventually(() => expect(hangingHook.received.length).toBeGreaterThanOrEqual(2));
    expect(hangingHook.hanging()).toBeGreaterThan(0);
    expect(hanging.gateway.alerts.pendingDeliveries).toBe(15);
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    // Generous: the same order of magnitude, and never anywhere near the receiver's 20 s timeout.
    expect(median(times.hanging)).toBeLessThan(median(times.healthy) * 3 + 100);
    expect(Math.max(...times.hanging)).toBeLessThan(5000);
  });
});
