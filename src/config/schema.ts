/**
 * The config file's schema. It stays free of transforms so the JSON Schema shipped in
 * config/gateway.schema.json is generated from it exactly (see scripts/gen-json-schema.ts);
 * conversions (sizes, prices, key hashes) happen when the config is compiled (runtime.ts).
 */
import { z } from 'zod';

const name = z.string().min(1, 'expected a non-empty string');
const positiveUsd = z.number({ error: 'expected a positive number' }).positive('expected a positive number');
const nonNegativeUsd = z.number({ error: 'expected a number >= 0' }).nonnegative('expected a number >= 0');
const pricePerMillion = z
  .number({ error: 'expected a price in USD per million tokens (a number >= 0)' })
  .nonnegative('expected a price in USD per million tokens (a number >= 0)');
const positiveInt = z.number({ error: 'expected a positive integer' }).int('expected an integer').positive();
const byteSize = z.union([
  z.number().int().positive(),
  z.string().regex(/^\d+(\.\d+)?\s*(b|kb|mb|gb)?$/i, 'expected a size such as 4mb, 512kb or 1048576'),
]);

export const periodSchema = z.enum(['daily', 'weekly', 'monthly', 'none']);
export const scopeFieldSchema = z.enum(['key', 'user', 'team', 'model', 'provider', 'tag']);

const serverSchema = z
  .object({
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8080),
    max_body_bytes: byteSize.default('4mb'),
    /** Upper bound on one proxied request, upstream included; also sizes reservation leases. */
    request_timeout_ms: positiveInt.default(600_000),
    /** A client must finish sending its request headers within this time (slow-loris guard). */
    client_header_timeout_ms: positiveInt.default(10_000),
    /** A client must finish sending its whole request (headers and body) within this time. */
    client_request_timeout_ms: positiveInt.default(60_000),
    /** How long SIGTERM waits for in-flight requests before closing them. */
    shutdown_grace_ms: positiveInt.default(30_000),
    /**
     * Rolling deploys ([hardening] 6; docs/operations.md). On SIGTERM /readyz answers 503 at once and
     * every answer says `connection: close`; the gateway keeps serving for pre_stop_delay_ms (the load
     * balancer's time to notice), then stops accepting and gives in-flight requests grace_ms
     * (default: shutdown_grace_ms) before ending the streams still running.
     */
    shutdown: z
      .object({
        pre_stop_delay_ms: z
          .number()
          .int('expected an integer')
          .min(0, 'expected an integer >= 0')
          .default(0),
        grace_ms: positiveInt.optional(),
      })
      .strict()
      .default({ pre_stop_delay_ms: 0 }),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** When set, GET /metrics requires `Authorization: Bearer <metrics_token>`. */
    metrics_token: z.string().default(''),
    /** Trust X-Forwarded-For for the client IP (anonymous identify_by: ip) when behind a proxy. */
    trust_proxy: z.boolean().default(false),
  })
  .strict();

const storeSchema = z
  .object({
    type: z.enum(['sqlite', 'redis']).default('sqlite'),
    path: z.string().default('./data/gateway.db'),
    url: z.string().optional(),
    /**
     * Redis Cluster seed nodes as "host:port" (IPv6 as "[::1]:7000"); instead of url. The client
     * discovers the other nodes; every key shares the {prefix} hash tag, so one node runs the scripts.
     */
    cluster_nodes: z
      .array(z.string().regex(/^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]]+):\d{1,5}$/, 'expected host:port'))
      .min(1, 'expected at least one host:port')
      .optional(),
    on_unavailable: z.enum(['reject', 'allow']).default('reject'),
    /** Every store call gives up after this long; the request then follows on_unavailable. */
    timeout_ms: positiveInt.default(500),
    /** Redis key prefix; used as the hash tag, so every key of a deployment lands in one cluster slot. */
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]+$/, 'expected letters, digits, _ . : -')
      .default('llmgw'),
  })
  .strict();

