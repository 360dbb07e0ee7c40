/**
 * The admin analytics end to end, on SQLite, on a real Redis, and with the history in a real
 * Postgres 15 (budgets on SQLite, then on Redis): real requests through the gateway
 * (official OpenAI client, mock provider) at controlled times, recorded in the background, then
 * read back through /admin/usage, /admin/requests, /admin/forecast, /admin/suggestions, /v1/budget
 * and the exhaustion-ETA gauge. The expected figures come from the request records themselves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOUR, parseCsv } from '../../../../test/analytics/fixtures.js';
import { type StartedPostgres, startPostgres } from '../../../../test/helpers/postgres.js';
import { type StartedRedis, startRedis } from '../../../../test/helpers/redis.js';
import {
  ADMIN_TOKEN,
  ANTHROPIC_UPSTREAM_KEY,
  OPENAI_UPSTREAM_KEY,
  type Stack,
  startStack,
  TEST_KEY,
  TEST_KEY_2,
} from '../../../../test/helpers/stack.js';
import { formatUsd } from '../../../money.js';
import type { RequestRecord } from '../../../record.js';

const DAY_START = Date.UTC(2030, 2, 15);
const NOW = DAY_START + 10.5 * HOUR; // 10:30 UTC
const MONTH_END = Date.UTC(2030, 3, 1);
const LIMIT = 9_000_000; // $0.009 per day: runs out this afternoon at this pace
const USERS = { comma: 'O\'Brien, "Bob"', formula: '=HYPERLINK("x")' };

const EXTRA_YAML = `
budgets:
  - { id: web-monthly, scope: { team: web }, limit_usd: 50, period: monthly }
  - { id: per-user-daily, scope: { user: "*" }, limit_usd: 0.009, period: daily }
  - { id: alpha-daily, scope: { key: alpha }, limit_usd: 0.009, period: daily }
alternatives: { gpt-4o: [gpt-4o-mini] }
`;

let redis: StartedRedis;
let postgres: StartedPostgres;
beforeAll(async () => {
  [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
});
afterAll(async () => {
  await Promise.all([redis?.close(), postgres?.close()]);
});

const postgresHistory = async () => `history: { store: postgres, url: "${await postgres.createDatabase()}" }`;
const stores = [
  { name: 'sqlite', store: () => ({ type: 'sqlite' as const }), history: async () => '' },
  {
    name: 'redis',
    store: () => ({ type: 'redis' as const, url: redis.url, prefix: 'routes' }),
    history: async () => '',
  },
  { name: 'sqlite, postgres history', store: () => ({ type: 'sqlite' as const }), history: postgresHistory },
  {
    name: 'redis, postgres history',
    store: () => ({ type: 'redis' as const, url: redis.url, prefix: 'routes-pg' }),
    history: postgresHistory,
  },
];

describe.each(stores)('admin analytics on $name', ({ store, history }) => {
  let stack: Stack;
  let now = DAY_START;
  /** Records of this scenario, as the pipeline reported them. */
  let records: RequestRecord[];
  /** Cost of one alpha request (all alike: same prompt, 50 output tokens). */
  let c: number;

  const admin = (path: string, token: string | null = ADMIN_TOKEN) =>
    fetch(`${stack.gateway.url}${path}`, {
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
    });
  const json = async (path: string) => {
    const res = await admin(path);
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as any;
  };

  beforeAll(async () => {
    stack = await startStack({
      store: store(),
      clock: () => now,
      extraYaml: `${EXTRA_YAML}\n${await history()}`,
      mock: { outputTokens: 50 },
    });
    const alpha = stack.openai(TEST_KEY);
    const ask = (client = alpha, model = 'gpt-4o') =>
      client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 60 });
    // One request at five past each hour from midnight, and one in the current hour.
    for (let h = 0; h < 10; h++) {
      now = DAY_START + h * HOUR + 5 * 60_000;
      await ask();
    }
    now = DAY_START + 10 * HOUR + 10 * 60_000;
    await ask();
    for (const user of [USERS.comma, USERS.formula]) {
      await ask(stack.openai(TEST_KEY_2, { defaultHeaders: { 'x-gateway-user': user } }), 'gpt-4o-mini');
    }
    // bravo may not use gpt-4o: a 403 in the ledger, at no cost.
    await expect(ask(stack.openai(TEST_KEY_2), 'gpt-4o')).rejects.toMatchObject({ status: 403 });
    now = NOW;
    records = [...stack.records].sort((a, b) => a.timeMs - b.timeMs);
    const alphaCosts = records.filter((r) => r.keyId === 'alpha').map((r) => r.costNano);
    c = alphaCosts[0]!;
    expect(alphaCosts).toEqual(Array(11).fill(c));
    expect(c).toBeGreaterThan(0);
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('usage: hourly rows by model match the requests; totals match the ledger', async () => {
    const body = await json('/admin/usage?from=2030-03-15T00:00:00Z&to=2030-03-15T11:00:00Z&group_by=model');
    expect(body).toMatchObject({ bucket: 'hour', group_by: ['model'], from: '2030-03-15T00:00:00.000Z' });
    const expected = new Map<string, { requests: number; cost: number }>();
    for (const r of records) {
      const id = `${new Date(Math.floor(r.timeMs / HOUR) * HOUR).toISOString()} ${r.servedModel ?? r.requestedModel ?? ''}`;
      const e = expected.get(id) ?? { requests: 0, cost: 0 };
      expected.set(id, { requests: e.requests + 1, cost: e.cost + r.costNano });
    }
    const got = new Map<string, { requests: number; cost: number }>(
      body.rows.map((row: any) => [
        `${row.start} ${row.model}`,
        { requests: row.requests, cost: row.cost_nano },
      ]),
    );
    expect(got).toEqual(expected);
    expect(body.total.requests).toBe(records.length);
    expect(body.total.cost_nano).toBe(records.reduce((s, r) => s + r.costNano, 0));
    expect(body.total.errors).toBe(1);
    expect(body.total.output_tokens).toBe(records.reduce((s, r) => s + r.outputTokens, 0));
  });

  it('usage: day buckets by team, and the default range is the last 24 hours', async () => {
    const byTeam = await json(`/admin/usage?from=${DAY_START}&bucket=day&group_by=team,key`);
    const web = byTeam.rows.find((row: any) => row.team === 'web');
    expect(web).toMatchObject({
      start: '2030-03-15T00:00:00.000Z',
      key: 'alpha',
      requests: 11,
      cost_nano: 11 * c,
    });
    expect(byTeam.rows.filter((row: any) => row.team === 'data').map((row: any) => row.key)).toEqual([
      'bravo',
    ]);
    expect(byTeam.total.requests).toBe(records.length);
    const fallback = await json('/admin/usage');
    expect(fallback.total.requests).toBe(records.length);
    expect(fallback.to).toBe('2030-03-15T11:00:00.000Z');
  });

  it('requests: CSV and JSON lines round-trip, sum to the budget spent, and hold no secret', async () => {
    const range = 'from=2030-03-15T00:00:00Z&to=2030-03-16T00:00:00Z';
    const csvRes = await admin(`/admin/requests?${range}&format=csv`);
    expect(csvRes.headers.get('content-type')).toContain('text/csv');
    const csvText = await csvRes.text();
    const jsonlRes = await admin(`/admin/requests?${range}`);
    expect(jsonlRes.headers.get('content-type')).toContain('application/x-ndjson');
    const jsonlText = await jsonlRes.text();

    const [header, ...rows] = parseCsv(csvText);
    const lines = jsonlText
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(rows).toHaveLength(records.length);
    expect(lines.map((l) => l.request_id)).toEqual(records.map((r) => r.requestId));
    rows.forEach((cells, i) => {
      const csv = Object.fromEntries(header!.map((name, j) => [name, cells[j]]));
      const line = lines[i];
      for (const field of ['request_id', 'key_id', 'served_model', 'time', 'settlement', 'error_code']) {
        expect(csv[field]).toBe(line[field] === null ? '' : String(line[field]));
      }
      for (const field of ['input_tokens', 'output_tokens', 'cost_nano', 'status', 'latency_ms']) {
        expect(Number(csv[field])).toBe(line[field]);
      }
      expect(csv.cost_usd).toBe(formatUsd(line.cost_nano));
      expect(line.cost_usd).toBe(line.cost_nano / 1e9);
      // Spreadsheet formulas from request bodies are defused in CSV only.
      expect(csv.user).toBe(line.user === USERS.formula ? `'${USERS.formula}` : (line.user ?? ''));
    });
    expect(lines.map((l) => l.user)).toEqual(expect.arrayContaining([USERS.comma, USERS.formula]));
    expect(lines.find((l) => l.status === 403)).toMatchObject({ key_id: 'bravo', cost_nano: 0 });

    // Reconciliation: the ledger's cost for team web is exactly what web-monthly spent.
    const webLedger = lines.filter((l) => l.team === 'web').reduce((s, l) => s + l.cost_nano, 0);
    const budget = (await (
      await fetch(`${stack.gateway.url}/v1/budget`, { headers: { authorization: `Bearer ${TEST_KEY}` } })
    ).json()) as any;
    const webMonthly = budget.budgets.find((b: any) => b.id === 'web-monthly');
    expect(Math.round(webMonthly.spent_usd * 1e9)).toBe(webLedger);
    expect(webLedger).toBe(11 * c);

    for (const secret of [TEST_KEY, TEST_KEY_2, OPENAI_UPSTREAM_KEY, ANTHROPIC_UPSTREAM_KEY, ADMIN_TOKEN]) {
      expect(csvText).not.toContain(secret);
      expect(jsonlText).not.toContain(secret);
    }
  });

  it('requests: limit and filters', async () => {
    const limited = await (await admin('/admin/requests?from=2030-03-15T00:00:00Z&limit=5')).text();
    expect(
      limited
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l).request_id),
    ).toEqual(records.slice(0, 5).map((r) => r.requestId));
    const csv = parseCsv(
      await (await admin('/admin/requests?from=2030-03-15T00:00:00Z&format=csv&key=bravo')).text(),
    );
    expect(csv).toHaveLength(1 + 3);
    const mini = await (await admin('/admin/requests?from=2030-03-15T00:00:00Z&model=gpt-4o-mini')).text();
    expect(mini.trimEnd().split('\n')).toHaveLength(2);
  });

  it('forecast: EWMA burn rates from the hourly history, into /v1/budget and the ETA gauge', async () => {
    const budgetOf = async () => {
      const res = await fetch(`${stack.gateway.url}/v1/budget`, {
        headers: { authorization: `Bearer ${TEST_KEY}` },
      });
      return ((await res.json()) as any).budgets.find((b: any) => b.id === 'per-user-daily');
    };
    // Before the background pass: the linear rate over the 10.5 elapsed hours.
    const linear = await budgetOf();
    expect(linear.forecast.projected_usd * 1e9).toBeCloseTo(11 * c + (11 * c * 13.5) / 10.5, 0);

    await stack.gateway.analytics.refresh();
    const hourLeftOfDay = 13.5;
    const exhaustsAt = NOW + ((LIMIT - 11 * c) / c) * HOUR;

    const body = await json('/admin/forecast');
    const line = (id: string, instance?: string) =>
      body.budgets.find((b: any) => b.budget_id === id && b.instance === instance);
    // Ten complete hours at c each since midnight: the rate is c; spent 11c (one in the current hour).
    for (const daily of [line('per-user-daily', 'per-user-daily|user=alice'), line('alpha-daily')]) {
      expect(daily).toMatchObject({ method: 'ewma', period: '2030-03-15', spent_usd: (11 * c) / 1e9 });
      expect(daily.burn_rate_usd_per_hour * 1e9).toBeCloseTo(c, 3);
      expect(daily.projected_usd * 1e9).toBeCloseTo(11 * c + hourLeftOfDay * c, 0);
      expect(Date.parse(daily.exhausted_at)).toBeCloseTo(exhaustsAt, -1);
      expect(daily.exhaustion_eta_seconds).toBeCloseTo((exhaustsAt - NOW) / 1000, 1);
    }
    // The month so far: history began at midnight (the hours before are unknown, not quiet), so
    // the same ten hours at c.
    const monthlyRate = c;
    const monthly = line('web-monthly');
    expect(monthly.method).toBe('ewma');
    expect(monthly.burn_rate_usd_per_hour * 1e9).toBeCloseTo(monthlyRate, 3);
    expect(monthly.projected_usd * 1e9).toBeCloseTo(11 * c + (monthlyRate * (MONTH_END - NOW)) / HOUR, 0);
    expect(monthly.exhausted_at).toBeNull();
    expect(body.instances_total['per-user-daily']).toBe(3);

    // /v1/budget now projects with the history's rate, from the balance as it stands.
    const ewma = await budgetOf();
    expect(ewma.forecast.projected_usd * 1e9).toBeCloseTo(11 * c + hourLeftOfDay * c, 0);
    expect(Date.parse(ewma.forecast.exhausted_at)).toBeCloseTo(exhaustsAt, -1);

    // The gauge (through the metrics snapshot) and the in-memory ETA agree.
    expect(stack.gateway.analytics.exhaustionEtaSeconds().get('alpha-daily')).toBeCloseTo(
      (exhaustsAt - NOW) / 1000,
      1,
    );
    expect(stack.gateway.analytics.exhaustionEtaSeconds().get('web-monthly')).toBeNull();
    const metrics = await (await fetch(`${stack.gateway.url}/metrics`)).text();
    const gauge = /llm_gateway_budget_exhaustion_eta_seconds\{budget="alpha-daily"\} (\S+)/.exec(metrics);
    expect(Number(gauge?.[1])).toBeCloseTo((exhaustsAt - NOW) / 1000, 0);
  });

  it('suggestions: gpt-4o for short answers, priced on gpt-4o-mini', async () => {
    // Cents would hide these sub-cent savings: no minimum.
    const body = await json('/admin/suggestions?min_savings_usd=0');
    const alphaRecords = records.filter((r) => r.keyId === 'alpha');
    const input = alphaRecords.reduce((s, r) => s + r.inputTokens, 0);
    const output = alphaRecords.reduce((s, r) => s + r.outputTokens, 0);
    const miniNano = Math.ceil((input * 150_000 + output * 600_000) / 1000);
    expect(body.suggestions).toEqual([
      {
        team: 'web',
        model: 'gpt-4o',
        alternative: 'gpt-4o-mini',
        requests: 11,
        actual_usd: (11 * c) / 1e9,
        alternative_usd: miniNano / 1e9,
        savings_usd: (11 * c - miniNano) / 1e9,
        message: expect.stringMatching(
          /^team web spent \$0\.\d+ on gpt-4o for 11 requests with under 300 output tokens; gpt-4o-mini would have cost \$0\.\d+ \(saving \$0\.\d+\)$/,
        ),
      },
    ]);
    // A window before any traffic has nothing to suggest.
    expect(
      (await json('/admin/suggestions?from=2030-03-01T00:00:00Z&to=2030-03-02T00:00:00Z')).suggestions,
    ).toEqual([]);
  });

  it('anomalies: a steady, small spender is checked and not anomalous', async () => {
    const body = await json('/admin/anomalies?all=true');
    expect(body.anomalies).toEqual([]);
    const alphaKey = body.findings.find((f: any) => f.subject === 'key' && f.id === 'alpha');
    expect(alphaKey).toMatchObject({ anomalous: false, reason: 'low_volume', baseline_hours: 9 });
    expect(body.findings.map((f: any) => `${f.subject}:${f.id}`).sort()).toEqual([
      'budget:alpha-daily',
      'budget:web-monthly',
      'key:alpha',
      'key:bravo',
    ]);
  });

  it('bad parameters answer 400 naming the parameter', async () => {
    const cases: Array<[string, string]> = [
      ['/admin/usage?group_by=colour', 'group_by'],
      ['/admin/usage?from=yesterday', 'from'],
      ['/admin/usage?from=2030-03-15T10:00:00Z&to=2030-03-15T09:00:00Z', 'to'],
      ['/admin/usage?bucket=week', 'bucket'],
      ['/admin/usage?colour=red', 'colour'],
      ['/admin/requests?format=xml', 'format'],
      ['/admin/requests?limit=0', 'limit'],
      ['/admin/requests?to=-5', 'to'],
      ['/admin/requests?from=15/03/2030', 'from'],
      ['/admin/forecast?instances=-1', 'instances'],
      ['/admin/anomalies?all=maybe', 'all'],
      ['/admin/suggestions?min_savings_usd=lots', 'min_savings_usd'],
    ];
    for (const [path, param] of cases) {
      const res = await admin(path);
      const body = (await res.json()) as any;
      expect([path, res.status, body.error.param]).toEqual([path, 400, param]);
      expect(body.error.message).toContain(param);
    }
  });

  it('no token, a wrong token or a virtual key: 401, and nothing about which', async () => {
    const paths = [
      '/admin/usage',
      '/admin/requests',
      '/admin/forecast',
      '/admin/anomalies',
      '/admin/suggestions',
    ];
    for (const path of paths) {
      const answers = new Set<string>();
      for (const token of [null, 'wrong-token', TEST_KEY, `${ADMIN_TOKEN}x`]) {
        const res = await admin(path, token);
        expect([path, token, res.status]).toEqual([path, token, 401]);
        answers.add(await res.text());
      }
      expect(answers.size).toBe(1);
    }
  });
});
