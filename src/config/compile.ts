/**
 * Turns a validated config file into the RuntimeConfig the gateway runs on, and checks what the
 * schema alone cannot: references between sections, downgrade maps, time zones.
 */
import { createHash } from 'node:crypto';
import { usdToNano } from '../money.js';
import { wireOfKind } from '../providers/types.js';
import { budgetProblems, compileBudget, isValidTimeZone } from './budgets.js';
import { chainedDowngradeCycles } from './downgrade-cycles.js';
import { compileHistoryStore, historyStoreProblems } from './history-store.js';
import { compileLimits } from './limits.js';
import { modelPricing, type PricingOptions } from './model-prices.js';
import { outboundUrlProblem } from './outbound-urls.js';
import type {
  RuntimeAlerts,
  RuntimeBudget,
  RuntimeConfig,
  RuntimeHistory,
  RuntimeKey,
  RuntimeModel,
  RuntimeProvider,
} from './runtime.js';
import type { ConfigFile } from './schema.js';
import { compileStore, storeProblems } from './store.js';
import { compileTelemetry, telemetryProblems } from './telemetry.js';

/**
 * Models that bill reasoning they do not stream, by default: OpenAI's o-series and gpt-5, and the
 * Gemini models that think by default (2.5 Pro and Flash, not Flash-Lite; Gemini 3), whose thoughts
 * reach the gateway only in the final usage. Their requests reserve the whole cap (not metered).
 */
export const HIDDEN_REASONING_NAMES = /^(o\d|gpt-5|gemini-2\.5-(pro|flash(?!-lite))|gemini-3)/;

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function parseByteSize(size: number | string): number {
  if (typeof size === 'number') return size;
  const match = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i.exec(size.trim());
  if (!match) throw new Error(`bad size ${size}`);
  const unit = (match[2] ?? 'b').toLowerCase();
  const factor = unit === 'gb' ? 1024 ** 3 : unit === 'mb' ? 1024 ** 2 : unit === 'kb' ? 1024 : 1;
  return Math.floor(Number(match[1]) * factor);
}

/** o-series and gpt-5 models reject max_tokens on chat completions and take max_completion_tokens. */
function defaultCapField(model: string): 'max_tokens' | 'max_completion_tokens' {
  return /^(o\d|gpt-5)/.test(model) ? 'max_completion_tokens' : 'max_tokens';
}

/** Azure OpenAI's GA data-plane api-version, used when an azure provider names none. */
export const DEFAULT_AZURE_API_VERSION = '2024-10-21';

/** The options only some provider kinds read; one set on another kind is a mistake worth naming. */
function providerKindOptions(
  name: string,
  p: ConfigFile['providers'][string],
  problems: string[],
): Pick<RuntimeProvider, 'apiVersion' | 'deployments' | 'streamUsage'> {
  const at = `providers.${name}`;
  if (p.kind !== 'azure') {
    if (p.api_version !== undefined)
      problems.push(`${at}.api_version: only azure providers take an api_version`);
    if (p.deployments !== undefined)
      problems.push(`${at}.deployments: only azure providers take deployments`);
  }
  if (p.stream_usage !== undefined && p.kind !== 'openai-compatible') {
    problems.push(`${at}.stream_usage: only openai-compatible providers take stream_usage`);
  }
  if (p.kind === 'azure') {
    return { apiVersion: p.api_version ?? DEFAULT_AZURE_API_VERSION, deployments: p.deployments ?? {} };
  }
  return p.stream_usage === false ? { streamUsage: false } : {};
}

export const ANONYMOUS_KEY_ID = 'anonymous';
export const ANONYMOUS_BUDGET_ID = 'anonymous-trial';