const providerSchema = z
  .object({
    /** `gemini` is another name for `google` (DESIGN.md's example config spells it so). */
    kind: z.enum(['openai', 'anthropic', 'google', 'gemini', 'azure', 'openai-compatible']),
    /**
     * azure: the `api-version` of deployment URLs ({base}/openai/deployments/{deployment}/...), or
     * "v1" for the v1 API ({base}/openai/v1/..., model in the body). Default 2024-10-21.
     */
    api_version: z.string().min(1).optional(),
    /** azure: model (its upstream name) -> deployment name; a model not listed is its own deployment. */
    deployments: z.record(z.string(), z.string().min(1)).optional(),
    /**
     * openai-compatible: false for servers that refuse `stream_options` (older vLLM, some proxies):
     * the gateway then never asks for a usage chunk and bills streams from the text it relayed.
     */
    stream_usage: z.boolean().optional(),
    base_url: z.url({ error: 'expected an http(s) URL' }),
    api_key: z.string().default(''),
    /** Headers added to every upstream request (e.g. OpenAI-Organization). */
    headers: z.record(z.string(), z.string()).default({}),
    timeouts: z
      .object({
        connect_ms: positiveInt.default(10_000),
        /** Time to the response headers (first byte). */
        headers_ms: positiveInt.default(120_000),
        /** Longest silence between two body chunks. */
        body_ms: positiveInt.default(300_000),
      })
      .strict()
      .default({ connect_ms: 10_000, headers_ms: 120_000, body_ms: 300_000 }),
    connections: positiveInt.default(256),
  })
  .strict();

/**
 * A long-context price tier: once a request's prompt (input + cache reads + cache writes) is more
 * than `above_input_tokens`, every token of the request is billed at these prices (Anthropic Claude
 * Sonnet 4/4.5 with the 1M-context beta, Gemini 2.5 Pro: above 200000). Cache prices default to the
 * tier's input price.
 */
const longContextSchema = z
  .object({
    above_input_tokens: positiveInt,
    input: pricePerMillion,
    output: pricePerMillion,
    cached_input: pricePerMillion.optional(),
    cache_read: pricePerMillion.optional(),
    cache_write: pricePerMillion.optional(),
  })
  .strict();

const modelSchema = z
  .object({
    provider: name,
    /** The model name sent upstream, when it differs from the name clients use. */
    upstream_model: z.string().optional(),
    /** Prices left out come from the catalogue (config/model-prices.ts); the ones written win, field by field. */
    input: pricePerMillion.optional(),
    output: pricePerMillion.optional(),
    /** false: price from YAML only (no catalogue field is merged in, e.g. to keep a flat price). */
    catalogue: z.boolean().default(true),
    cached_input: pricePerMillion.optional(),
    cache_read: pricePerMillion.optional(),
    cache_write: pricePerMillion.optional(),
    long_context: longContextSchema.optional(),
    max_output_tokens: positiveInt.optional(),
    /**
     * Most tokens the model reads in one call (input plus carried-over context). Reserved as input
     * when a request continues a conversation the gateway cannot measure (Responses
     * previous_response_id it did not serve, conversation); default 128000.
     */
    context_window: positiveInt.optional(),
    /** Which request field carries the output cap on chat completions (o-series and gpt-5 use max_completion_tokens). */
    output_cap_field: z.enum(['max_tokens', 'max_completion_tokens']).optional(),
    /**
     * The model bills reasoning tokens it does not stream (default true for OpenAI o-series and gpt-5,
     * Gemini 2.5 Pro/Flash and Gemini 3: compile.ts HIDDEN_REASONING_NAMES): the gateway cannot meter what it cannot see, so such requests reserve their
     * whole output cap instead of a slice at a time (docs/controls.md, "Metered requests").
     */
    hidden_reasoning: z.boolean().optional(),
  })
  .strict();

const keySchema = z
  .object({
    id: name,
    key_sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex characters')
      .optional(),
    key: z.string().min(8, 'expected a key of at least 8 characters').optional(),
    user: z.string().optional(),
    team: z.string().optional(),
    tags: z.array(z.string()).default([]),
    /** Allowed models; absent means every configured model. */
    models: z.array(name).optional(),
    /** Most choices one request may ask for (chat and completions `n`); absent means no limit. */
    max_choices: positiveInt.optional(),
  })
  .strict();

const scopeSchema = z.union([
  z.literal('global'),
  z
    .object({
      key: z.string().optional(),
      user: z.string().optional(),
      team: z.string().optional(),
      model: z.string().optional(),
      provider: z.string().optional(),
      tag: z.string().optional(),
    })
    .strict(),
]);

