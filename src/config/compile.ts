/**
 * Turns a validated config file into the RuntimeConfig the gateway runs on, and checks what the
 * schema alone cannot: references between sections, downgrade maps, time zones.
 */
import { createHash } from 'node:crypto';
import { chainedDowngradeCycles } from '../budget/policy.js';
import { pricePerMillionToPico, usdToNano } from '../money.js';
import { parseClusterNode } from '../store/redis/cluster-nodes.js';
import type {
  RuntimeBudget,
  RuntimeConfig,
  RuntimeKey,
  RuntimeModel,
  RuntimeProvider,
  RuntimeStore,
  RuntimeThreshold,
  Scope,
} from './runtime.js';
import type { BudgetConfig, ConfigFile } from './schema.js';

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

export function isValidTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** o-series and gpt-5 models reject max_tokens on chat completions and take max_completion_tokens. */
function defaultCapField(model: string): 'max_tokens' | 'max_completion_tokens' {
  return /^(o\d|gpt-5)/.test(model) ? 'max_completion_tokens' : 'max_tokens';
}

export const ANONYMOUS_KEY_ID = 'anonymous';
export const ANONYMOUS_BUDGET_ID = 'anonymous-trial';

export function compileBudget(budget: BudgetConfig, source: RuntimeBudget['source']): RuntimeBudget {
  const thresholds: RuntimeThreshold[] = budget.thresholds
    .map((t) => ({
      at: t.at,
      alert: t.alert,
      downgrade: t.downgrade ? new Map(Object.entries(t.downgrade)) : undefined,
    }))
    .sort((a, b) => a.at - b.at);
  return {
    id: budget.id,
    scope: budget.scope as Scope,
    limitNano: usdToNano(budget.limit_usd),
    period: budget.period,
    timezone: budget.timezone,
    rolloverMaxNano: budget.rollover ? usdToNano(budget.rollover.max_usd) : 0,
    thresholds,
    source,
  };
}

/** Problems with one budget's references; `at` is its path prefix (`budgets[2]`). */
export function budgetProblems(
  budget: BudgetConfig,
  at: string,
  models: ReadonlyMap<string, { provider: string }>,
  providers: ReadonlySet<string>,
): string[] {
  const problems: string[] = [];
  if (!isValidTimeZone(budget.timezone))
    problems.push(`${at}.timezone: unknown time zone ${budget.timezone}`);
  if (budget.scope !== 'global') {
    const { model, provider } = budget.scope;
    if (model && model !== '*' && !models.has(model))
      problems.push(`${at}.scope.model: unknown model ${model}`);
    if (provider && provider !== '*' && !providers.has(provider)) {
      problems.push(`${at}.scope.provider: unknown provider ${provider}`);
    }
  }
  if (budget.period === 'none' && budget.rollover) {
    problems.push(`${at}.rollover: a budget with period none has nothing to roll over`);
  }
  budget.thresholds.forEach((threshold, j) => {
    if (!threshold.downgrade) return;
    const map = threshold.downgrade;
    for (const [from, to] of Object.entries(map)) {
      const path = `${at}.thresholds[${j}].downgrade.${from}`;
      const fromModel = models.get(from);
      const toModel = models.get(to);
      if (!fromModel) problems.push(`${path}: unknown model ${from}`);
      if (!toModel) problems.push(`${path}: unknown model ${to}`);
      if (fromModel && toModel && fromModel.provider !== toModel.provider) {
        problems.push(`${path}: ${to} is served by another provider than ${from}; a downgrade keeps the API`);
      }
      // Follow the chain from `from`; coming back to a model already seen is a cycle.
      const seen = new Set([from]);
      let next = map[from];
      while (next !== undefined) {
        if (seen.has(next)) {
          problems.push(`${path}: downgrade cycle ${[...seen, next].join(' -> ')}`);
          break;
        }
        seen.add(next);
        next = map[next];
      }
    }
  });
  return problems;
}

