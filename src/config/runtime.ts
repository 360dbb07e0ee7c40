/**
 * The compiled config the gateway runs on: prices in pico-USD per token, limits in nano-USD,
 * keys indexed by their SHA-256, budgets with parsed scopes. Built once per (re)load by
 * compileConfig (compile.ts); a request keeps the RuntimeConfig it started with.
 */
import type { Nano } from '../money.js';
import type { ProviderKind } from '../providers/types.js';
import type { ModelPrice } from '../usage.js';
import type { ModelPricing } from './model-prices.js';
import type { AlertEventType, BudgetConfig, KeyConfig, Period, ScopeField } from './schema.js';

export interface RuntimeProvider {
  name: string;
  kind: ProviderKind;
  /** Base URL without a trailing slash, e.g. https://api.openai.com/v1 or https://api.anthropic.com. */
  baseUrl: string;
  apiKey: string;
  headers: Record<string, string>;
  timeouts: { connectMs: number; headersMs: number; bodyMs: number };
  connections: number;
  /** azure: deployment URLs with this api-version, or "v1" (the v1 API). */
  apiVersion?: string;
  /** azure: upstream model -> deployment name. */
  deployments?: Readonly<Record<string, string>>;
  /** false: the server refuses stream_options; streams are billed from the relayed text. */
  streamUsage?: false;
}

export interface RuntimeModel {
  name: string;
  provider: RuntimeProvider;
  /** The name sent upstream. */
  upstreamModel: string;
  /** The price in force now: catalogue-priced models resolve it when read (config/model-prices.ts). */
  readonly price: ModelPrice;
  /** Effective prices and their source, for GET /admin/models. */
  pricing?: ModelPricing;
  /** Most output tokens the model can produce; undefined for models without output (embeddings). */
  maxOutputTokens: number | undefined;
  /** Configured context window; undefined means DEFAULT_CONTEXT_WINDOW (routes/proxy/admission.ts). */
  contextWindow?: number;
  /** Chat completions output-cap field for this model. */
  capField: 'max_tokens' | 'max_completion_tokens';
  /** Bills reasoning it does not stream: its requests are not metered (they reserve the whole cap). */
  hiddenReasoning?: boolean;
}