const thresholdSchema = z
  .object({
    at: z.number().gt(0, 'expected a ratio in (0, 1]').lte(1, 'expected a ratio in (0, 1]'),
    alert: z.boolean().default(true),
    downgrade: z.record(z.string(), z.string()).optional(),
  })
  .strict();

export const budgetSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'expected letters, digits, _ . -'),
    scope: scopeSchema,
    limit_usd: positiveUsd,
    period: periodSchema.default('monthly'),
    timezone: z.string().default('UTC'),
    rollover: z.object({ max_usd: nonNegativeUsd }).strict().optional(),
    thresholds: z.array(thresholdSchema).default([]),
  })
  .strict();

// --- [limits] rate and concurrency limits (src/limits/), trial hardening, abuse guards ---
/** What one limit counts; each field is optional (absent: that kind is not limited). */
const limitFields = {
  requests_per_minute: positiveInt.optional(),
  /** Prompt + output tokens: reserved at the estimate, settled to what the provider counted. */
  tokens_per_minute: positiveInt.optional(),
  /** Requests in flight (streams included, until their last byte); crash-safe like reservations. */
  concurrent_requests: positiveInt.optional(),
  /** Streams in flight: slow readers hold upstream connections, so they get their own cap. */
  concurrent_streams: positiveInt.optional(),
};

export const limitSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'expected letters, digits, _ . -'),
    scope: scopeSchema,
    ...limitFields,
  })
  .strict();

const anonymousLimitsSchema = z.object(limitFields).strict();

const trialTotalSchema = z
  .object({
    limit_usd: positiveUsd,
    period: periodSchema.default('daily'),
    timezone: z.string().default('UTC'),
  })
  .strict();

const anonymousSchema = z
  .object({
    /** CIDRs of the load balancers in front: the client is the rightmost X-Forwarded-For hop not in them. */
    trusted_proxies: z.array(z.string()).default([]),
    /** All trial users together: reserved on every trial request, so rotating ids cannot farm it. */
    total: trialTotalSchema.optional(),
    /** Each trial visitor's rate and concurrency limits. */
    limits: anonymousLimitsSchema.optional(),
    /**
     * When set, a header visitor id must be signed by the app: "<id>.<hex HMAC-SHA256(secret, id)>",
     * so a client cannot invent fresh ids.
     */
    visitor_secret: z.string().optional(),

    enabled: z.boolean().default(false),
    identify_by: z
      .string()
      .regex(/^(ip|header:[A-Za-z0-9-]+)$/, 'expected ip or header:<name>')
      .default('header:x-gateway-user'),
    budget: z
      .object({
        limit_usd: positiveUsd,
        period: periodSchema.default('daily'),
        timezone: z.string().default('UTC'),
      })
      .strict()
      .default({ limit_usd: 0.1, period: 'daily', timezone: 'UTC' }),
    models: z.array(name).default([]),
    upgrade_message: z
      .string()
      .default('Your free trial budget is used up. Create an account to keep going.'),
  })
  .strict();

const alertEventTypeSchema = z.enum(['threshold', 'exhausted', 'forecast', 'anomaly']);

const webhookSchema = z
  .object({
    url: z.url({ error: 'expected an http(s) URL' }),
    secret: z.string().optional(),
    events: z.array(alertEventTypeSchema).optional(),
  })
  .strict();

/** Webhook delivery: bounded, in the background, never on the request path. */
const alertDeliverySchema = z
  .object({
    /** One delivery attempt gives up after this long (a hanging receiver holds nothing else). */
    timeout_ms: positiveInt.default(5000),
    /** Attempts per webhook and alert, the first included; then the delivery is given up. */
    max_attempts: positiveInt.default(8),
    /** Delay before the first retry; it doubles per attempt (with jitter) up to max_backoff_ms. */
    backoff_ms: positiveInt.default(1000),
    max_backoff_ms: positiveInt.default(300_000),
    /** Deliveries waiting at most; past it the oldest waiting one is dropped (and counted). */
    queue_size: positiveInt.default(1000),
  })
  .strict();

