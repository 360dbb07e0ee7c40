/**
 * Anomalies end to end, on SQLite and a real Redis: two days of hourly history recorded through the
 * gateway's recorder, then a spike; /admin/anomalies scores it, each new anomaly raises one alert
 * (once across instances sharing the store), quiet keys never do. And an empty history.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOUR, requestRecord, USD } from '../../test/analytics/fixtures.js';
import { type StartedRedis, startRedis } from '../../test/helpers/redis.js';
import { ADMIN_TOKEN, type Stack, startStack } from '../../test/helpers/stack.js';

const NOW = Date.UTC(2030, 2, 15, 10, 30);
const CURRENT_HOUR = Date.UTC(2030, 2, 15, 10);
const EXTRA_YAML = `
budgets:
  - { id: ops-monthly, scope: { team: ops }, limit_usd: 100000, period: monthly }
  - { id: per-user-daily, scope: { user: "*" }, limit_usd: 5, period: daily }
`;

let redis: StartedRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.close();
});

const stores = [
  {
    name: 'sqlite',
    store: (dir?: string) => ({ type: 'sqlite' as const, path: dir ? `${dir}/gateway.db` : undefined }),
  },
  { name: 'redis', store: () => ({ type: 'redis' as const, url: redis.url, prefix: 'anomalies' }) },
];

async function get(stack: Stack, path: string): Promise<any> {
  const res = await fetch(`${stack.gateway.url}${path}`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  expect(res.status).toBe(200);
  return res.json();
}

describe.each(stores)('anomalies on $name', ({ store }) => {
  let stack: Stack;
  let second: Stack | undefined;

  beforeAll(async () => {
    stack = await startStack({ store: store(), clock: () => NOW, extraYaml: EXTRA_YAML });
    const record = (hourMs: number, keyId: string, team: string | null, usd: number) =>
      stack.gateway.analytics.record(
        requestRecord({
          timeMs: hourMs + 5 * 60_000,
          keyId,
          team,
          user: null,
          costNano: Math.round(usd * USD),
        }),
      );
    // 48 hours of history: "batch" (team ops) spends $2 an hour, "quiet" a cent.
    for (let h = 48; h >= 1; h--) {
      record(CURRENT_HOUR - h * HOUR, 'batch', 'ops', 2);
      record(CURRENT_HOUR - h * HOUR, 'quiet', null, 0.01);
    }
    // This hour: batch jumps to $40, quiet to 50 cents, and "fresh", never seen before, spends $5.
    record(CURRENT_HOUR, 'batch', 'ops', 40);
    record(CURRENT_HOUR, 'quiet', null, 0.5);
    record(CURRENT_HOUR, 'fresh', null, 5);
    await stack.gateway.analytics.flush();
  });

  afterAll(async () => {
    await second?.close();
    await stack?.close();
  });

  it('scores the last 60 minutes against the week before with median and MAD', async () => {
    const body = await get(stack, '/admin/anomalies?all=true');
    expect(body).toMatchObject({
      min_volume_usd: 1,
      threshold: 6,
      window: { end: '2030-03-15T10:30:00.000Z' },
    });
    // Last 60 minutes = this hour + half of the previous one: 40 + 2/2 = $41. Baseline: 47 hours
    // at $2 (history began 48 hours ago), MAD 0, so the scale is 10% of the median: (41 - 2) / 0.2.
    expect(body.anomalies).toEqual([
      expect.objectContaining({ subject: 'budget', id: 'ops-monthly', last_hour_usd: 41, score: 195 }),
      expect.objectContaining({
        subject: 'key',
        id: 'batch',
        last_hour_usd: 41,
        baseline_median_usd: 2,
        score: 195,
      }),
      // From a baseline of zeros, $5 is five minimum volumes: score 5 / (1 / 6).
      expect.objectContaining({
        subject: 'key',
        id: 'fresh',
        last_hour_usd: 5,
        baseline_hours: 47,
        score: 30,
      }),
    ]);
    // Twenty times its usual cent, and still quiet: never an anomaly.
    const quiet = body.findings.find((f: any) => f.id === 'quiet');
    expect(quiet).toMatchObject({ anomalous: false, reason: 'low_volume', last_hour_usd: 0.505 });
    // "*" budgets are watched through their keys, not one check per user.
    expect(body.findings.some((f: any) => f.id === 'per-user-daily')).toBe(false);
  });

  it('each new anomaly raises one alert, once across instances sharing the store', async () => {
    await stack.gateway.analytics.refresh();
    const alerts = await get(stack, '/admin/alerts?type=anomaly');
    expect(alerts.alerts.map((a: any) => a.details.id).sort()).toEqual(['batch', 'fresh', 'ops-monthly']);
    const batch = alerts.alerts.find((a: any) => a.details.id === 'batch');
    expect(batch.text).toContain('key batch: $41.00 in the last hour');
    expect(batch.details).toMatchObject({ subject: 'key', last_hour_usd: 41, score: 195 });
    const budget = alerts.alerts.find((a: any) => a.details.id === 'ops-monthly');
    expect(budget.budget_id).toBe('ops-monthly');

    // The same anomalies on the next pass are not new.
    await stack.gateway.analytics.refresh();
    expect((await get(stack, '/admin/alerts?type=anomaly')).alerts).toHaveLength(3);

    // Another instance on the same store sees them too, and raises nothing: the first one claimed them.
    second = await startStack({
      store: store(stack.dir),
      clock: () => NOW,
      extraYaml: EXTRA_YAML,
      mockProvider: stack.mock,
    });
    expect((await get(second, '/admin/anomalies')).anomalies).toHaveLength(3);
    await second.gateway.analytics.refresh();
    expect((await get(second, '/admin/alerts?type=anomaly')).alerts).toEqual([]);
  });
});

describe('an empty history', () => {
  it('has no anomalies, no forecast in its first hour, then a linear one', async () => {
    let now = NOW;
    const stack = await startStack({ clock: () => now, extraYaml: EXTRA_YAML });
    try {
      const anomalies = await get(stack, '/admin/anomalies?all=true');
      expect(anomalies.anomalies).toEqual([]);
      expect(anomalies.findings).toEqual([
        expect.objectContaining({ id: 'ops-monthly', reason: 'short_history' }),
      ]);
      // Just started: too little observed history to forecast from.
      expect((await get(stack, '/admin/forecast')).budgets).toEqual([
        expect.objectContaining({
          budget_id: 'ops-monthly',
          spent_usd: 0,
          projected_usd: null,
          exhausted_at: null,
        }),
      ]);
      now += 3_600_000;
      const forecast = await get(stack, '/admin/forecast');
      expect(forecast.budgets).toEqual([
        expect.objectContaining({
          budget_id: 'ops-monthly',
          method: 'linear',
          spent_usd: 0,
          projected_usd: 0,
        }),
      ]);
      expect((await get(stack, '/admin/usage')).rows).toEqual([]);
      expect((await get(stack, '/admin/suggestions')).suggestions).toEqual([]);
      const csv = await (
        await fetch(`${stack.gateway.url}/admin/requests?format=csv`, {
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        })
      ).text();
      expect(csv.split('\r\n')).toEqual([expect.stringMatching(/^time,time_ms,request_id,/), '']);
    } finally {
      await stack.close();
    }
  });
});
