import { describe, expect, it } from 'vitest';
import { parseMeta } from './records.js';

const AT = '2026-01-01T00:00:00.000Z';

describe('parseMeta', () => {
  it('validates stored records and reports the ones it cannot read, by kind and id', () => {
    const parsed = parseMeta({
      version: 7,
      budgets: [
        {
          id: 'ok',
          value: { budget: { id: 'ok', scope: 'global', limit_usd: 5 }, created_at: AT, updated_at: AT },
        },
        // A record stored under another id than it names is not trusted.
        {
          id: 'moved',
          value: { budget: { id: 'other', scope: 'global', limit_usd: 5 }, created_at: AT, updated_at: AT },
        },
        { id: 'broken', value: undefined },
      ],
      keys: [
        { id: 'k1', value: { id: 'k1', key_sha256: 'a'.repeat(64), created_at: AT } },
        { id: 'k2', value: { id: 'k2', key_sha256: 'not-hex', created_at: AT } },
      ],
    });
    expect(parsed.version).toBe(7);
    expect(parsed.budgets.map((r) => [r.budget.id, r.budget.period, r.budget.timezone])).toEqual([
      ['ok', 'monthly', 'UTC'],
    ]);
    expect(parsed.keys.map((r) => [r.id, r.tags])).toEqual([['k1', []]]);
    expect(parsed.unreadable).toEqual(['budgets/moved', 'budgets/broken', 'keys/k2']);
  });
});