export function compileConfig(
  file: ConfigFile,
  options: PricingOptions = {},
): { config: RuntimeConfig; problems: string[] } {
  const problems: string[] = [];

  const providers = new Map<string, RuntimeProvider>();
  for (const [name, p] of Object.entries(file.providers)) {
    providers.set(name, {
      name,
      kind: p.kind === 'gemini' ? 'google' : p.kind,
      baseUrl: p.base_url.replace(/\/+$/, ''),
      apiKey: p.api_key,
      headers: p.headers,
      timeouts: {
        connectMs: p.timeouts.connect_ms,
        headersMs: p.timeouts.headers_ms,
        bodyMs: p.timeouts.body_ms,
      },
      connections: p.connections,
      ...providerKindOptions(name, p, problems),
    });
  }

  const models = new Map<string, RuntimeModel>();
  const unpricedModels = new Map<string, string>();
  for (const [name, m] of Object.entries(file.models)) {
    const provider = providers.get(m.provider);
    if (!provider) {
      problems.push(`models.${name}.provider: unknown provider ${m.provider}`);
      continue;
    }
    const pricing = modelPricing(provider.kind, name, m, options);
    if (!pricing) {
      unpricedModels.set(name, m.provider);
      continue;
    }
    models.set(name, {
      name,
      provider,
      upstreamModel: m.upstream_model ?? name,
      get price() {
        return pricing.price();
      },
      pricing,
      maxOutputTokens: m.max_output_tokens,
      contextWindow: m.context_window,
      capField: m.output_cap_field ?? defaultCapField(name),
      // By what the provider runs: an alias of a reasoning model reasons too.
      hiddenReasoning: m.hidden_reasoning ?? HIDDEN_REASONING_NAMES.test(m.upstream_model ?? name),
    });
  }
  const modelProviders = new Map(Object.entries(file.models).map(([n, m]) => [n, { provider: m.provider }]));

  const keysByHash = new Map<string, RuntimeKey>();
  const keyIds = new Set<string>();
  file.keys.forEach((key, i) => {
    const at = `keys[${i}]`;
    if (keyIds.has(key.id)) problems.push(`${at}.id: duplicate key id ${key.id}`);
    keyIds.add(key.id);
    if (key.id === ANONYMOUS_KEY_ID)
      problems.push(`${at}.id: "${ANONYMOUS_KEY_ID}" is reserved for trial users`);
    if ((key.key === undefined) === (key.key_sha256 === undefined)) {
      problems.push(`${at}: expected exactly one of key or key_sha256`);
      return;
    }
    for (const [j, model] of (key.models ?? []).entries()) {
      // An unpriced model may be listed: its requests are refused with their own message.
      if (!models.has(model) && !unpricedModels.has(model))
        problems.push(`${at}.models[${j}]: unknown model ${model}`);
    }
    const hash = key.key_sha256 ?? sha256Hex(key.key as string);
    if (keysByHash.has(hash)) problems.push(`${at}: the same key is configured twice`);
    keysByHash.set(hash, {
      id: key.id,
      user: key.user,
      team: key.team,
      tags: key.tags,
      models: key.models ? new Set(key.models) : undefined,
      maxChoices: key.max_choices,
      source: 'config',
    });
  });

  const budgetIds = new Set<string>();
  const budgets: RuntimeBudget[] = [];
  file.budgets.forEach((budget, i) => {
    const at = `budgets[${i}]`;
    if (budgetIds.has(budget.id)) problems.push(`${at}.id: duplicate budget id ${budget.id}`);
    budgetIds.add(budget.id);
    problems.push(...budgetProblems(budget, at, modelProviders, new Set(providers.keys())));
    budgets.push(compileBudget(budget, 'config'));
  });
  problems.push(...chainedDowngradeCycles(file.budgets));

  const anon = file.anonymous;
  anon.models.forEach((model, i) => {
    if (!models.has(model) && !unpricedModels.has(model))
      problems.push(`anonymous.models[${i}]: unknown model ${model}`);
  });
  if (!isValidTimeZone(anon.budget.timezone)) {
    problems.push(`anonymous.budget.timezone: unknown time zone ${anon.budget.timezone}`);
  }
  if (anon.enabled && anon.models.length === 0) {
    problems.push('anonymous.models: expected at least one model when anonymous.enabled is true');
  }
  const identifyBy = anon.identify_by.startsWith('header:')
    ? { kind: 'header' as const, header: anon.identify_by.slice('header:'.length).toLowerCase() }
    : { kind: 'ip' as const };

  const alternatives = new Map<string, string[]>();
  for (const [model, list] of Object.entries(file.alternatives)) {
    if (!models.has(model)) problems.push(`alternatives.${model}: unknown model ${model}`);
    list.forEach((alt, i) => {
      if (!models.has(alt)) problems.push(`alternatives.${model}[${i}]: unknown model ${alt}`);
    });
    alternatives.set(model, list);
  }

  const fallbacks = new Map<string, string[]>();
  for (const [from, chain] of Object.entries(file.fallbacks)) {
    const source = models.get(from);
    if (!source) problems.push(`fallbacks.${from}: unknown model ${from}`);
    chain.forEach((to, i) => {
      const target = models.get(to);
      if (!target) problems.push(`fallbacks.${from}[${i}]: unknown model ${to}`);
      else if (source && wireOfKind(target.provider.kind) !== wireOfKind(source.provider.kind)) {
        problems.push(
          `fallbacks.${from}[${i}]: ${to} speaks the ${target.provider.kind} API, ${from} the ${source.provider.kind} API`,
        );
      } else if (to === from) problems.push(`fallbacks.${from}[${i}]: a model cannot fall back to itself`);
    });
    fallbacks.set(from, chain);
  }

  problems.push(...storeProblems(file.store));
  problems.push(...telemetryProblems(file.telemetry));

  // Outbound destinations: http(s) only, never link-local ([hardening] 13).
  for (const [name, p] of Object.entries(file.providers)) {
    const problem = outboundUrlProblem(`providers.${name}.base_url`, p.base_url);
    if (problem) problems.push(problem);
  }
  file.alerts.webhooks.forEach((w, i) => {
    const problem = outboundUrlProblem(`alerts.webhooks[${i}].url`, w.url);
    if (problem) problems.push(problem);
  });
  problems.push(...historyStoreProblems(file.history, file.store));
  problems.push(...leaseProblems(file));

  const limits = compileLimits(file, ANONYMOUS_KEY_ID, problems);

  const config: RuntimeConfig = {
    limits,
    fileDefinitions: {
      budgets: file.budgets,
      keys: file.keys.map(({ key: _secret, key_sha256: _hash, ...definition }) => definition),
    },
    server: {
      host: file.server.host,
      port: file.server.port,
      maxBodyBytes: parseByteSize(file.server.max_body_bytes),
      requestTimeoutMs: file.server.request_timeout_ms,
      shutdownGraceMs: file.server.shutdown.grace_ms ?? file.server.shutdown_grace_ms,
      preStopDelayMs: file.server.shutdown.pre_stop_delay_ms,
      clientHeaderTimeoutMs: file.server.client_header_timeout_ms,
      clientRequestTimeoutMs: file.server.client_request_timeout_ms,
      logLevel: file.server.log_level,
      metricsToken: file.server.metrics_token,
      trustProxy: file.server.trust_proxy,
    },
    adminToken: file.admin.token,
    providers,
    models,
    keysByHash,
    budgets,
    anonymous: {
      enabled: anon.enabled,
      identifyBy,
      budget: compileBudget(
        {
          id: ANONYMOUS_BUDGET_ID,
          scope: { key: ANONYMOUS_KEY_ID, user: '*' },
          limit_usd: anon.budget.limit_usd,
          period: anon.budget.period,
          timezone: anon.budget.timezone,
          thresholds: [],
        },
        'anonymous',
      ),
      models: new Set(anon.models),
      upgradeMessage: anon.upgrade_message,
    },
    fallbacks,
    budgeting: {
      minOutputTokens: file.budgeting.min_output_tokens,
      leaseMs: file.budgeting.lease_ms,
      renewEveryMs: file.budgeting.lease_renew_ms,
      maxHoldMs: file.server.request_timeout_ms + file.budgeting.lease_margin_ms,
      sliceTokens: file.budgeting.stream_slice_tokens,
      maxWaitMs: file.budgeting.max_wait_ms,
    },
    alternatives,
    alerts: compileAlerts(file.alerts),
    history: compileHistory(file.history),
    store: compileStore(file.store),
    unpricedModels,
    pricing: { refreshUrl: file.pricing.refresh_url, refreshIntervalMs: file.pricing.refresh_interval_ms },
    forecast: {
      minHistoryMs: file.forecast.min_history_ms,
      minPeriodFraction: file.forecast.min_history_period_fraction,
    },
    telemetry: compileTelemetry(file.telemetry),
  };
  return { config, problems };
}

