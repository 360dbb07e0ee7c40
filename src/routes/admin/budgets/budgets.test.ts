/**
 * /admin/budgets on one gateway (SQLite): listing with balances that follow real spend, creating
 * budgets that the next request obeys, replacing, deleting, reset and top-up, the config file's
 * budgets read-only, and every bad body answered 400 with all its problems and nothing written.
 */
import { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminCall, problemFields, storedMeta } from '../../../../test/helpers/admin.js';
import { eventually, type Stack, startStack, TEST_KEY, TEST_KEY_2 } from '../../../../test/helpers/stack.js';

const BUDGETS = `
budgets:
  - { id: web-monthly, scope: { team: web }, limit_usd: 100, period: monthly }
  - { id: per-user-daily, scope: { user: "*" }, limit_usd: 5, period: daily }
`;

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ extraYaml: BUDGETS });
});
afterAll(async () => {
  await stack?.close();
});

/** One small chat completion; resolves with its cost header, or the API error. */
async function chat(key = TEST_KEY, headers: Record<string, string> = {}) {
  const { response } = await stack
    .openai(key, { defaultHeaders: { 'x-mock-output-tokens': '5', ...headers } })
    .chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 50,
    })
    .withResponse();
  return Number(response.headers.get('x-gateway-cost-usd'));
}

async function chatError(key = TEST_KEY, headers: Record<string, string> = {}): Promise<APIError> {
  try {
    await chat(key, headers);
  } catch (error) {
    if (error instanceof APIError) return error;
    throw error;
  }
  throw new Error('expected the request to fail');
}

const get = (path: string) => adminCall(stack.gateway, 'GET', path);
const budget = async (id: string) => (await get(`/admin/budgets/${id}`)).body;

describe('listing and reading', () => {
  it('lists the config budgets with balances that follow spend', async () => {
    const before = (await budget('web-monthly')).balance.spent_usd;
    const cost = await chat();
    expect(cost).toBeGreaterThan(0);
    await eventually(async () => {
      const web = await budget('web-monthly');
      expect(web.balance.spent_usd).toBeCloseTo(before + cost, 9);
    });
    const list = await get('/admin/budgets');
    expect(list.status).toBe(200);
    const web = list.body.budgets.find((b: { id: string }) => b.id === 'web-monthly');
    expect(web).toMatchObject({
      source: 'config',
      active: true,
      template: false,
      limit_usd: 100,
      period: 'monthly',
    });
    expect(web.balance.reserved_usd).toBe(0);
    expect(web.balance.remaining_usd).toBeCloseTo(100 - web.balance.spent_usd, 9);
    const now = new Date();
    expect(web.balance.resets_at).toBe(
      new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString(),
    );
  });

  it('summarises a template budget: instance count and top spenders', async () => {
    await chat(TEST_KEY); // alice (the key's user): two requests with the one above
    for (let i = 0; i < 3; i++) await chat(TEST_KEY_2, { 'x-gateway-user': 'bob' });
    const perUser = await budget('per-user-daily');
    expect(perUser.template).toBe(true);
    expect(perUser.balance).toBeUndefined();
    expect(perUser.instances.count).toBe(2);
    expect(perUser.instances.limit_usd_each).toBe(5);
    const [first, second] = perUser.instances.top_spenders;
    expect(first.values).toEqual({ user: 'bob' });
    expect(first.instance).toBe('per-user-daily|user=bob');
    expect(second.values).toEqual({ user: 'alice' });
    expect(first.spent_usd).toBeGreaterThan(second.spent_usd);
    expect(perUser.instances.spent_usd).toBeCloseTo(first.spent_usd + second.spent_usd, 9);
  });

  it('answers 404 for an unknown id', async () => {
    const answer = await get('/admin/budgets/no-such-budget');
    expect(answer.status).toBe(404);
    expect(answer.body.error.code).toBe('not_found');
  });
});

