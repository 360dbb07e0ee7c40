/**
 * /admin/keys on one gateway (SQLite): a created key works with the official SDKs at once, with its
 * team, user and model rights; its secret is shown once and only its hash is stored; revoking it
 * makes it 401; config file keys are read-only; bad bodies are answered 400 with nothing written.
 */
import { createHash } from 'node:crypto';
import { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminCall, problemFields, storedMeta } from '../../../../test/helpers/admin.js';
import { type Stack, startStack } from '../../../../test/helpers/stack.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    extraYaml: `
budgets:
  - { id: team-ops, scope: { team: ops }, limit_usd: 10, period: daily }
`,
  });
});
afterAll(async () => {
  await stack?.close();
});

async function chatStatus(key: string, model = 'gpt-4o-mini'): Promise<number> {
  try {
    await stack
      .openai(key, { defaultHeaders: { 'x-mock-output-tokens': '3' } })
      .chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 20 });
    return 200;
  } catch (error) {
    if (error instanceof APIError && error.status !== undefined) return error.status;
    throw error;
  }
}

describe('creating and using keys', () => {
  it('returns a new secret once; it works at once, with its team, user and models', async () => {
    const created = await adminCall(stack.gateway, 'POST', '/admin/keys', {
      id: 'ops-bot',
      team: 'ops',
      user: 'robot',
      tags: ['batch'],
      models: ['gpt-4o-mini'],
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: 'ops-bot',
      source: 'api',
      active: true,
      team: 'ops',
      user: 'robot',
      tags: ['batch'],
      models: ['gpt-4o-mini'],
    });
    const secret: string = created.body.key;
    expect(secret).toMatch(/^sk-gw-[A-Za-z0-9_-]{43}$/);

    // Only the hash is stored.
    const stored = await storedMeta(stack.gateway);
    const record = stored.keys.find((k) => k.id === 'ops-bot');
    expect(JSON.stringify(stored)).not.toContain(secret);
    expect(record?.value).toMatchObject({ key_sha256: createHash('sha256').update(secret).digest('hex') });

    expect(await chatStatus(secret)).toBe(200);
    const record2 = stack.records.at(-1);
    expect(record2).toMatchObject({ keyId: 'ops-bot', team: 'ops', user: 'robot', status: 200 });
    const opsBudget = (await adminCall(stack.gateway, 'GET', '/admin/budgets/team-ops')).body;
    expect(opsBudget.balance.spent_usd).toBeGreaterThan(0);
    expect(await chatStatus(secret, 'gpt-4o')).toBe(403);
  });

  it('generates an id when none is given, and two keys never share a secret', async () => {
    const a = await adminCall(stack.gateway, 'POST', '/admin/keys', {});
    const b = await adminCall(stack.gateway, 'POST', '/admin/keys', { team: 'ops' });
    expect(a.status).toBe(201);
    expect(a.body.id).toMatch(/^key-[0-9a-f]{12}$/);
    expect(a.body.id).not.toBe(b.body.id);
    expect(a.body.key).not.toBe(b.body.key);
    for (const id of [a.body.id, b.body.id]) await adminCall(stack.gateway, 'DELETE', `/admin/keys/${id}`);
  });

  it('lists config and API keys without secrets or hashes, ever again', async () => {
    const created = await adminCall(stack.gateway, 'POST', '/admin/keys', { id: 'lister', team: 'web' });
    const secret: string = created.body.key;
    const hash = createHash('sha256').update(secret).digest('hex');
    const list = await adminCall(stack.gateway, 'GET', '/admin/keys');
    expect(list.status).toBe(200);
    const ids = list.body.keys.map((k: { id: string; source: string }) => `${k.source}:${k.id}`);
    expect(ids).toEqual(expect.arrayContaining(['config:alpha', 'config:bravo', 'api:lister']));
    const one = await adminCall(stack.gateway, 'GET', '/admin/keys/lister');
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: 'lister', team: 'web', source: 'api' });
    for (const text of [list.text, one.text]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(hash);
      expect(text).not.toContain('key_sha256');
      expect(text).not.toContain('sk-gw-');
    }
    await adminCall(stack.gateway, 'DELETE', '/admin/keys/lister');
  });
});

describe('revoking', () => {
  it('a revoked key answers 401 and disappears from the list', async () => {
    const created = await adminCall(stack.gateway, 'POST', '/admin/keys', { id: 'short-lived' });
    expect(await chatStatus(created.body.key)).toBe(200);
    const revoked = await adminCall(stack.gateway, 'DELETE', '/admin/keys/short-lived');
    expect(revoked.status).toBe(200);
    expect(revoked.body).toEqual({ id: 'short-lived', revoked: true });
    expect(await chatStatus(created.body.key)).toBe(401);
    expect((await adminCall(stack.gateway, 'GET', '/admin/keys/short-lived')).status).toBe(404);
    expect((await adminCall(stack.gateway, 'DELETE', '/admin/keys/short-lived')).status).toBe(404);
  });

  it('keeps config file keys read-only (409) and ids unique (409), writing nothing', async () => {
    const before = await storedMeta(stack.gateway);
    const del = await adminCall(stack.gateway, 'DELETE', '/admin/keys/alpha');
    expect(del.status).toBe(409);
    expect(del.body.error.code).toBe('conflict');
    expect((await adminCall(stack.gateway, 'POST', '/admin/keys', { id: 'alpha' })).status).toBe(409);
    expect((await adminCall(stack.gateway, 'POST', '/admin/keys', { id: 'anonymous' })).status).toBe(409);
    expect(await storedMeta(stack.gateway)).toEqual(before);

    const first = await adminCall(stack.gateway, 'POST', '/admin/keys', { id: 'twice' });
    const second = await adminCall(stack.gateway, 'POST', '/admin/keys', { id: 'twice', team: 'x' });
    expect(second.status).toBe(409);
    expect(second.text).not.toContain('sk-gw-');
    expect(await chatStatus(first.body.key)).toBe(200);
    await adminCall(stack.gateway, 'DELETE', '/admin/keys/twice');
  });
});

describe('bad input', () => {
  it('lists every problem by field and writes nothing', async () => {
    const before = await storedMeta(stack.gateway);
    const shape = await adminCall(stack.gateway, 'POST', '/admin/keys', {
      id: 'has space',
      user: '',
      tags: 'batch',
      models: [42],
      max_choices: 0,
      secret: 'mine',
    });
    expect(shape.status).toBe(400);
    expect(problemFields(shape)).toEqual(['id', 'max_choices', 'models[0]', 'secret', 'tags', 'user']);
    const refs = await adminCall(stack.gateway, 'POST', '/admin/keys', {
      models: ['gpt-4o-mini', 'gpt-9', 'o9'],
    });
    expect(refs.status).toBe(400);
    expect(problemFields(refs)).toEqual(['models[1]', 'models[2]']);
    expect(refs.body.error.problems[0].message).toBe('unknown model gpt-9');
    const json = await adminCall(stack.gateway, 'POST', '/admin/keys', '{not json');
    expect(json.status).toBe(400);
    expect(await storedMeta(stack.gateway)).toEqual(before);
    expect(shape.text + refs.text).not.toContain('sk-gw-');
  });
});
