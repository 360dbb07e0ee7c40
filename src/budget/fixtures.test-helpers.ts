/**
 * Builds RuntimeConfig objects directly (no YAML) for budget tests: models, budgets and limits by
 * hand; the sections budget code does not read are the compiled defaults.
 */

import { compileConfig } from '../config/compile.js';
import type {
  RuntimeBudget,
  RuntimeConfig,
  RuntimeModel,
  RuntimeProvider,
  RuntimeThreshold,
  Scope,
} from '../config/runtime.js';
import { configSchema } from '../config/schema.js';
import { pricePerMillionToPico, usdToNano } from '../money.js';
import type { AdmissionRequest, Identity } from './types.js';

function provider(name: string, kind: 'openai' | 'anthropic'): RuntimeProvider {
  return {
    name,
    kind,
    baseUrl: `https://${name}.example`,
    apiKey: 'test',
    headers: {},
    timeouts: { connectMs: 1000, headersMs: 1000, bodyMs: 1000 },
    connections: 4,
  };
}

export const providers = {
  openai: provider('openai', 'openai'),
  anthropic: provider('anthropic', 'anthropic'),
};

export function model(
  name: string,
  p: RuntimeProvider,
  input: number,
  output: number,
  maxOutputTokens: number | undefined,
): RuntimeModel {
  const inputPico = pricePerMillionToPico(input);
  return {
    name,
    provider: p,
    upstreamModel: name,
    price: {
      input: inputPico,
      output: pricePerMillionToPico(output),
      cachedInput: inputPico,
      cacheWrite: inputPico,
    },
    maxOutputTokens,
    capField: 'max_tokens',
  };
}

/** Prices as in the example config; `big` and `mid` make a three-step chain. */
export function standardModels(): Map<string, RuntimeModel> {
  const list = [
    model('gpt-4o', providers.openai, 2.5, 10, 16384),
    model('gpt-4o-mini', providers.openai, 0.15, 0.6, 16384),
    model('gpt-4.1-nano', providers.openai, 0.1, 0.4, 16384),
    model('claude-sonnet-4-5', providers.anthropic, 3, 15, 64000),
    model('claude-haiku-4-5', providers.anthropic, 1, 5, 64000),
    model('text-embedding-3-small', providers.openai, 0.02, 0, undefined),
  ];
  return new Map(list.map((m) => [m.name, m]));
}

export interface BudgetInput {
  id: string;
  scope?: Scope;
  limitUsd: number;
  period?: RuntimeBudget['period'];
  timezone?: string;
  rolloverUsd?: number;
  thresholds?: Array<{ at: number; alert?: boolean; downgrade?: Record<string, string> }>;
}

export function budget(input: BudgetInput): RuntimeBudget {
  const thresholds: RuntimeThreshold[] = (input.thresholds ?? [])
    .map((t) => ({
      at: t.at,
      alert: t.alert ?? true,
      downgrade: t.downgrade ? new Map(Object.entries(t.downgrade)) : undefined,
    }))
    .sort((a, b) => a.at - b.at);
  return {
    id: input.id,
    scope: input.scope ?? 'global',
    limitNano: usdToNano(input.limitUsd),
    period: input.period ?? 'monthly',
    timezone: input.timezone ?? 'UTC',
    rolloverMaxNano: input.rolloverUsd ? usdToNano(input.rolloverUsd) : 0,
    thresholds,
    source: 'config',
  };
}

export function config(
  options: {
    budgets?: RuntimeBudget[];
    models?: Map<string, RuntimeModel>;
    onUnavailable?: 'reject' | 'allow';
    minOutputTokens?: number;
    sliceTokens?: number;
    maxWaitMs?: number;
    leaseMs?: number;
    renewEveryMs?: number;
    maxHoldMs?: number;
    anonymous?: { limitUsd: number; models: string[]; upgradeMessage?: string };
  } = {},
): RuntimeConfig {
  const file = configSchema.parse({ store: { on_unavailable: options.onUnavailable ?? 'reject' } });
  const anon = options.anonymous;
  const defaults = compileConfig(file).config;
  return {
    limits: defaults.limits,
    fileDefinitions: defaults.fileDefinitions,
    telemetry: defaults.telemetry,
    server: {
      host: '127.0.0.1',
      port: 0,
      maxBodyBytes: 1 << 20,
      requestTimeoutMs: 60_000,
      shutdownGraceMs: 1000,
      clientHeaderTimeoutMs: 10_000,
      clientRequestTimeoutMs: 60_000,
      logLevel: 'silent',
      metricsToken: '',
      trustProxy: false,
    },
    adminToken: '',
    providers: new Map(Object.entries(providers)),
    models: options.models ?? standardModels(),
    keysByHash: new Map(),
    budgets: options.budgets ?? [],
    anonymous: {
      enabled: anon !== undefined,
      identifyBy: { kind: 'header', header: 'x-gateway-user' },
      budget: {
        ...budget({
          id: 'anonymous-trial',
          scope: { key: 'anonymous', user: '*' },
          limitUsd: anon?.limitUsd ?? 0.1,
        }),
        period: 'daily',
        source: 'anonymous',
      },
      models: new Set(anon?.models ?? []),
      upgradeMessage:
        anon?.upgradeMessage ?? 'Your free trial budget is used up. Create an account to keep going.',
    },
    budgeting: {
      minOutputTokens: options.minOutputTokens ?? 256,
      leaseMs: options.leaseMs ?? 120_000,
      renewEveryMs: options.renewEveryMs ?? 5000,
      maxHoldMs: options.maxHoldMs ?? 660_000,
      sliceTokens: options.sliceTokens ?? 1024,
      maxWaitMs: options.maxWaitMs ?? 0,
    },
    forecast: { minHistoryMs: 3_600_000, minPeriodFraction: 0.05 },
    fallbacks: new Map(),
    alternatives: defaults.alternatives,
    alerts: defaults.alerts,
    history: defaults.history,
    store: {
      type: 'sqlite',
      path: file.store.path,
      url: undefined,
      clusterNodes: undefined,
      prefix: file.store.prefix,
      timeoutMs: file.store.timeout_ms,
      onUnavailable: file.store.on_unavailable,
    },
  };
}

export function identity(overrides: Partial<Identity> = {}): Identity {
  return { keyId: 'web-app', team: 'web', tags: [], anonymous: false, ...overrides };
}

export function request(
  cfg: RuntimeConfig,
  overrides: Partial<Omit<AdmissionRequest, 'model'>> & { model?: string; promptTokens?: number } = {},
): AdmissionRequest {
  const { model: name = 'gpt-4o', promptTokens = 1000, ...rest } = overrides;
  const m = cfg.models.get(name);
  if (!m) throw new Error(`unknown model ${name}`);
  return {
    requestId: 'req',
    identity: identity(),
    model: m,
    promptTokensFor: () => promptTokens,
    requestedCap: undefined,
    outputless: false,
    nowMs: Date.UTC(2026, 10, 28, 12),
    ...rest,
  };
}