describe('creating, replacing and deleting', () => {
  it('creates a budget that the next request obeys, replaces it, deletes it', async () => {
    const created = await adminCall(stack.gateway, 'POST', '/admin/budgets', {
      id: 'alpha-tiny',
      scope: { key: 'alpha' },
      limit_usd: 0.000001,
      period: 'daily',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: 'alpha-tiny', source: 'api', active: true, timezone: 'UTC' });
    expect(created.body.balance.limit_usd).toBe(0.000001);
    expect(created.body.created_at).toEqual(expect.any(String));
    expect((await storedMeta(stack.gateway)).budgets.map((b) => b.id)).toContain('alpha-tiny');

    const rejected = await chatError(TEST_KEY);
    expect(rejected.status).toBe(429);
    expect(rejected.message).toContain('alpha-tiny');
    await chat(TEST_KEY_2); // another key is not under it

    const replaced = await adminCall(stack.gateway, 'PUT', '/admin/budgets/alpha-tiny', {
      scope: { key: 'alpha' },
      limit_usd: 50,
      period: 'daily',
    });
    expect(replaced.status).toBe(200);
    expect(replaced.body.limit_usd).toBe(50);
    expect(replaced.body.created_at).toBe(created.body.created_at);
    expect(await chat(TEST_KEY)).toBeGreaterThan(0);
    expect((await budget('alpha-tiny')).balance.spent_usd).toBeGreaterThan(0);

    const deleted = await adminCall(stack.gateway, 'DELETE', '/admin/budgets/alpha-tiny');
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ id: 'alpha-tiny', deleted: true });
    expect((await get('/admin/budgets/alpha-tiny')).status).toBe(404);
    expect((await storedMeta(stack.gateway)).budgets.map((b) => b.id)).not.toContain('alpha-tiny');
  });

  it('answers 404 to PUT and DELETE of an unknown id', async () => {
    const body = { scope: 'global', limit_usd: 1 };
    expect((await adminCall(stack.gateway, 'PUT', '/admin/budgets/ghost', body)).status).toBe(404);
    expect((await adminCall(stack.gateway, 'DELETE', '/admin/budgets/ghost')).status).toBe(404);
  });

  it('keeps config file budgets read-only (409) and ids unique (409), writing nothing', async () => {
    const before = await storedMeta(stack.gateway);
    const body = { scope: 'global', limit_usd: 1 };
    const put = await adminCall(stack.gateway, 'PUT', '/admin/budgets/web-monthly', body);
    expect(put.status).toBe(409);
    expect(put.body.error.code).toBe('conflict');
    expect((await adminCall(stack.gateway, 'DELETE', '/admin/budgets/web-monthly')).status).toBe(409);
    const post = await adminCall(stack.gateway, 'POST', '/admin/budgets', { ...body, id: 'web-monthly' });
    expect(post.status).toBe(409);
    expect(await storedMeta(stack.gateway)).toEqual(before);

    expect((await adminCall(stack.gateway, 'POST', '/admin/budgets', { ...body, id: 'dup' })).status).toBe(
      201,
    );
    const again = await adminCall(stack.gateway, 'POST', '/admin/budgets', {
      ...body,
      id: 'dup',
      limit_usd: 2,
    });
    expect(again.status).toBe(409);
    expect((await budget('dup')).limit_usd).toBe(1);
    await adminCall(stack.gateway, 'DELETE', '/admin/budgets/dup');
  });
});

