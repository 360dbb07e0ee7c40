/**
 * The config a gateway runs on: the config file, plus the budgets and keys made through the admin
 * API (kept in the metadata store, src/store/meta.ts; records.ts), merged into one RuntimeConfig
 * (merge.ts).
 *
 * The merged config is cached: the request path reads it from memory, never from the store. It is
 * rebuilt when the file is reloaded and when the store's metadata version moves (polled, and pushed
 * by Redis pub/sub). API records that no longer fit the file (a budget naming a model the file
 * dropped, an id the file now defines) stay stored but inactive, with the reasons, until fixed.
 */
import type { RuntimeConfig } from '../config/runtime.js';
import type { MetaStore } from '../store/meta.js';
import { type MergedConfig, mergeConfig } from './merge.js';
import { EMPTY_META, type ParsedMeta, parseMeta } from './records.js';

/** What a config reload answers: an invalid file keeps the running config and lists its problems. */
export type ReloadResult = { ok: true; warnings: string[] } | { ok: false; problems: string[] };

export interface RegistryLog {
  warn(message: string, detail?: Record<string, unknown>): void;
  info(message: string, detail?: Record<string, unknown>): void;
}

/**
 * Holds the merged config and keeps it current. Refreshes are serialised; one asked for while
 * another runs waits for a fresh read after it, so a writer that awaits refresh() after its write
 * always sees that write.
 */
export class ConfigRegistry {
  private fromFile: RuntimeConfig;
  private meta: ParsedMeta = EMPTY_META;
  private view: MergedConfig;
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private poller: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private failing = false;
  private lastWarning = '';

  constructor(
    file: RuntimeConfig,
    private readonly store: MetaStore | undefined,
    private readonly log: RegistryLog = { warn() {}, info() {} },
    /** Told every new merged config (gateway.ts keeps its `current` in step). */
    private readonly onChange: (config: RuntimeConfig) => void = () => {},
  ) {
    this.fromFile = file;
    this.view = mergeConfig(file, EMPTY_META);
  }

  /** The config requests run on (file + API records). */
  current(): RuntimeConfig {
    return this.view.config;
  }

  /** The config file alone, compiled. */
  fileConfig(): RuntimeConfig {
    return this.fromFile;
  }

  merged(): MergedConfig {
    return this.view;
  }

  /** A reloaded config file: merged with the API records already known, at once. */
  setFile(file: RuntimeConfig): void {
    this.fromFile = file;
    this.rebuild();
  }

  /** Reads the store's version, and every record when it moved. Never throws. */
  refresh(): Promise<void> {
    if (!this.running) {
      this.running = this.readStore().finally(() => {
        this.running = undefined;
      });
      return this.running;
    }
    this.queued ??= this.running.then(() => {
      this.queued = undefined;
      return this.refresh();
    });
    return this.queued;
  }

  /** Starts following the store: polling its version and listening for pushes. */
  start(): void {
    if (!this.store || this.poller) return;
    this.poller = setInterval(() => void this.refresh(), this.store.pollIntervalMs);
    this.poller.unref();
    this.unsubscribe = this.store.subscribe(() => void this.refresh());
  }

  stop(): void {
    if (this.poller) clearInterval(this.poller);
    this.poller = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  private async readStore(): Promise<void> {
    if (!this.store) return;
    try {
      const version = await this.store.version();
      if (version !== this.meta.version) {
        this.meta = parseMeta(await this.store.snapshot());
        this.rebuild();
      }
      if (this.failing) this.log.info('admin metadata readable again');
      this.failing = false;
    } catch (error) {
      if (!this.failing) {
        this.log.warn('cannot read API-made budgets and keys from the store; keeping the last ones seen', {
          error: (error as Error).message,
        });
      }
      this.failing = true;
    }
  }

  private rebuild(): void {
    this.view = mergeConfig(this.fromFile, this.meta);
    this.onChange(this.view.config);
    const inactive = [
      ...[...this.view.inactiveBudgets].map(([id, problems]) => `budget ${id}: ${problems.join('; ')}`),
      ...[...this.view.inactiveKeys].map(([id, problems]) => `key ${id}: ${problems.join('; ')}`),
      ...this.meta.unreadable.map((what) => `${what}: unreadable record`),
    ];
    const warning = inactive.join('\n');
    if (warning && warning !== this.lastWarning)
      this.log.warn('API-made records not in force', { records: inactive });
    this.lastWarning = warning;
  }
}
