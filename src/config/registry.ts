/**
 * The config a gateway runs on: the config file, plus the budgets and keys made through the admin
 * API (kept in the metadata store, src/store/meta.ts), merged into one RuntimeConfig.
 *
 * The merged config is cached: the request path reads it from memory, never from the store. It is
 * rebuilt when the file is reloaded and when the store's metadata version moves (polled, and pushed
 * by Redis pub/sub). API records that no longer fit the file (a budget naming a model the file
 * dropped, an id the file now defines) stay stored but inactive, with the reasons, until fixed.
 */
import { z } from 'zod';
import type { MetaSnapshot, MetaStore } from '../store/meta.js';
import { ANONYMOUS_BUDGET_ID, ANONYMOUS_KEY_ID, budgetProblems, compileBudget } from './compile.js';
import type { RuntimeBudget, RuntimeConfig, RuntimeKey } from './runtime.js';
import { budgetSchema } from './schema.js';

export const apiBudgetRecordSchema = z.object({
  budget: budgetSchema,
  created_at: z.string(),
  updated_at: z.string(),
});

export const apiKeyRecordSchema = z.object({
  id: z.string().min(1),
  key_sha256: z.string().regex(/^[0-9a-f]{64}$/),
  user: z.string().optional(),
  team: z.string().optional(),
  tags: z.array(z.string()).default([]),
  models: z.array(z.string()).optional(),
  created_at: z.string(),
});

export type ApiBudgetRecord = z.infer<typeof apiBudgetRecordSchema>;
export type ApiKeyRecord = z.infer<typeof apiKeyRecordSchema>;

/** The merge's outcome: the config to run on, and what the API records contributed. */
export interface MergedConfig {
  config: RuntimeConfig;
  /** Metadata version the API records came from; -1 before the first read. */
  version: number;
  apiBudgets: ReadonlyMap<string, ApiBudgetRecord>;
  apiKeys: ReadonlyMap<string, ApiKeyRecord>;
  /** API records stored but not in force, by id, with why. */
  inactiveBudgets: ReadonlyMap<string, string[]>;
  inactiveKeys: ReadonlyMap<string, string[]>;
}

export interface ParsedMeta {
  version: number;
  budgets: ApiBudgetRecord[];
  keys: ApiKeyRecord[];
  /** Stored records that did not parse (a newer or broken writer), by kind/id. */
  unreadable: string[];
}

export const EMPTY_META: ParsedMeta = { version: -1, budgets: [], keys: [], unreadable: [] };

export function parseMeta(snapshot: MetaSnapshot): ParsedMeta {
  const parsed: ParsedMeta = { version: snapshot.version, budgets: [], keys: [], unreadable: [] };
  for (const { id, value } of snapshot.budgets) {
    const record = apiBudgetRecordSchema.safeParse(value);
    if (record.success && record.data.budget.id === id) parsed.budgets.push(record.data);
    else parsed.unreadable.push(`budgets/${id}`);
  }
  for (const { id, value } of snapshot.keys) {
    const record = apiKeyRecordSchema.safeParse(value);
    if (record.success && record.data.id === id) parsed.keys.push(record.data);
    else parsed.unreadable.push(`keys/${id}`);
  }
  return parsed;
}

/**
 * Reference problems of a budget against a config (unknown models, providers, zones, downgrade
 * cycles), as `field: message` with fields relative to the budget (`thresholds[0].downgrade.gpt-4o`).
 */
export function budgetReferenceProblems(budget: z.infer<typeof budgetSchema>, file: RuntimeConfig): string[] {
  const models = new Map([...file.models].map(([name, m]) => [name, { provider: m.provider.name }]));
  return budgetProblems(budget, '', models, new Set(file.providers.keys())).map((p) => p.replace(/^\./, ''));
}

export function mergeConfig(file: RuntimeConfig, meta: ParsedMeta): MergedConfig {
  const fileBudgetIds = new Set(file.budgets.map((b) => b.id));
  const budgets: RuntimeBudget[] = [...file.budgets];
  const apiBudgets = new Map<string, ApiBudgetRecord>();
  const inactiveBudgets = new Map<string, string[]>();
  for (const record of meta.budgets) {
    const budget = record.budget;
    apiBudgets.set(budget.id, record);
    const problems =
      fileBudgetIds.has(budget.id) || budget.id === ANONYMOUS_BUDGET_ID
        ? [`id: the config file now defines a budget "${budget.id}"; it takes precedence`]
        : budgetReferenceProblems(budget, file);
    if (problems.length > 0) inactiveBudgets.set(budget.id, problems);
    else budgets.push(compileBudget(budget, 'api'));
  }

  const fileKeyIds = new Set([...file.keysByHash.values()].map((k) => k.id));
  const keysByHash = new Map<string, RuntimeKey>(file.keysByHash);
  const apiKeys = new Map<string, ApiKeyRecord>();
  const inactiveKeys = new Map<string, string[]>();
  for (const record of meta.keys) {
    apiKeys.set(record.id, record);
    if (fileKeyIds.has(record.id) || record.id === ANONYMOUS_KEY_ID) {
      inactiveKeys.set(record.id, [
        `id: the config file now defines a key "${record.id}"; it takes precedence`,
      ]);
      continue;
    }
    if (keysByHash.has(record.key_sha256)) {
      inactiveKeys.set(record.id, ['key: the config file now defines the same secret']);
      continue;
    }
    keysByHash.set(record.key_sha256, {
      id: record.id,
      user: record.user,
      team: record.team,
      tags: record.tags,
      models: record.models ? new Set(record.models) : undefined,
      source: 'api',
    });
  }

  return {
    config: { ...file, budgets, keysByHash },
    version: meta.version,
    apiBudgets,
    apiKeys,
    inactiveBudgets,
    inactiveKeys,
  };
}

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
  private file: RuntimeConfig;
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
    this.file = file;
    this.view = mergeConfig(file, EMPTY_META);
  }

  /** The config requests run on (file + API records). */
  current(): RuntimeConfig {
    return this.view.config;
  }

  /** The config file alone, compiled. */
  fileConfig(): RuntimeConfig {
    return this.file;
  }

  merged(): MergedConfig {
    return this.view;
  }

  /** A reloaded config file: merged with the API records already known, at once. */
  setFile(file: RuntimeConfig): void {
    this.file = file;
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
    this.view = mergeConfig(this.file, this.meta);
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
