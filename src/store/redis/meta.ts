/**
 * API-made budgets and keys in Redis, beside the counters and under the same hash tag:
 *   {p}:meta:budgets   hash id -> JSON
 *   {p}:meta:keys      hash id -> JSON
 *   {p}:meta:version   integer, bumped by every write (in the same script)
 *   {p}:meta:changed   pub/sub channel: the new version, published after each write
 * Instances subscribe to the channel and also poll the version (a message lost while a
 * subscriber reconnects must not leave an instance on old keys or budgets for long).
 */
import { type MetaKind, type MetaSnapshot, type MetaStore, type PutMode, parseRecord } from '../meta.js';
import { type Connection, connectRedis, RedisClient, type RedisTarget } from './client.js';
import { RedisEpoch } from './epoch.js';
import { decodeCount, decodeMetaSnapshot } from './replies.js';

export interface RedisMetaStoreOptions extends RedisTarget {
  prefix: string;
  timeoutMs: number;
  /** The deployment epoch shared with the budget store: during a reset, metadata reads and writes fail closed. */
  epoch?: RedisEpoch;
  pollIntervalMs?: number;
}

export class RedisMetaStore implements MetaStore {
  readonly kind = 'redis' as const;
  readonly pollIntervalMs: number;
  private readonly redis: RedisClient;
  private subscriber: Connection | undefined;
  private readonly listeners = new Set<(version: number | null) => void>();
  private readonly keys: { budgets: string; keys: string; version: string; channel: string };
  private closed = false;

  constructor(private readonly options: RedisMetaStoreOptions) {
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    const tag = `{${options.prefix}}`;
    this.keys = {
      budgets: `${tag}:meta:budgets`,
      keys: `${tag}:meta:keys`,
      version: `${tag}:meta:version`,
      channel: `${tag}:meta:changed`,
    };
    this.redis = new RedisClient({
      ...options,
      label: 'redis store',
      scripts: ['metaPut', 'metaRemove', 'metaSnapshot', 'epoch'],
      // Alone (tests, tools) it keeps an epoch of its own; createStores shares the budget store's.
      epoch: options.epoch ?? new RedisEpoch(tag),
    });
  }

  async version(): Promise<number> {
    return Number((await this.redis.call((c) => c.get(this.keys.version))) ?? 0);
  }

  async snapshot(): Promise<MetaSnapshot> {
    const reply = await this.redis.script(
      'metaSnapshot',
      [this.keys.version, this.keys.budgets, this.keys.keys],
      [],
    );
    const { version, budgets, keys } = decodeMetaSnapshot(reply);
    return { version, budgets: pairs(budgets), keys: pairs(keys) };
  }

  async put(kind: MetaKind, id: string, value: unknown, mode: PutMode): Promise<number | null> {
    const keys = [this.keys[kind], this.keys.version];
    const version = await this.redis.script('metaPut', keys, [id, JSON.stringify(value), mode]);
    return this.announce(decodeCount(version));
  }

  async remove(kind: MetaKind, id: string): Promise<number | null> {
    const version = await this.redis.script('metaRemove', [this.keys[kind], this.keys.version], [id]);
    return this.announce(decodeCount(version));
  }

  subscribe(onChange: (version: number | null) => void): () => void {
    this.listeners.add(onChange);
    this.startSubscriber();
    return () => {
      this.listeners.delete(onChange);
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    await this.redis.close(this.subscriber ? [this.subscriber] : []);
  }

  /** Tells the other instances (best effort: they poll too); maps the scripts' 0 to null. */
  private async announce(version: number): Promise<number | null> {
    if (!version) return null;
    await this.redis.connection.publish(this.keys.channel, String(version)).catch(() => {});
    return version;
  }

  private startSubscriber(): void {
    if (this.subscriber || this.closed) return;
    // Queues until connected and resubscribes after a reconnect (commands fail fast instead).
    const subscriber = connectRedis(this.options, this.options.timeoutMs, 'subscriber');
    this.subscriber = subscriber;
    const notify = (version: number | null) => {
      for (const listener of this.listeners) listener(version);
    };
    subscriber.on('message', (_channel: string, message: string) => {
      const version = Number(message);
      notify(Number.isSafeInteger(version) ? version : null);
    });
    // After a reconnect, messages sent meanwhile are gone: check the version once.
    subscriber.on('ready', () => notify(null));
    subscriber.subscribe(this.keys.channel).catch(() => {});
  }
}

function pairs(flat: string[]): Array<{ id: string; value: unknown }> {
  const out: Array<{ id: string; value: unknown }> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push({ id: flat[i]!, value: parseRecord(flat[i + 1]!) });
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