export interface RuntimeKey {
  id: string;
  user?: string;
  team?: string;
  tags: string[];
  /** Allowed models; undefined = all. */
  models?: ReadonlySet<string>;
  /** Most choices (`n`) one request may ask for; undefined = no limit. */
  maxChoices?: number;
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

// --- [limits] ---
/** A rate/concurrency limit (config `limits:`, or the trial's per-visitor `anonymous.limits`). */
export interface RuntimeLimit {
  id: string;
  scope: Scope;
  /** 0: not limited. */
  requestsPerMinute: number;
  tokensPerMinute: number;
  concurrentRequests: number;
  concurrentStreams: number;
}

export interface RuntimeLimits {
  list: RuntimeLimit[];
  /** Each trial visitor's limits (scope key: anonymous, user: "*"); undefined when none are set. */
  anonymous: RuntimeLimit | undefined;
  /** All trial users together; undefined when anonymous.total is not set. */
  trialTotal: RuntimeBudget | undefined;
  /** Load balancers in front (anonymous.trusted_proxies); validated CIDRs. */
  trustedProxies: readonly string[];
  /** HMAC secret trial visitor ids are signed with; undefined: ids are taken as sent. */
  visitorSecret: string | undefined;
  exhaustedStatus: 429 | 402;
  streamReadDeadlineMs: number;
  adminFailedAttemptsPerMinute: number;
}

export interface RuntimeConfig {
  limits: RuntimeLimits;
  /**
   * The file's own definitions of budgets and keys, as written (defaults applied; key secrets
   * left out): for the admin API's echo of config-file records (GET /admin/budgets, /admin/keys)
   * only. Everything else reads the compiled fields below.
   */
  fileDefinitions: FileDefinitions;
  server: {
    host: string;
    port: number;
    maxBodyBytes: number;
    requestTimeoutMs: number;
    shutdownGraceMs: number;
    /** SIGTERM: readiness fails and answers close their connections this long before accepting stops (absent: 0). */
    preStopDelayMs?: number;
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
  budgeting: {
    minOutputTokens: number;
    /** A reservation's lease (budgeting.lease_ms), renewed every renewEveryMs while its request lives. */
    leaseMs: number;
    renewEveryMs: number;
    /** Renewals stop this long after the reservation (request_timeout_ms + lease_margin_ms). */
    maxHoldMs: number;
    /** Output tokens per sequence a metered request reserves at a time; 0: metering off. */
    sliceTokens: number;
    /** How long a request held back only by in-flight reservations waits; 0: refuse at once. */
    maxWaitMs: number;
  };
  /** No forecast before this much observed history (budget/forecast-evidence.ts). */
  forecast: { minHistoryMs: number; minPeriodFraction: number };
  /** Models to try, in order, when a model's provider fails before answering (same API kind). */
  fallbacks: ReadonlyMap<string, readonly string[]>;
  /** Cheaper models to suggest per model (savings suggestions); every name is a configured model. */
  alternatives: ReadonlyMap<string, readonly string[]>;
  alerts: RuntimeAlerts;
  history: RuntimeHistory;
  /**
   * Configured models with no price in YAML or the catalogue, by name -> provider name. They are not
   * in `models`: a request for one is refused naming the model (routes/proxy/admission.ts).
   */
  unpricedModels?: ReadonlyMap<string, string>;
  /** Opt-in catalogue refresh (providers/catalogue-refresh.ts); refreshUrl undefined: bundled data only. */
  pricing?: { refreshUrl: string | undefined; refreshIntervalMs: number };
  /** Where the budget, meta and history stores live (read by createStores, src/store/index.ts). */
  store: RuntimeStore;
  /** OpenTelemetry traces (src/telemetry/); read once at start-up. */
  telemetry: RuntimeTelemetry;
}

/** A key as the config file defines it, without its secret (`key`) or hash (`key_sha256`). */
export type FileKeyDefinition = Omit<KeyConfig, 'key' | 'key_sha256'>;

export interface FileDefinitions {
  budgets: readonly BudgetConfig[];
  keys: readonly FileKeyDefinition[];
}

export interface RuntimeWebhook {
  url: string;
  /** Signing secret; undefined when none is set (an empty one included). */
  secret: string | undefined;
  /** Alert types sent to this receiver; undefined = every type. */
  events: ReadonlySet<AlertEventType> | undefined;
}

export interface RuntimeAlerts {
  /** In file order: a delivery names its receiver by index. */
  webhooks: readonly RuntimeWebhook[];
  /** Recent alerts each instance keeps in memory for GET /admin/alerts. */
  historySize: number;
  /** Webhook delivery in the background (src/alerts/webhook-queue.ts). */
  delivery: {
    /** One attempt gives up after this long. */
    timeoutMs: number;
    /** Attempts per webhook and alert, the first included. */
    maxAttempts: number;
    /** Delay before the first retry; doubles per attempt (with jitter) up to maxBackoffMs. */
    backoffMs: number;
    maxBackoffMs: number;
    /** Deliveries waiting at most; past it the oldest waiting one is dropped. */
    queueSize: number;
  };
  /** Alerts per hour and type about instances of one "*" budget; the rest are suppressed. */
  perTemplatePerHour: number;
}

/** Usage history (hourly rollups and the request ledger) and the analytics that read it. */
export interface RuntimeHistory {
  rollupRetentionMs: number;
  ledgerRetentionMs: number;
  /** Finished requests are written at least this often ... */
  flushIntervalMs: number;
  /** ... or as soon as this many are waiting. */
  flushMaxRecords: number;
  /** An hour below this spend is never an anomaly. */
  anomalyMinNano: Nano;
  /** Robust z-score at or past which an hour is an anomaly. */
  anomalyScore: number;
  /** Where the rollups and the ledger live (read by createStores, src/store/index.ts). */
  store: RuntimeHistoryStore;
  /** Finished requests kept while the history store is down; past it they are dropped (counted). */
  bufferMaxEntries: number;
}

export interface RuntimeHistoryStore {
  /** same: beside the budget store (SQLite: its own file; Redis: the same deployment) | postgres. */
  type: 'same' | 'postgres';
  /** Postgres connection URL (type postgres). */
  url: string | undefined;
  /** SQLite history file set in the config; undefined: the default beside the budget file. */
  path: string | undefined;
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

/** OpenTelemetry traces: `otlp` is undefined when tracing is off (telemetry.otlp.endpoint empty). */
export interface RuntimeTelemetry {
  otlp:
    | {
        /** The full traces URL (…/v1/traces). */
        url: string;
        protocol: 'http/protobuf' | 'http/json';
        headers: Record<string, string>;
        timeoutMs: number;
        maxQueueSize: number;
        maxExportBatchSize: number;
        scheduledDelayMs: number;
      }
    | undefined;
  captureContent: boolean;
  serviceName: string;
}
