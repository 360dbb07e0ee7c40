/**
 * How a provider failure before the answer is classified: the client left (499, not the
 * provider's fault), a timeout (504), unreachable (502), or — when a configured fallback remains —
 * a signal to try the next model.
 */

import type { Identity } from '../../budget/types.js';
import type { RuntimeConfig, RuntimeModel } from '../../config/runtime.js';
import { GatewayError } from '../../errors.js';
import { type EndpointAdapter, wireOfKind } from '../../providers/types.js';
import { type Answered, NOTHING_PRODUCED } from './settle.js';

/** The provider failed before answering (429, 5xx, timeout, unreachable) and a fallback remains. */
export class FallBack extends Error {
  constructor(readonly reason: string) {
    super(`provider failed: ${reason}`);
  }
}

/** The configured fallbacks of a model that this caller may use (same API: config checks the kind). */
export function fallbackModels(
  config: RuntimeConfig,
  adapter: EndpointAdapter,
  name: string,
  identity: Identity,
): RuntimeModel[] {
  const chain = config.fallbacks.get(name);
  if (!chain) return [];
  const out: RuntimeModel[] = [];
  for (const candidate of chain) {
    const model = config.models.get(candidate);
    if (!model || wireOfKind(model.provider.kind) !== adapter.provider) continue;
    if (identity.allowedModels && !identity.allowedModels.has(candidate)) continue;
    out.push(model);
  }
  return out;
}

/** Recorded for a request whose client left before its answer (the usual "client closed request"). */
export const CLIENT_CLOSED_STATUS = 499;

/**
 * The client hung up before the provider answered. Not a provider failure: the record says 499 (the
 * usual "client closed request") with no error code, so it is not counted as an upstream error.
 * `answered` is what the settle bills: nothing when the request never reached the provider, at
 * least the prompt once it was written upstream (forward.ts says when that is).
 */
export class ClientGone extends Error {
  constructor(readonly answered: Answered = NOTHING_PRODUCED) {
    super('client closed the connection');
  }
}

export function upstreamError(error: unknown, provider: string, signal: AbortSignal): Error {
  if (signal.reason instanceof ClientGone) return signal.reason;
  const code = (error as { code?: string })?.code;
  if (
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT' ||
    code === 'UND_ERR_CONNECT_TIMEOUT'
  ) {
    return new GatewayError('provider_timeout', `The provider ${provider} did not answer in time.`);
  }
  if (signal.aborted) {
    return new GatewayError(
      'provider_timeout',
      `The request to ${provider} was aborted: ${String(signal.reason)}`,
    );
  }
  return new GatewayError('provider_unreachable', `The provider ${provider} could not be reached.`);
}