function compileAlerts(alerts: ConfigFile['alerts']): RuntimeAlerts {
  const d = alerts.delivery;
  return {
    webhooks: alerts.webhooks.map((w) => ({
      url: w.url,
      secret: w.secret || undefined,
      events: w.events ? new Set(w.events) : undefined,
    })),
    historySize: alerts.history,
    delivery: {
      timeoutMs: d.timeout_ms,
      maxAttempts: d.max_attempts,
      backoffMs: d.backoff_ms,
      maxBackoffMs: d.max_backoff_ms,
      queueSize: d.queue_size,
    },
    perTemplatePerHour: alerts.per_template_per_hour,
  };
}

const DAY_MS = 24 * 60 * 60 * 1000;

function compileHistory(history: ConfigFile['history']): RuntimeHistory {
  return {
    rollupRetentionMs: history.rollup_retention_days * DAY_MS,
    ledgerRetentionMs: history.ledger_retention_days * DAY_MS,
    flushIntervalMs: history.flush_interval_ms,
    flushMaxRecords: history.flush_max_records,
    anomalyMinNano: usdToNano(history.anomaly_min_usd),
    anomalyScore: history.anomaly_score,
    store: compileHistoryStore(history),
    bufferMaxEntries: history.buffer_max_entries,
  };
}

/**
 * A renewal may fail once (a store call can take store.timeout_ms) and the next still lands before
 * the lease runs out: a live request on a healthy instance is never reaped.
 */
function leaseProblems(file: ConfigFile): string[] {
  const { lease_ms: lease, lease_renew_ms: renew } = file.budgeting;
  const least = 2 * renew + file.store.timeout_ms;
  if (lease >= least) return [];
  return [
    `budgeting.lease_ms: ${lease} is too short for lease_renew_ms ${renew}: at least 2 x lease_renew_ms + store.timeout_ms (${least}), so one failed renewal does not let a live request be reaped`,
  ];
}
