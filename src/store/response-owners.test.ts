/**
 * The shared response owners (SQLite file, real Redis): what one instance writes another reads,
 * unknown ids are unknown, entries expire after the TTL, a closed store is unavailable.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedRedis, startRedis } from '../../test/helpers/redis.js';
import { RedisResponseOwners } from './redis/response-owners.js';
import { OWNER_TTL_MS, type ResponseOwnerStore } from './response-owners.js';
import { SqliteResponseOwners } from './sqlite/response-owners.js';
import { StoreUnavailableError } from './types.js';

let redis: StartedRedis;
let dir: string;
beforeAll(async () => {
  redis = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'llmgw-owners-'));
});
afterAll(async () => {
  await redis?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const kinds: Array<{ name: string; open(): { a: ResponseOwnerStore; b: ResponseOwnerStore } }> = [
  {
    name: 'sqlite',
    open() {
      const path = join(dir, `${randomUUID()}.db`);
      return { a: new SqliteResponseOwners({ path }), b: new SqliteResponseOwners({ path }) };
    },
  },
  {
    name: 'redis',
    open() {
      const prefix = `o-${randomUUID()}`;
      const make = () => new RedisResponseOwners({ url: redis.url, prefix, timeoutMs: 5000 });
      return { a: make(), b: make() };
    },
  },
];

describe.each(kinds)('$name response owners', (kind) => {
  it('one instance reads what another wrote; an unknown id is unknown; a rewrite wins', async () => {
    const { a, b } = kind.open();
    try {
      await a.put('resp_1', { owner: 'key:alpha', provider: 'openai' });
      expect(await b.get('resp_1')).toEqual({ owner: 'key:alpha', provider: 'openai' });
      expect(await b.get('resp_2')).toBeUndefined();
      await b.put('resp_1', { owner: 'key:bravo', provider: 'azure' });
      expect(await a.get('resp_1')).toEqual({ owner: 'key:bravo', provider: 'azure' });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
    await expect(a.get('resp_1')).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});

it('sqlite: an entry is gone once its TTL has passed (injected clock)', async () => {
  let now = Date.UTC(2030, 2, 15);
  const store = new SqliteResponseOwners({ path: join(dir, `${randomUUID()}.db`), clock: () => now });
  try {
    await store.put('resp_1', { owner: 'key:alpha', provider: 'openai' });
    now += OWNER_TTL_MS - 1;
    expect(await store.get('resp_1')).toBeDefined();
    now += 1;
    expect(await store.get('resp_1')).toBeUndefined();
  } finally {
    await store.close();
  }
});

it('redis: each entry is written with the TTL as its expiry', async () => {
  const prefix = `o-${randomUUID()}`;
  const store = new RedisResponseOwners({ url: redis.url, prefix, timeoutMs: 5000 });
  const raw = new Redis(redis.url);
  try {
    await store.put('resp_1', { owner: 'key:alpha', provider: 'openai' });
    const ttl = await raw.pttl(`{${prefix}}:resp-owner:resp_1`);
    expect(ttl).toBeGreaterThan(OWNER_TTL_MS - 60_000);
    expect(ttl).toBeLessThanOrEqual(OWNER_TTL_MS);
  } finally {
    raw.disconnect();
    await store.close();
  }
});
