/**
 * Usage by agent session, end to end on each history store: Claude Code and Codex CLI requests
 * (their request shapes, agent-clients.test-helpers.ts) through the gateway, then
 * /admin/usage?group_by=session (summed from the ledger) and /admin/requests?session=... read back.
 * The expected figures come from the request records themselves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../../../../test/analytics/fixtures.js';
import { type StartedPostgres, startPostgres } from '../../../../test/helpers/postgres.js';
import { type StartedRedis, startRedis } from '../../../../test/helpers/redis.js';
import { ADMIN_TOKEN, type Stack, startStack, TEST_KEY } from '../../../../test/helpers/stack.js';
import type { RequestRecord } from '../../../record.js';
import {
  claudeCodeBody,
  claudeCodeHeaders,
  codexBody,
  codexHeaders,
  SESSION,
} from '../../proxy/agent-clients.test-helpers.js';

const NOW = Date.UTC(2030, 2, 15, 10, 30);
const OTHER_SESSION = '2b7c9e41-0d3a-4f5e-8c6b-9a1d2e3f4a5b';

let redis: StartedRedis;
let postgres: StartedPostgres;
beforeAll(async () => {
  [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
});
afterAll(async () => {
  await Promise.all([redis?.close(), postgres?.close()]);
});

const stores = [
  { name: 'sqlite', store: () => ({ type: 'sqlite' as const }), history: async () => '' },
  {
    name: 'redis',
    store: () => ({ type: 'redis' as const, url: redis.url, prefix: 'sessions' }),
    history: async () => '',
  },
  {
    name: 'postgres history',
    store: () => ({ type: 'sqlite' as const }),
    history: async () => `history: { store: postgres, url: "${await postgres.createDatabase()}" }`,
  },
];

describe.each(stores)('usage by session on $name', ({ store, history }) => {
  let stack: Stack;
  let records: RequestRecord[];
  let now = NOW;

  const admin = (path: string) =>
    fetch(`${stack.gateway.url}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  const json = async (path: string) => {
    const res = await admin(path);
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as any;
  };

  beforeAll(async () => {
    stack = await startStack({
      store: store(),
      clock: () => now,
      modelsYaml: `  claude-opus-4-8: { provider: anthropic, max_output_tokens: 64000 }
  gpt-5.3-codex: { provider: openai, max_output_tokens: 128000 }`,
      extraYaml: `budgets:\n  - { id: all-spend, scope: global, limit_usd: 1000, period: monthly }\n${await history()}`,
    });
    const claude = (session: string) =>
      fetch(`${stack.gateway.url}/v1/messages?beta=true`, {
        method: 'POST',
        headers: { ...claudeCodeHeaders, 'x-claude-code-session-id': session },
        body: JSON.stringify(claudeCodeBody),
      }).then((r) => r.text());
    await claude(SESSION);
    await claude(SESSION);
    await claude(OTHER_SESSION);
    await fetch(`${stack.gateway.url}/v1/responses`, {
      method: 'POST',
      headers: codexHeaders(),
      body: JSON.stringify(codexBody),
    }).then((r) => r.text());
    // And a client that sends no session.
    await stack.openai(TEST_KEY).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    // The exports read [from, now): read a minute later.
    now = NOW + 60_000;
    records = [...stack.records];
    expect(records).toHaveLength(5);
    expect(records.every((r) => r.status === 200 && r.costNano > 0)).toBe(true);
  });

  afterAll(async () => {
    await stack?.close();
  });

  const costOf = (session: string | null) =>
    records.filter((r) => (r.session ?? null) === session).reduce((s, r) => s + r.costNano, 0);

  it('group_by=session: one row per session (and one for none) from the ledger; totals match the rollups', async () => {
    const body = await json('/admin/usage?group_by=session&bucket=day');
    expect(body).toMatchObject({ group_by: ['session'], source: 'ledger' });
    const bySession = Object.fromEntries(
      body.rows.map((row: any) => [row.session, { requests: row.requests, cost: row.cost_nano }]),
    );
    expect(bySession).toEqual({
      [SESSION]: { requests: 2, cost: costOf(SESSION) },
      [OTHER_SESSION]: { requests: 1, cost: costOf(OTHER_SESSION) },
      [codexBody.prompt_cache_key]: { requests: 1, cost: costOf(codexBody.prompt_cache_key) },
      '': { requests: 1, cost: costOf(null) },
    });
    const rollups = await json('/admin/usage?bucket=day');
    expect(rollups.source).toBe('rollups');
    expect(body.total).toEqual(rollups.total);
  });

  it('session combines with the other dimensions', async () => {
    const body = await json('/admin/usage?group_by=session,model');
    const row = body.rows.find((r: any) => r.session === SESSION);
    expect(row).toMatchObject({ model: 'claude-opus-4-8', requests: 2 });
    expect(body.rows.find((r: any) => r.session === '')).toMatchObject({ model: 'gpt-4o-mini' });
  });

  it('the requests export carries the session, and filters by it', async () => {
    const lines = (await (await admin(`/admin/requests?session=${SESSION}`)).text())
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines.every((l) => l.session === SESSION && l.served_model === 'claude-opus-4-8')).toBe(true);
    const [header, ...rows] = parseCsv(await (await admin('/admin/requests?format=csv')).text());
    const column = header!.indexOf('session');
    expect(column).toBe(header!.length - 1);
    expect(rows.map((cells) => cells[column]).sort()).toEqual(
      ['', SESSION, SESSION, OTHER_SESSION, codexBody.prompt_cache_key].sort(),
    );
  });
});
