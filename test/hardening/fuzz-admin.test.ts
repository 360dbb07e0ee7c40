/**
 * Property-based admin payloads: any body on a write route either succeeds or gets a 4xx listing
 * its problems — never a 5xx — and a refused write changes nothing stored.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminCall, storedMeta } from '../helpers/admin.js';
import { type Stack, startStack } from '../helpers/stack.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    extraYaml: 'budgets:\n  - { id: yaml-budget, scope: global, limit_usd: 10 }\n',
  });
});
afterAll(async () => stack?.close());

const budgetLike = fc.record(
  {
    id: fc.oneof(fc.constantFrom('b1', 'yaml-budget', '', 'has space', 'x'.repeat(300)), fc.jsonValue()),
    scope: fc.oneof(
      fc.constantFrom(
        'global',
        { team: 'web' },
        { user: '*' },
        { model: 'gpt-4o' },
        { model: 'nope' },
        { colour: 'x' },
      ),
      fc.jsonValue(),
    ),
    limit_usd: fc.oneof(fc.double({ min: -10, max: 1e6, noNaN: false }), fc.jsonValue()),
    period: fc.oneof(fc.constantFrom('daily', 'weekly', 'monthly', 'none', 'yearly'), fc.jsonValue()),
    timezone: fc.oneof(fc.constantFrom('UTC', 'Asia/Tokyo', 'Mars/Base'), fc.jsonValue()),
    thresholds: fc.oneof(
      fc.array(
        fc.record(
          {
            at: fc.oneof(fc.double({ min: -1, max: 2 }), fc.jsonValue()),
            downgrade: fc.oneof(
              fc.constantFrom({ 'gpt-4o': 'gpt-4o-mini' }, { 'gpt-4o': 'gpt-9' }),
              fc.jsonValue(),
            ),
          },
          { requiredKeys: [] },
        ),
        { maxLength: 3 },
      ),
      fc.jsonValue(),
    ),
  },
  { requiredKeys: [] },
);

const keyLike = fc.record(
  {
    id: fc.oneof(fc.constantFrom('k1', 'alpha', ''), fc.jsonValue()),
    team: fc.oneof(fc.string({ maxLength: 10 }), fc.jsonValue()),
    user: fc.oneof(fc.string({ maxLength: 10 }), fc.jsonValue()),
    tags: fc.oneof(fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }), fc.jsonValue()),
    models: fc.oneof(fc.constantFrom(['gpt-4o'], ['nope'], []), fc.jsonValue()),
  },
  { requiredKeys: [] },
);

/** Valid budgets under fresh ids, so the stored side of the property is always explored too. */
const validBudget = fc.record({
  id: fc.stringMatching(/^[a-z]{8}$/),
  scope: fc.constantFrom('global', { team: 'web' }, { user: '*' }),
  limit_usd: fc.integer({ min: 1, max: 1000 }),
});

const writes = fc.oneof(
  fc.tuple(fc.constant('POST'), fc.constant('/admin/budgets'), validBudget as fc.Arbitrary<unknown>),
  fc.tuple(fc.constant('POST'), fc.constant('/admin/budgets'), budgetLike as fc.Arbitrary<unknown>),
  fc.tuple(
    fc.constant('PUT'),
    fc.constantFrom('/admin/budgets/b1', '/admin/budgets/yaml-budget'),
    budgetLike,
  ),
  fc.tuple(fc.constant('POST'), fc.constant('/admin/keys'), keyLike as fc.Arbitrary<unknown>),
  fc.tuple(
    fc.constant('POST'),
    fc.constantFrom(
      '/admin/budgets/yaml-budget/topup',
      '/admin/budgets/b1/topup',
      '/admin/budgets/nope/reset',
    ),
    fc.oneof(
      fc.record({ amount_usd: fc.oneof(fc.double({ min: -5, max: 5 }), fc.jsonValue()) }),
      fc.jsonValue(),
    ),
  ),
  fc.tuple(
    fc.constantFrom('POST', 'PUT'),
    fc.constantFrom('/admin/budgets', '/admin/keys'),
    fc.string({ maxLength: 50 }),
  ),
);

describe('admin payload fuzzing', () => {
  it('never answers 5xx, and a refused write stores nothing', async () => {
    let refused = 0;
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(writes, async ([method, path, body]) => {
        const before = await storedMeta(stack.gateway);
        const answer = await adminCall(stack.gateway, method, path, body);
        expect(answer.status, answer.text).toBeLessThan(500);
        if (answer.status >= 400) {
          refused++;
          expect(answer.body?.error?.message, answer.text).toEqual(expect.any(String));
          const after = await storedMeta(stack.gateway);
          expect(after.budgets).toEqual(before.budgets);
          expect(after.keys).toEqual(before.keys);
          expect(after.version).toBe(before.version);
        } else {
          accepted++;
        }
      }),
      { numRuns: 150 },
    );
    // Both sides were explored: writes refused and writes stored.
    expect(refused).toBeGreaterThan(20);
    expect(accepted).toBeGreaterThan(0);
  });
});