const budgetingSchema = z
  .object({
    /** Fit-to-budget never lowers an output cap below this; past it the request is rejected. */
    min_output_tokens: positiveInt.default(256),
    /**
     * Added to server.request_timeout_ms to make the longest a reservation is held: its lease is
     * renewed (lease_renew_ms) until then at most, so a leaked hold still runs out.
     */
    lease_margin_ms: positiveInt.default(60_000),
    /**
     * A reservation's lease: renewed every lease_renew_ms while its request is alive, so a crashed
     * instance's money comes back about this long after the crash (plus one reaping pass).
     */
    lease_ms: positiveInt.default(15_000),
    /** How often an instance renews the leases of all its live reservations (one store call). */
    lease_renew_ms: positiveInt.default(5000),
    /**
     * Metered requests (streams, and plain requests the gateway streams upstream) reserve their
     * prompt plus this many output tokens per sequence, and extend by as many ahead of what was
     * relayed. 0 turns metering off (every request reserves its whole output cap).
     */
    stream_slice_tokens: z.number().int().min(0).default(1024),
    /**
     * A request held back only by other requests' reservations waits this long for them to settle
     * (first come, first served per budget line), then answers 429 budget_busy. 0: refuse at once.
     */
    max_wait_ms: z.number().int().min(0).default(5000),
    /** Status of a budget_exceeded refusal: 429 (what the SDKs expect) or 402 (for clients that retry every 429). */
    exhausted_status: z.union([z.literal(429), z.literal(402)]).default(429),
    /**
     * A stream whose client reads nothing for this long is cut: upstream aborted and billed for
     * what it produced (a slow reader must not hold a provider connection).
     */
    stream_read_deadline_ms: positiveInt.default(30_000),
  })
  .strict();

/**
 * Forecasts (/v1/budget, /admin/forecast, the exhaustion gauge, forecast alerts) wait for evidence:
 * none before the gateway has watched a budget's current period for the shorter of these two
 * (src/budget/forecast-evidence.ts says why the shorter). 0 turns the wait off.
 */
const forecastSchema = z
  .object({
    min_history_ms: z
      .number({ error: 'expected an integer >= 0' })
      .int('expected an integer')
      .nonnegative('expected an integer >= 0')
      .default(3_600_000),
    min_history_period_fraction: z
      .number({ error: 'expected a number from 0 to 1' })
      .min(0, 'expected a number from 0 to 1')
      .max(1, 'expected a number from 0 to 1')
      .default(0.05),
  })
  .strict();

/** Usage history (hourly rollups), the request ledger and the admin analytics read from them. */
const historySchema = z
  .object({
    /** Hourly usage rollups are kept this long (forecasts read the current period, suggestions 30 days). */
    rollup_retention_days: positiveInt.default(400),
    /** One record per request, for invoice reconciliation, is kept this long. */
    ledger_retention_days: positiveInt.default(90),
    /** Finished requests are written in batches: at least this often ... */
    flush_interval_ms: positiveInt.default(1000),
    /** ... or as soon as this many are waiting. */
    flush_max_records: positiveInt.default(500),
    /** An hour below this spend is never an anomaly (quiet keys never page). */
    anomaly_min_usd: nonNegativeUsd.default(1),
    /** Robust z-score (median and MAD of the trailing week) at or past which an hour is an anomaly. */
    anomaly_score: z
      .number({ error: 'expected a positive number' })
      .positive('expected a positive number')
      .default(6),
    // Where the history lives (src/store/index.ts, docs/history.md).
    /** same: beside the budget store (SQLite: its own file; Redis: the same Redis) | postgres (fleets). */
    store: z.enum(['same', 'postgres']).default('same'),
    /** postgres://user:password@host:port/database, when store is postgres. */
    url: z.string().optional(),
    /** SQLite history file; default: <store.path stem>-history.db beside the budget file. */
    path: z.string().optional(),
    /** Finished requests kept in memory while the history store is down; past it they are dropped (counted). */
    buffer_max_entries: positiveInt.default(100_000),
  })
  .strict();

/**
 * OpenTelemetry traces (src/telemetry/, docs/telemetry.md): off while otlp.endpoint is empty, and
 * then nothing of it runs on the request path. Spans go out in batches from a bounded queue.
 */