export function compileConfig(file: ConfigFile): { config: RuntimeConfig; problems: string[] } {
  const problems: string[] = [];

  const providers = new Map<string, RuntimeProvider>();
  for (const [name, p] of Object.entries(file.providers)) {
    providers.set(name, {
      name,
      kind: p.kind,
      baseUrl: p.base_url.replace(/\/+$/, ''),
      apiKey: p.api_key,
      headers: p.headers,
      timeouts: {
        connectMs: p.timeouts.connect_ms,
        headersMs: p.timeouts.headers_ms,
        bodyMs: p.timeouts.body_ms,
      },
      connections: p.connections,
    });
  }

  const models = new Map<string, RuntimeModel>();
  for (const [name, m] of Object.entries(file.models)) {
    const provider = providers.get(m.provider);
    if (!provider) {
      problems.push(`models.${name}.provider: unknown provider ${m.provider}`);
      continue;
    }
    const input = pricePerMillionToPico(m.input);
    models.set(name, {
      name,
      provider,
      upstreamModel: m.upstream_model ?? name,
      price: {
        input,
        output: pricePerMillionToPico(m.output),
        cachedInput: pricePerMillionToPico(m.cached_input ?? m.cache_read ?? m.input),
        cacheWrite: pricePerMillionToPico(m.cache_write ?? m.input),
      },
      maxOutputTokens: m.max_output_tokens,
      contextWindow: m.context_window,
      capField: m.output_cap_field ?? defaultCapField(name),
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
      if (!models.has(model)) problems.push(`${at}.models[${j}]: unknown model ${model}`);
    }
    const hash = key.key_sha256 ?? sha256Hex(key.key as string);
    if (keysByHash.has(hash)) problems.push(`${at}: the same key is configured twice`);
    keysByHash.set(hash, {
      id: key.id,
      user: key.user,
      team: key.team,
      tags: key.tags,
      models: key.models ? new Set(key.models) : undefined,
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
    if (!models.has(model)) problems.push(`anonymous.models[${i}]: unknown model ${model}`);
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

  for (const [model, alternatives] of Object.entries(file.alternatives)) {
    if (!models.has(model)) problems.push(`alternatives.${model}: unknown model ${model}`);
    alternatives.forEach((alt, i) => {
      if (!models.has(alt)) problems.push(`alternatives.${model}[${i}]: unknown model ${alt}`);
    });
  }

  const fallbacks = new Map<string, string[]>();
  for (const [from, chain] of Object.entries(file.fallbacks)) {
    const source = models.get(from);
    if (!source) problems.push(`fallbacks.${from}: unknown model ${from}`);
    chain.forEach((to, i) => {
      const target = models.get(to);
      if (!target) problems.push(`fallbacks.${from}[${i}]: unknown model ${to}`);
      else if (source && target.provider.kind !== source.provider.kind) {
        problems.push(
          `fallbacks.${from}[${i}]: ${to} speaks the ${target.provider.kind} API, ${from} the ${source.provider.kind} API`,
        );
      } else if (to === from) problems.push(`fallbacks.${from}[${i}]: a model cannot fall back to itself`);
    });
    fallbacks.set(from, chain);
  }

  problems.push(...storeProblems(file.store));

  const config: RuntimeConfig = {
    file,
    server: {
      host: file.server.host,
      port: file.server.port,
      maxBodyBytes: parseByteSize(file.server.max_body_bytes),
      requestTimeoutMs: file.server.request_timeout_ms,
      shutdownGraceMs: file.server.shutdown_grace_ms,
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
      leaseMs: file.server.request_timeout_ms + file.budgeting.lease_margin_ms,
    },
    store: compileStore(file.store),
  };
  return { config, problems };
}

function compileStore(store: ConfigFile['store']): RuntimeStore {
  const nodes = store.cluster_nodes?.flatMap((text) => parseClusterNode(text) ?? []);
  return {
    type: store.type,
    path: store.path,
    url: nodes === undefined ? store.url : undefined,
    clusterNodes: nodes,
    prefix: store.prefix,
    timeoutMs: store.timeout_ms,
    onUnavailable: store.on_unavailable,
  };
}

/** What the store section needs beyond its schema: a Redis address, one way, and valid cluster nodes. */
function storeProblems(store: ConfigFile['store']): string[] {
  const problems: string[] = [];
  const nodes = store.cluster_nodes;
  if (nodes !== undefined && store.type !== 'redis') {
    problems.push('store.cluster_nodes: only used when store.type is redis');
  }
  if (store.type === 'redis' && !store.url && nodes === undefined) {
    problems.push('store.url: required when store.type is redis (e.g. redis://127.0.0.1:6379)');
  }
  if (store.type === 'redis' && store.url && nodes !== undefined) {
    problems.push(
      'store.cluster_nodes: give either store.url (one Redis) or store.cluster_nodes (a Redis Cluster), not both',
    );
  }
  nodes?.forEach((node, i) => {
    if (!parseClusterNode(node))
      problems.push(`store.cluster_nodes[${i}]: expected host:port with a port 1-65535, got ${node}`);
  });
  return problems;
}