describe('bad input', () => {
  it('lists every schema problem by field and writes nothing', async () => {
    const before = await storedMeta(stack.gateway);
    const answer = await adminCall(stack.gateway, 'POST', '/admin/budgets', {
      id: 'bad id',
      scope: { team: 7 },
      limit_usd: -1,
      period: 'hourly',
      thresholds: [{ at: 2 }],
      colour: 'red',
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('invalid_request');
    expect(problemFields(answer)).toEqual([
      'colour',
      'id',
      'limit_usd',
      'period',
      'scope.team',
      'thresholds[0].at',
    ]);
    expect(answer.body.error.problems.find((p: { field: string }) => p.field === 'limit_usd').message).toBe(
      'expected a positive number',
    );
    expect(await storedMeta(stack.gateway)).toEqual(before);
  });

  it('checks references like the config file does (models, providers, zones, downgrades)', async () => {
    const before = await storedMeta(stack.gateway);
    const answer = await adminCall(stack.gateway, 'POST', '/admin/budgets', {
      id: 'refs',
      scope: { model: 'gpt-9', provider: 'nowhere' },
      limit_usd: 1,
      timezone: 'Mars/Olympus',
      thresholds: [{ at: 0.5, downgrade: { 'gpt-4o': 'claude-haiku-4-5' } }],
    });
    expect(answer.status).toBe(400);
    expect(problemFields(answer)).toEqual([
      'scope.model',
      'scope.provider',
      'thresholds[0].downgrade.gpt-4o',
      'timezone',
    ]);
    expect(await storedMeta(stack.gateway)).toEqual(before);
  });

  it('rejects bodies that are not a JSON object', async () => {
    const before = await storedMeta(stack.gateway);
    for (const body of ['{"id": ', '[1, 2]', '']) {
      const answer = await adminCall(stack.gateway, 'POST', '/admin/budgets', body);
      expect(answer.status, body).toBe(400);
      expect(answer.body.error.type).toBe('invalid_request_error');
    }
    expect(await storedMeta(stack.gateway)).toEqual(before);
  });

  it('refuses a body over 256 KiB (413) without reading it all', async () => {
    const before = await storedMeta(stack.gateway);
    const huge = { id: 'huge', scope: 'global', limit_usd: 1, padding: 'x'.repeat(300 * 1024) };
    const answer = await adminCall(stack.gateway, 'POST', '/admin/budgets', huge);
    expect(answer.status).toBe(413);
    expect(answer.body.error.code).toBe('payload_too_large');
    expect(await storedMeta(stack.gateway)).toEqual(before);
  });

  it('validates PUT bodies too and leaves the stored budget as it was', async () => {
    await adminCall(stack.gateway, 'POST', '/admin/budgets', { id: 'stable', scope: 'global', limit_usd: 3 });
    const before = await storedMeta(stack.gateway);
    const answer = await adminCall(stack.gateway, 'PUT', '/admin/budgets/stable', {
      id: 'other',
      scope: 'global',
      limit_usd: 0,
    });
    expect(answer.status).toBe(400);
    expect(problemFields(answer)).toEqual(['limit_usd']);
    const mismatch = await adminCall(stack.gateway, 'PUT', '/admin/budgets/stable', {
      id: 'other',
      scope: 'global',
      limit_usd: 4,
    });
    expect(problemFields(mismatch)).toEqual(['id']);
    expect(await storedMeta(stack.gateway)).toEqual(before);
    expect((await budget('stable')).limit_usd).toBe(3);
    await adminCall(stack.gateway, 'DELETE', '/admin/budgets/stable');
  });
});

describe('reset and top-up', () => {
  it('resets a plain budget and one or every instance of a template budget', async () => {
    await chat(TEST_KEY);
    await chat(TEST_KEY_2, { 'x-gateway-user': 'bob' });
    expect((await budget('web-monthly')).balance.spent_usd).toBeGreaterThan(0);

    const reset = await adminCall(stack.gateway, 'POST', '/admin/budgets/web-monthly/reset');
    expect(reset.status).toBe(200);
    expect(reset.body.balance.spent_usd).toBe(0);
    expect(reset.body.balance.remaining_usd).toBe(100);

    const one = await adminCall(stack.gateway, 'POST', '/admin/budgets/per-user-daily/reset', {
      instance: 'per-user-daily|user=alice',
    });
    expect(one.status).toBe(200);
    const spentBy = (answer: typeof one, user: string) =>
      answer.body.instances.top_spenders.find((s: { values: { user: string } }) => s.values.user === user)
        .spent_usd;
    expect(spentBy(one, 'alice')).toBe(0);
    expect(spentBy(one, 'bob')).toBeGreaterThan(0);

    const all = await adminCall(stack.gateway, 'POST', '/admin/budgets/per-user-daily/reset', {});
    expect(all.body.instances.spent_usd).toBe(0);
  });

  it("rejects an instance that is not the budget's own, and unknown budgets", async () => {
    const wrong = await adminCall(stack.gateway, 'POST', '/admin/budgets/per-user-daily/reset', {
      instance: 'web-monthly|team=web',
    });
    expect(wrong.status).toBe(400);
    expect(problemFields(wrong)).toEqual(['instance']);
    const plain = await adminCall(stack.gateway, 'POST', '/admin/budgets/web-monthly/reset', {
      instance: 'x|user=a',
    });
    expect(problemFields(plain)).toEqual(['instance']);
    expect((await adminCall(stack.gateway, 'POST', '/admin/budgets/ghost/reset')).status).toBe(404);
    expect(
      (await adminCall(stack.gateway, 'POST', '/admin/budgets/ghost/topup', { amount_usd: 1 })).status,
    ).toBe(404);
  });

  it('tops up a prepaid budget so requests pass again; bad amounts change nothing', async () => {
    const created = await adminCall(stack.gateway, 'POST', '/admin/budgets', {
      id: 'bravo-prepaid',
      scope: { key: 'bravo' },
      limit_usd: 0.000001,
      period: 'none',
    });
    expect(created.status).toBe(201);
    expect(created.body.balance.resets_at).toBeNull();
    const rejected = await chatError(TEST_KEY_2);
    expect(rejected.status).toBe(429);
    expect(rejected.message).toContain('top-up');

    for (const body of [{ amount_usd: -5 }, { amount_usd: 'ten' }, {}, { amount_usd: 1, extra: true }]) {
      const bad = await adminCall(stack.gateway, 'POST', '/admin/budgets/bravo-prepaid/topup', body);
      expect(bad.status, JSON.stringify(body)).toBe(400);
    }
    expect((await budget('bravo-prepaid')).balance.limit_usd).toBe(0.000001);

    const topped = await adminCall(stack.gateway, 'POST', '/admin/budgets/bravo-prepaid/topup', {
      amount_usd: 1,
    });
    expect(topped.status).toBe(200);
    expect(topped.body.balance.limit_usd).toBeCloseTo(1.000001, 9);
    const cost = await chat(TEST_KEY_2);
    expect((await budget('bravo-prepaid')).balance.spent_usd).toBeCloseTo(cost, 9);
    await adminCall(stack.gateway, 'DELETE', '/admin/budgets/bravo-prepaid');
  });

  it('tops up a config budget for this period, and needs an instance on template budgets', async () => {
    const before = (await budget('web-monthly')).balance.limit_usd;
    const topped = await adminCall(stack.gateway, 'POST', '/admin/budgets/web-monthly/topup', {
      amount_usd: 10,
    });
    expect(topped.body.balance.limit_usd).toBeCloseTo(before + 10, 9);
    const template = await adminCall(stack.gateway, 'POST', '/admin/budgets/per-user-daily/topup', {
      amount_usd: 1,
    });
    expect(template.status).toBe(400);
    expect(problemFields(template)).toEqual(['instance']);
    const one = await adminCall(stack.gateway, 'POST', '/admin/budgets/per-user-daily/topup', {
      amount_usd: 1,
      instance: 'per-user-daily|user=carol',
    });
    expect(one.status).toBe(200);
    const carol = await stack.gateway.store.balances([
      {
        instance: 'per-user-daily|user=carol',
        budgetId: 'per-user-daily',
        period: new Date().toISOString().slice(0, 10),
        previousPeriod: null,
        limitNano: 5_000_000_000,
        rolloverMaxNano: 0,
        downgradeAtNano: -1,
        ttlSeconds: 0,
      },
    ]);
    expect(carol[0]?.limitNano).toBe(6_000_000_000);
  });
});
