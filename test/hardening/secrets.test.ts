/**
 * Secrets at the edge ([hardening] 13): the metrics token is compared in constant time whatever
 * the length of the guess (both hashed, then timingSafeEqual over 32 bytes), and the answer that
 * shows a new key's secret is never cached.
 */
import type * as crypto from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { adminCall } from '../helpers/admin.js';
import { type Stack, startStack } from '../helpers/stack.js';

const compared: number[][] = [];
vi.mock('node:crypto', async (importOriginal) => {
  const original = await importOriginal<typeof crypto>();
  return {
    ...original,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      compared.push([a.byteLength, b.byteLength]);
      return original.timingSafeEqual(a, b);
    },
  };
});

const METRICS_TOKEN = 'scrape-token-secrets-test-0202';

describe('secrets at the edge', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ serverYaml: `, metrics_token: "${METRICS_TOKEN}"` });
  });
  afterAll(() => stack.close());
  beforeEach(() => {
    compared.length = 0;
  });

  it('compares metrics tokens of any length over equal-length digests', async () => {
    for (const guess of ['x', METRICS_TOKEN.slice(0, -1), `${METRICS_TOKEN}x`, 'y'.repeat(500)]) {
      const response = await fetch(`${stack.gateway.url}/metrics`, {
        headers: { authorization: `Bearer ${guess}` },
      });
      expect(response.status).toBe(401);
    }
    // One comparison per guess, each over two SHA-256 digests: no early return on the length.
    expect(compared).toEqual([
      [32, 32],
      [32, 32],
      [32, 32],
      [32, 32],
    ]);
    const ok = await fetch(`${stack.gateway.url}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    expect(ok.status).toBe(200);
  });

  it('answers key creation with cache-control: no-store', async () => {
    const created = await adminCall(stack.gateway, 'POST', '/admin/keys', { id: 'no-store-key' });
    expect(created.status).toBe(201);
    expect(typeof created.body.key).toBe('string');
    expect(created.headers.get('cache-control')).toBe('no-store');
  });
});