const otlpSchema = z
  .object({
    /** OTLP/HTTP base URL (http://collector:4318; /v1/traces is appended) or the full traces URL. */
    endpoint: z.string().default(''),
    protocol: z.enum(['http/protobuf', 'http/json']).default('http/protobuf'),
    /** Sent with every export (e.g. a vendor's API key); never logged. */
    headers: z.record(z.string(), z.string()).default({}),
    /** One export gives up after this long. */
    timeout_ms: positiveInt.default(10_000),
    /** Finished spans waiting for export at most; past it new spans are dropped (and counted). */
    max_queue_size: positiveInt.default(2048),
    max_export_batch_size: positiveInt.default(512),
    /** A batch smaller than max_export_batch_size goes out after this long. */
    scheduled_delay_ms: positiveInt.default(1000),
  })
  .strict();

const telemetrySchema = z
  .object({
    otlp: otlpSchema.default(otlpSchema.parse({})),
    /** Prompt and response text in spans (gen_ai.input.messages / gen_ai.output.messages), bounded. */
    capture_content: z.boolean().default(false),
    service_name: name.default('llm-budget-gateway'),
  })
  .strict();

/** The price catalogue (@pydantic/genai-prices): bundled data, refreshed only when asked to. */
const pricingSchema = z
  .object({
    /** Fetch the catalogue's data.json from here (e.g. its GitHub raw URL); absent: bundled data only. */
    refresh_url: z.url({ error: 'expected an http(s) URL' }).optional(),
    /** How often to refresh; a failed refresh keeps the last good data. */
    refresh_interval_ms: positiveInt.default(86_400_000),
  })
  .strict();

export const configSchema = z
  .object({
    server: serverSchema.default(serverSchema.parse({})),
    store: storeSchema.default(storeSchema.parse({})),
    admin: z
      .object({
        token: z.string().default(''),
        /** Failed admin-token attempts one client may make per minute before it is refused (429). */
        max_failed_attempts_per_minute: positiveInt.default(10),
      })
      .strict()
      .default({ token: '', max_failed_attempts_per_minute: 10 }),
    providers: z.record(name, providerSchema).default({}),
    models: z.record(name, modelSchema).default({}),
    keys: z.array(keySchema).default([]),
    budgets: z.array(budgetSchema).default([]),
    limits: z.array(limitSchema).default([]),
    budgeting: budgetingSchema.default(budgetingSchema.parse({})),
    anonymous: anonymousSchema.default(anonymousSchema.parse({})),
    alerts: z
      .object({
        webhooks: z.array(webhookSchema).default([]),
        delivery: alertDeliverySchema.default(alertDeliverySchema.parse({})),
        /** Recent alerts each instance keeps in memory for GET /admin/alerts. */
        history: positiveInt.default(200),
        /**
         * Alerts about instances of one "*" budget (one per distinct user, key, ...) raised per hour
         * and type at most; the rest are counted and logged, not sent (a flood of users is one event).
         */
        per_template_per_hour: positiveInt.default(20),
      })
      .strict()
      .default({
        webhooks: [],
        delivery: alertDeliverySchema.parse({}),
        history: 200,
        per_template_per_hour: 20,
      }),
    history: historySchema.default(historySchema.parse({})),
    forecast: forecastSchema.default(forecastSchema.parse({})),
    telemetry: telemetrySchema.default(telemetrySchema.parse({})),
    /**
     * Provider fallback: model -> models to try, in order, when its provider answers 429 or 5xx or
     * times out before the first byte. Each fallback is budget-checked at its own price.
     */
    fallbacks: z.record(z.string(), z.array(z.string())).default({}),
    /** Cheaper alternatives per model, for savings suggestions. */
    alternatives: z.record(z.string(), z.array(z.string())).default({}),
    pricing: pricingSchema.default(pricingSchema.parse({})),
  })
  .strict();

export type ConfigFile = z.infer<typeof configSchema>;
export type ConfigFileInput = z.input<typeof configSchema>;
export type BudgetConfig = z.infer<typeof budgetSchema>;
export type LimitConfig = z.infer<typeof limitSchema>;
export type KeyConfig = z.infer<typeof keySchema>;
export type AlertEventType = z.infer<typeof alertEventTypeSchema>;
export type Period = z.infer<typeof periodSchema>;
export type ScopeField = z.infer<typeof scopeFieldSchema>;
