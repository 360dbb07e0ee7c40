/**
 * The compiled config the gateway runs on: prices in pico-USD per token, limits in nano-USD,
 * keys indexed by their SHA-256, budgets with parsed scopes. Built once per (re)load by
 * compileConfig (compile.ts); a request keeps the RuntimeConfig it started with.
 */
import type { Nano } from '../money.js';
import type { ProviderKind } from '../providers/types.js';
import type { ModelPrice } from '../usage.js';
import type { ConfigFile, Period, ScopeField } from './schema.js';

export interface RuntimeProvider {
  name: string;
  kind: ProviderKind;
  /** Base URL without a trailing slash, e.g. https://api.openai.com/v1 or https://api.anthropic.com. */
  baseUrl: string;
  apiKey: string;
  headers: Record<string, string>;
  timeouts: { connectMs: number; headersMs: number; bodyMs: number };
  connections: number;
}

export interface RuntimeModel {
  name: string;
  provider: RuntimeProvider;
  /** The name sent upstream. */
  upstreamModel: string;
  price: ModelPrice;
  /** Most output tokens the model can produce; undefined for models without output (embeddings). */
  maxOutputTokens: number | undefined;
  /** Configured context window; undefined means DEFAULT_CONTEXT_WINDOW (routes/proxy/admission.ts). */
  contextWindow?: number;
  /** Chat completions output-cap field for this model. */
  capField: 'max_tokens' | 'max_completion_tokens';
}

export interface RuntimeKey {
  id: string;
  user?: string;
  team?: string;
  tags: string[];
  /** Allowed models; undefined = all. */
  models?: ReadonlySet<string>;
  source: 'config' | 'api';
}

/** A scope: AND of fields; a value "*" makes the budget a template (one instance per distinct value). */
export type Scope = 'global' | Partial<Record<ScopeField, string>>;

export interface RuntimeThreshold {
  at: number;
  alert: boolean;
  /** Model -> cheaper model, applied while the used ratio is at or past `at`. */
  downgrade?: ReadonlyMap<string, string>;
}

export interface RuntimeBudget {
  id: string;
  scope: Scope;
  limitNano: Nano;
  period: Period;
  timezone: string;
  rolloverMaxNano: Nano;
  thresholds: RuntimeThreshold[];
  source: 'config' | 'api' | 'anonymous';
}

export interface RuntimeConfig {
  /** The validated file, defaults applied (for reference and the admin API). */
  file: ConfigFile;
  server: {
    host: string;
    port: number;
    maxBodyBytes: number;
    requestTimeoutMs: number;
    shutdownGraceMs: number;
    clientHeaderTimeoutMs: number;
    clientRequestTimeoutMs: number;
    logLevel: string;
    metricsToken: string;
    trustProxy: boolean;
  };
  adminToken: string;
  providers: ReadonlyMap<string, RuntimeProvider>;
  models: ReadonlyMap<string, RuntimeModel>;
  /** Virtual keys by hex SHA-256 of the key. */
  keysByHash: ReadonlyMap<string, RuntimeKey>;
  budgets: RuntimeBudget[];
  anonymous: {
    enabled: boolean;
    /** 'ip', or the lower-cased header name. */
    identifyBy: { kind: 'ip' } | { kind: 'header'; header: string };
    budget: RuntimeBudget;
    models: ReadonlySet<string>;
    upgradeMessage: string;
  };
  budgeting: { minOutputTokens: number; leaseMs: number };
  /** Models to try, in order, when a model's provider fails before answering (same API kind). */
  fallbacks: ReadonlyMap<string, readonly string[]>;
  /** Where the budget, meta and history stores live (read by createStores, src/store/index.ts). */
  store: RuntimeStore;
}

export interface RuntimeStore {
  type: 'sqlite' | 'redis';
  /** SQLite file, or ':memory:'. */
  path: string;
  /** One Redis (redis://host:port/db); undefined when clusterNodes are given. */
  url: string | undefined;
  /** Redis Cluster seed nodes; undefined for one Redis (malformed ones are config problems). */
  clusterNodes: ReadonlyArray<{ host: string; port: number }> | undefined;
  /** Redis key prefix and hash tag: {prefix}. */
  prefix: string;
  /** Bound on every store call. */
  timeoutMs: number;
  /** What a request gets while the store does not answer. */
  onUnavailable: 'reject' | 'allow';
}
