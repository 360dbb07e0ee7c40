/**
 * Issue 12, Done-when 1: whatever the request shape (every endpoint, n / best_of / prompt arrays,
 * caps absent, present or both, streams and not), the amount the gateway reserved is never below
 * what the mock provider bills for it, on SQLite and on Redis. The mock fills every cap it is given
 * (x-mock-output-tokens up to 400 per sequence, reasoning inside the cap) and bills n choices,
 * best_of per prompt and thinking as the providers do.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedRedis, startRedis } from '../helpers/redis.js';
import { eventually, type Stack, startStack } from '../helpers/stack.js';
import { billedNano, send, shapes } from './worst-case-shapes.js';

const RUNS = 40;
const BUDGET = 'budgets:\n  - { id: everything, scope: global, limit_usd: 1000 }\n';

describe.each(['sqlite', 'redis'] as const)('reserved >= billed, %s store', (kind) => {
  let redis: StartedRedis | undefined;
  let stack: Stack;
  const counts = { requests: 0, streams: 0, multi: 0 };

  beforeAll(async () => {
    if (kind === 'redis') redis = await startRedis();
    stack = await startStack({
      extraYaml: BUDGET,
      ...(redis ? { store: { type: 'redis', url: redis.url, prefix: 'worstcase' } } : {}),
    });
  }, 30_000);
  afterAll(async () => {
    await stack?.close();
    await redis?.close();
    console.log(
      `${kind}: ${counts.requests} shapes, ${counts.streams} streamed, ${counts.multi} with several sequences`,
    );
  });

  it(`holds for ${RUNS} generated request shapes`, async () => {
    await fc.assert(
      fc.asyncProperty(shapes, async (shape) => {
        const served = stack.mock.served.length;
        const sent = await send(stack, shape);
        expect(sent.status, sent.text.slice(0, 300)).toBe(200);
        let record = stack.records.find((r) => r.requestId === sent.requestId);
        await eventually(() => {
          record = stack.records.find((r) => r.requestId === sent.requestId);
          expect(record).toBeDefined();
          expect(stack.mock.served[served]?.completed).toBe(true);
        });
        const mine = stack.mock.served.slice(served);
        expect(mine).toHaveLength(1);
        const upstream = mine[0]!;
        if (!record?.servedModel) throw new Error('record without a served model');
        const billed = billedNano(stack, upstream, record.servedModel);
        expect(upstream.usage, 'the mock reported usage').not.toBeNull();
        expect(billed, JSON.stringify({ shape, usage: upstream.usage, record })).toBeLessThanOrEqual(
          record.estimateNano,
        );
        // The books follow the mock's usage: what was settled is what the mock billed.
        expect(record.costNano).toBe(billed);
        counts.requests++;
        if (shape.body.stream === true) counts.streams++;
        const n = Number(shape.body.n ?? 1) * Number(shape.body.best_of ?? 1);
        if (n > 1 || (Array.isArray(shape.body.prompt) && typeof shape.body.prompt[0] !== 'number'))
          counts.multi++;
      }),
      { numRuns: RUNS },
    );
    expect(counts.requests).toBe(RUNS);
  }, 120_000);
});
