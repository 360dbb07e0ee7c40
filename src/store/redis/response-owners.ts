/**
 * Response owners in Redis (see ../response-owners.ts): one string key per response,
 * `{p}:resp-owner:<id>` = JSON [owner, provider], expiring after OWNER_TTL_MS (Redis drops it).
 * About 150 bytes per response in memory: a million Responses answers a day kept 30 days is
 * about 4.5 GB; requests with `store: false` (Codex CLI's default) are kept all the same.
 */
import type { ResponseOwner, ResponseOwnerStore } from '../response-owner-types.js';
import { OWNER_TTL_MS } from '../response-owner-types.js';
import { RedisClient, type RedisTarget } from './client.js';

export interface RedisResponseOwnersOptions extends RedisTarget {
  prefix: string;
  timeoutMs: number;
  ttlMs?: number;
}

export class RedisResponseOwners implements ResponseOwnerStore {
  private readonly redis: RedisClient;
  private readonly tag: string;
  private readonly ttlMs: number;

  constructor(options: RedisResponseOwnersOptions) {
    this.tag = `{${options.prefix}}`;
    this.ttlMs = options.ttlMs ?? OWNER_TTL_MS;
    this.redis = new RedisClient({ ...options, label: 'redis response owners' });
  }

  private key(responseId: string): string {
    return `${this.tag}:resp-owner:${responseId}`;
  }

  async put(responseId: string, served: ResponseOwner): Promise<void> {
    const value = JSON.stringify([served.owner, served.provider]);
    await this.redis.call((c) => c.set(this.key(responseId), value, 'PX', this.ttlMs));
  }

  async get(responseId: string): Promise<ResponseOwner | undefined> {
    const raw = await this.redis.call((c) => c.get(this.key(responseId)));
    if (raw === null) return undefined;
    try {
      const [owner, provider] = JSON.parse(raw) as unknown[];
      return typeof owner === 'string' && typeof provider === 'string' ? { owner, provider } : undefined;
    } catch {
      return undefined;
    }
  }

  close(): Promise<void> {
    return this.redis.close();
  }
}
