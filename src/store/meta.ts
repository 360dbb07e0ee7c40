/**
 * The metadata store: budgets and virtual keys made through the admin API. They live in the same
 * place as the counters (the SQLite file or the Redis deployment), so every gateway instance sees
 * them. Records are opaque JSON here; the registry (src/registry/records.ts) validates them
 * and merges them with the config file.
 *
 * Every successful write bumps one version counter. Instances cache the merged config and refresh
 * it when the version moves: SQLite instances poll the version row (one indexed read, ~250 ms);
 * Redis instances are told by pub/sub and poll as a safety net. The request path never reads this
 * store: it runs on the cached config.
 */

export type MetaKind = 'budgets' | 'keys';

export interface MetaSnapshot {
  version: number;
  /** Raw records by kind, in id order (validated by the registry, not here). */
  budgets: Array<{ id: string; value: unknown }>;
  keys: Array<{ id: string; value: unknown }>;
}

export type PutMode = 'create' | 'replace';

export interface MetaStore {
  readonly kind: 'sqlite' | 'redis';
  /** How often instances should poll version() (push notifications, when any, come on top). */
  readonly pollIntervalMs: number;
  /** The version counter; cheap (one key or row). */
  version(): Promise<number>;
  /** Every record and the version they belong to, read atomically. */
  snapshot(): Promise<MetaSnapshot>;
  /**
   * Writes one record: 'create' only when the id is free, 'replace' only when it exists. Returns
   * the new version, or null when the precondition failed (nothing written).
   */
  put(kind: MetaKind, id: string, value: unknown, mode: PutMode): Promise<number | null>;
  /** Deletes one record; returns the new version, or null when there was none. */
  remove(kind: MetaKind, id: string): Promise<number | null>;
  /**
   * Calls onChange when another instance may have written (push): with the version a write made,
   * or null when a reconnect may have lost some (check the version). Returns an unsubscribe function.
   */
  subscribe(onChange: (version: number | null) => void): () => void;
  close(): Promise<void>;
}

/** Parses stored JSON; a record that does not parse shows as undefined (the registry skips it). */
export function parseRecord(json: string): unknown {
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return undefined;
  }
}
