import { describe, expect, it } from 'vitest';
import { budget, standardModels } from './fixtures.test-helpers.js';
import { escapeScopeValue, linesFor, linesForIdentity, matchBudget } from './scopes.js';

const attrs = {
  keyId: 'web-app',
  user: 'alice',
  team: 'web',
  model: 'gpt-4o',
  provider: 'openai',
  tags: ['prod', 'eu'],
};

describe('scopes', () => {
  it('always applies a global budget', () => {
    expect(matchBudget(budget({ id: 'g', limitUsd: 1 }), attrs)).toEqual([
      { budget: expect.objectContaining({ id: 'g' }), instance: 'g' },
    ]);
  });

  it('ANDs every field', () => {
    const both = budget({ id: 'b', scope: { team: 'web', model: 'gpt-4o' }, limitUsd: 1 });
    expect(matchBudget(both, attrs).map((l) => l.instance)).toEqual(['b']);
    expect(matchBudget(both, { ...attrs, model: 'gpt-4o-mini' })).toEqual([]);
    expect(matchBudget(both, { ...attrs, team: undefined })).toEqual([]);
    const provider = budget({ id: 'p', scope: { provider: 'anthropic' }, limitUsd: 1 });
    expect(matchBudget(provider, attrs)).toEqual([]);
  });

  it('matches a tag when the key carries it', () => {
    expect(matchBudget(budget({ id: 't', scope: { tag: 'eu' }, limitUsd: 1 }), attrs)).toHaveLength(1);
    expect(matchBudget(budget({ id: 't', scope: { tag: 'us' }, limitUsd: 1 }), attrs)).toHaveLength(0);
  });

  it('makes "*" fields template instances, in a fixed field order', () => {
    const perUser = budget({ id: 'per-user', scope: { model: '*', user: '*' }, limitUsd: 1 });
    expect(matchBudget(perUser, attrs).map((l) => l.instance)).toEqual(['per-user|user=alice|model=gpt-4o']);
    const mixed = budget({ id: 'm', scope: { team: 'web', user: '*' }, limitUsd: 1 });
    expect(matchBudget(mixed, attrs).map((l) => l.instance)).toEqual(['m|user=alice']);
  });

  it('does not apply a "*" budget when the value is absent', () => {
    const perUser = budget({ id: 'per-user', scope: { user: '*' }, limitUsd: 1 });
    expect(matchBudget(perUser, { ...attrs, user: undefined })).toEqual([]);
    expect(matchBudget(perUser, { ...attrs, user: '' })).toEqual([]);
    expect(
      matchBudget(budget({ id: 't', scope: { tag: '*' }, limitUsd: 1 }), { ...attrs, tags: [] }),
    ).toEqual([]);
  });

  it('gives one instance per tag for a "*" tag scope', () => {
    const perTag = budget({ id: 'tag', scope: { tag: '*' }, limitUsd: 1 });
    expect(matchBudget(perTag, attrs).map((l) => l.instance)).toEqual(['tag|tag=prod', 'tag|tag=eu']);
  });

  it('escapes values so separators cannot collide', () => {
    const perUser = budget({ id: 'u', scope: { user: '*', team: '*' }, limitUsd: 1 });
    const a = matchBudget(perUser, { ...attrs, user: 'x|team=y', team: 'z' })[0]!.instance;
    const b = matchBudget(perUser, { ...attrs, user: 'x', team: 'y|team=z' })[0]!.instance;
    expect(a).not.toBe(b);
    expect(escapeScopeValue('a%7C')).toBe('a%257C');
    expect(escapeScopeValue('a|b=c')).toBe('a%7Cb%3Dc');
  });

  it('lists every budget that applies, in config order', () => {
    const budgets = [
      budget({ id: 'team', scope: { team: 'web' }, limitUsd: 1 }),
      budget({ id: 'other', scope: { team: 'data' }, limitUsd: 1 }),
      budget({ id: 'all', limitUsd: 1 }),
    ];
    expect(linesFor(budgets, attrs).map((l) => l.instance)).toEqual(['team', 'all']);
  });

  it('lists an identity budget under the models it may use', () => {
    const models = standardModels();
    const budgets = [
      budget({ id: 'key', scope: { key: 'web-app' }, limitUsd: 1 }),
      budget({ id: 'sonnet', scope: { model: 'claude-sonnet-4-5' }, limitUsd: 1 }),
      budget({ id: 'openai', scope: { provider: 'openai' }, limitUsd: 1 }),
      budget({ id: 'per-model', scope: { model: '*' }, limitUsd: 1 }),
    ];
    const who = { keyId: 'web-app', tags: [] };
    const onlyMini = [models.get('gpt-4o-mini')!];
    expect(linesForIdentity(budgets, who, onlyMini).map((l) => l.instance)).toEqual([
      'key',
      'openai',
      'per-model|model=gpt-4o-mini',
    ]);
    expect(linesForIdentity(budgets, who, []).map((l) => l.instance)).toEqual(['key']);
    expect(linesForIdentity(budgets, who, models.values()).map((l) => l.instance)).toContain('sonnet');
  });
});
