/**
 * Which limit instances a request falls under: the config's `limits:` and, for trial visitors,
 * `anonymous.limits`, matched with the budgets' scope language ("*" = one instance per value).
 * A stream also falls under each limit's `concurrent_streams` cap, as a separate instance.
 */
import { attributes } from '../budget/engine-views.js';
import { matchScope } from '../budget/scopes.js';
import type { Identity } from '../budget/types.js';
import type { RuntimeConfig, RuntimeLimit, RuntimeModel } from '../config/runtime.js';
import type { LimitSpec } from './types.js';

/** Suffix of a limit's streams-in-flight instance. */
export const STREAMS_SUFFIX = '|streams';

export function limitsOf(cfg: Pick<RuntimeConfig, 'limits'>, anonymous: boolean): RuntimeLimit[] {
  const trial = cfg.limits.anonymous;
  return anonymous && trial ? [...cfg.limits.list, trial] : cfg.limits.list;
}

export function limitsFor(
  cfg: Pick<RuntimeConfig, 'limits'>,
  identity: Identity,
  model: RuntimeModel,
  stream: boolean,
): LimitSpec[] {
  const attrs = attributes(identity, model);
  const out: LimitSpec[] = [];
  const seen = new Set<string>();
  for (const limit of limitsOf(cfg, identity.anonymous)) {
    for (const instance of matchScope(limit.id, limit.scope, attrs)) {
      if (seen.has(instance)) continue;
      seen.add(instance);
      if (limit.requestsPerMinute > 0 || limit.tokensPerMinute > 0 || limit.concurrentRequests > 0) {
        out.push({
          limitId: limit.id,
          instance,
          requestsPerMinute: limit.requestsPerMinute,
          tokensPerMinute: limit.tokensPerMinute,
          concurrentRequests: limit.concurrentRequests,
        });
      }
      if (stream && limit.concurrentStreams > 0) {
        out.push({
          limitId: limit.id,
          instance: instance + STREAMS_SUFFIX,
          requestsPerMinute: 0,
          tokensPerMinute: 0,
          concurrentRequests: limit.concurrentStreams,
        });
      }
    }
  }
  return out;
}
