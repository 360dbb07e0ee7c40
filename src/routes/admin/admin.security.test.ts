/**
 * Admin API security, over every mounted admin route (others' included): no token, a wrong token,
 * a virtual key, the right token in the wrong place all get the same 401 and change nothing; an
 * empty configured token turns the API off; no answer ever holds a key secret, a key hash, the
 * admin token or a provider key.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminCall, storedMeta } from '../../../test/helpers/admin.js';
import {
  ADMIN_TOKEN,
  ANTHROPIC_UPSTREAM_KEY,
  baseConfigYaml,
  OPENAI_UPSTREAM_KEY,
  type Stack,
  startStack,
  TEST_KEY,
} from '../../../test/helpers/stack.js';
import { startGateway } from '../../gateway.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    extraYaml: `
budgets:
  - { id: web-monthly, scope: { team: web }, limit_usd: 100, period: monthly }
  - { id: per-user-daily, scope: { user: "*" }, limit_usd: 5, period: daily }
`,
  });
});
afterAll(async () => {
  await stack?.close();
});

/** Mounted admin routes with `:id` filled in. */
function adminRoutes(id: string): Array<{ method: string; path: string }> {
  const seen = new Set<string>();
  return stack.gateway.app.routes
    .filter((r) => r.path.startsWith('/admin/') && r.method !== 'ALL')
    .map((r) => ({ method: r.method, path: r.path.replace(/:[A-Za-z0-9_]+/g, id) }))
    .filter((r) => {
      const key = `${r.method} ${r.path}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
}

/** Credentials that are not the admin token as a bearer token. */
const WRONG: Array<[string, Record<string, string>]> = [
  ['no token', {}],
  ['a wrong token', { authorization: 'Bearer not-the-admin-token' }],
  ['a virtual key', { authorization: `Bearer ${TEST_KEY}` }],
  ['the token with one character more', { authorization: `Bearer ${ADMIN_TOKEN}x` }],
  [
    'the token as basic auth',
    { authorization: `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}` },
  ],
  ['the token in x-api-key', { 'x-api-key': ADMIN_TOKEN }],
  ['an empty bearer', { authorization: 'Bearer ' }],
];

describe('without the admin token', () => {
  it('every admin route answers the same 401, whatever was wrong', async () => {
    const routes = adminRoutes('web-monthly');
    expect(routes.length).toBeGreaterThanOrEqual(12);
    const bodies = new Set<string>();
    for (const route of routes) {
      for (const [what, headers] of WRONG) {
        const answer = await adminCall(stack.gateway, route.method, route.path, undefined, headers);
        expect(answer.status, `${route.method} ${route.path} with ${what}`).toBe(401);
        bodies.add(answer.text);
      }
    }
    expect(bodies.size).toBe(1);
    const [body] = [...bodies];
    expect(JSON.parse(body as string).error.code).toBe('unauthorized');
  });

  it('writes nothing, even with a valid body', async () => {
    const before = await storedMeta(stack.gateway);
    const balance = async () =>
      (await adminCall(stack.gateway, 'GET', '/admin/budgets/web-monthly')).body.balance;
    const balanceBefore = await balance();
    const writes: Array<[string, string, unknown]> = [
      ['POST', '/admin/budgets', { id: 'sneaky', scope: 'global', limit_usd: 1 }],
      ['PUT', '/admin/budgets/web-monthly', { scope: 'global', limit_usd: 1 }],
      ['DELETE', '/admin/budgets/web-monthly', undefined],
      ['POST', '/admin/budgets/web-monthly/topup', { amount_usd: 1000 }],
      ['POST', '/admin/budgets/web-monthly/reset', {}],
      ['POST', '/admin/keys', { id: 'sneaky' }],
      ['DELETE', '/admin/keys/alpha', undefined],
      ['POST', '/admin/config/reload', undefined],
    ];
    for (const [method, path, body] of writes) {
      for (const [, headers] of WRONG) {
        const answer = await adminCall(stack.gateway, method, path, body, headers);
        expect(answer.status).toBe(401);
        expect(answer.text).not.toContain('sk-gw-');
      }
    }
    expect(await storedMeta(stack.gateway)).toEqual(before);
    expect(await balance()).toEqual(balanceBefore);
  });

  it('an empty admin token in the config turns the admin API off', async () => {
    const gateway = await startGateway({
      configText: baseConfigYaml(stack.mock.url, {}, stack.dir).replace(
        `token: "${ADMIN_TOKEN}"`,
        'token: ""',
      ),
      env: {},
    });
    const attempts: Array<Record<string, string>> = [
      { authorization: `Bearer ${ADMIN_TOKEN}` },
      { authorization: 'Bearer ' },
      {},
    ];
    try {
      for (const headers of attempts) {
        expect((await adminCall(gateway, 'GET', '/admin/budgets', undefined, headers)).status).toBe(401);
        expect((await adminCall(gateway, 'POST', '/admin/keys', {}, headers)).status).toBe(401);
      }
    } finally {
      await gateway.close();
    }
  });
});

describe('secrets', () => {
  it('no admin answer holds a key secret or hash, the admin token or a provider key', async () => {
    const created = await adminCall(stack.gateway, 'POST', '/admin/keys', { id: 'secretive', team: 'web' });
    expect(created.status).toBe(201);
    const secret: string = created.body.key;
    const forbidden = [
      secret,
      createHash('sha256').update(secret).digest('hex'),
      TEST_KEY,
      createHash('sha256').update(TEST_KEY).digest('hex'),
      ADMIN_TOKEN,
      OPENAI_UPSTREAM_KEY,
      ANTHROPIC_UPSTREAM_KEY,
    ];
    // Some spend, so the usage and ledger routes (when mounted) have something to show.
    await stack.openai(secret, { defaultHeaders: { 'x-mock-output-tokens': '3' } }).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 10,
    });
    const gets = [...adminRoutes('secretive'), ...adminRoutes('web-monthly'), ...adminRoutes('alpha')].filter(
      (r) => r.method === 'GET',
    );
    expect(gets.length).toBeGreaterThanOrEqual(5);
    for (const route of gets) {
      const answer = await adminCall(stack.gateway, 'GET', route.path);
      expect(answer.status, route.path).toBeLessThan(500);
      for (const value of forbidden) expect(answer.text, `${route.path} leaks a secret`).not.toContain(value);
    }
    // Nor an error answer to a second create with the same id.
    const again = await adminCall(stack.gateway, 'POST', '/admin/keys', { id: 'secretive' });
    expect(again.status).toBe(409);
    for (const value of forbidden) expect(again.text).not.toContain(value);
  });
});
