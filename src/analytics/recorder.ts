/**
 * Feeds the usage history from finished requests, off the request path: record() only appends to
 * an in-memory buffer; a timer (or a full batch) writes the buffer as one store call with the
 * rollups already summed. A failed write keeps its batch for the next attempt, retried with
 * back-off (the flush interval doubling per failure up to MAX_BACKOFF_MS; a full buffer does not
 * hurry it), bounded: past maxBuffered records the oldest are dropped and counted (onDropped).
 * A periodic prune applies retention.
 *
 * Requests that named no known key (401: bad or missing key) get no ledger row: they cost nothing,
 * reconcile with no invoice, and anyone can send them, so a row each (kept 90 days) would let an
 * unauthenticated client grow the store at will. They are summed into their hour's rollup instead
 * (requests and errors with an empty key), a bounded number of rows whatever their rate.
 */
import type { RequestRecord } from '../record.js';
import type {
  HistoryRetention,
  HistoryStore,
  LedgerEntry,
  PruneResult,
  RollupRow,
} from '../store/history.js';
import { addCounters, ledgerEntryOf, rollupsOf } from './records.js';

export interface RecorderSettings {
  flushIntervalMs: number;
  /** A batch this large is written at once, without waiting for the timer. */
  maxBatch: number;
  retention: HistoryRetention;
  /** Records kept while the store is down; past it the oldest are dropped. Overrides maxBuffered. */
  maxBuffered?: number;
}

/** The longest wait between two write attempts while the store keeps failing. */
export const MAX_BACKOFF_MS = 10_000;

export interface RecorderOptions {
  store: HistoryStore;
  settings: () => RecorderSettings;
  clock?: () => number;
  /** Records kept while the store is down; past it the oldest are dropped. Default 100 000. */
  maxBuffered?: number;
  /** How often retention is applied; 0 disables the timer (tests call prune()). Default one hour. */
  pruneIntervalMs?: number;
  onError?: (operation: 'write' | 'prune', error: unknown) => void;
  /** Called with how many records were just dropped (the buffer was full). */
  onDropped?: (count: number) => void;
}

export class Recorder {
  private buffer: LedgerEntry[] = [];
  /** Unauthenticated requests, one rollup row per hour and dimensions, waiting for the next write. */
  private aggregated = new Map<string, RollupRow>();
  private flushing: Promise<void> | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly pruneTimer: NodeJS.Timeout | undefined;
  private readonly firstPrune: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private closed = false;
  private droppedCount = 0;
  /** Write attempts failed in a row; > 0 means backing off. */
  private failures = 0;
  private readonly clock: () => number;
  private readonly maxBuffered: number;

  constructor(private readonly options: RecorderOptions) {
    this.clock = options.clock ?? Date.now;
    this.maxBuffered = options.maxBuffered ?? 100_000;
    this.schedule();
    const pruneEvery = options.pruneIntervalMs ?? 3_600_000;
    if (pruneEvery > 0) {
      // Once soon after start (a restart after a long stop has a backlog), then periodically.
      this.firstPrune = setTimeout(() => void this.prune().catch(() => {}), Math.min(pruneEvery, 30_000));
      this.firstPrune.unref();
      this.pruneTimer = setInterval(() => void this.prune().catch(() => {}), pruneEvery);
      this.pruneTimer.unref();
    }
  }

  /** Records still waiting to be written. */
  get pending(): number {
    return this.buffer.length + this.aggregated.size;
  }

  /** Records dropped because the store stayed down while the buffer was full. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Write attempts that failed in a row (0 once a write succeeds). */
  get consecutiveFailures(): number {
    return this.failures;
  }

  /** Called on the request path: a copy into the buffer, nothing else. */
  record(record: RequestRecord): void {
    if (this.closed) return;
    if (record.keyId === null) {
      // Every dimension the client chose (user header, model in the body) blanked: one row an hour.
      const entry = {
        ...ledgerEntryOf(record),
        user: null,
        team: null,
        requestedModel: null,
        servedModel: null,
        provider: null,
      };
      for (const row of rollupsOf([entry])) this.aggregate(row);
      return;
    }
    this.buffer.push(ledgerEntryOf(record));
    const settings = this.options.settings();
    this.trim();
    // While backing off, a full batch waits for the retry timer: a down store is not hammered.
    if (this.buffer.length >= settings.maxBatch && this.failures === 0 && !this.immediate && !this.flushing) {
      this.immediate = setImmediate(() => {
        this.immediate = undefined;
        void this.flush().catch(() => {});
      });
    }
  }

  /** Writes everything buffered so far; rejects when the store fails (the records stay buffered). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing.catch(() => {});
    this.flushing = this.writeAll();
    try {
      await this.flushing;
    } finally {
      this.flushing = undefined;
    }
  }

  async prune(nowMs = this.clock()): Promise<PruneResult> {
    const { retention } = this.options.settings();
    try {
      return await this.options.store.prune(nowMs - retention.rollupMs, nowMs - retention.ledgerMs);
    } catch (error) {
      this.options.onError?.('prune', error);
      throw error;
    }
  }

  /** Stops the timers and writes what is buffered (best effort: a down store loses the buffer). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.flushTimer);
    clearInterval(this.pruneTimer);
    clearTimeout(this.firstPrune);
    if (this.immediate) clearImmediate(this.immediate);
    await this.flush().catch(() => {});
  }

  private async writeAll(): Promise<void> {
    const { maxBatch, retention } = this.options.settings();
    while (this.buffer.length > 0 || this.aggregated.size > 0) {
      const batch = this.buffer.splice(0, Math.max(1, maxBatch));
      const aggregated = [...this.aggregated.values()];
      this.aggregated.clear();
      try {
        await this.options.store.write([...rollupsOf(batch), ...aggregated], batch, retention);
        this.failures = 0;
      } catch (error) {
        // Back to the front, in order; the retry timer tries again.
        this.buffer.unshift(...batch);
        for (const row of aggregated) this.aggregate(row);
        this.failures++;
        this.trim(); // records that came in during the attempt may have filled the buffer
        this.options.onError?.('write', error);
        throw error;
      }
    }
  }

  private aggregate(row: RollupRow): void {
    const { hourMs, key, user, team, model, provider, short } = row;
    const id = JSON.stringify([hourMs, key, user, team, model, provider, short]);
    const into = this.aggregated.get(id);
    if (into) addCounters(into, row);
    else this.aggregated.set(id, { ...row });
  }

  /** Past the bound, the oldest records go (and are counted). */
  private trim(): void {
    const bound = this.options.settings().maxBuffered ?? this.maxBuffered;
    if (this.buffer.length <= bound) return;
    const excess = this.buffer.length - bound;
    this.buffer.splice(0, excess);
    this.droppedCount += excess;
    this.options.onDropped?.(excess);
  }

  /** The wait before the next timed flush: the interval, doubled per failure in a row, capped. */
  private nextDelayMs(): number {
    const interval = this.options.settings().flushIntervalMs;
    if (this.failures === 0) return interval;
    return Math.max(interval, Math.min(MAX_BACKOFF_MS, interval * 2 ** this.failures));
  }

  private schedule(): void {
    if (this.closed) return;
    this.flushTimer = setTimeout(() => {
      void this.flush()
        .catch(() => {})
        .finally(() => this.schedule());
    }, this.nextDelayMs());
    this.flushTimer.unref();
  }
}
