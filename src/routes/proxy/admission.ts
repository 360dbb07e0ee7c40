/**
 * The admission request, built in one place for the proxy, POST /v1/cost/estimate and POST
 * /admin/cost/estimate, so a preview prices exactly the budget lines the real request would.
 */
import type { AdmissionDenied, AdmissionRequest, Identity } from '../../budget/types.js';
import type { RuntimeConfig, RuntimeModel } from '../../config/runtime.js';
import { GatewayError } from '../../errors.js';
import { denialError } from '../../http/denial-errors.js';
import type { EndpointAdapter, RequestBody } from '../../providers/types.js';
import { countPromptTokens } from '../../tokens/estimate.js';

/** Longest `user` taken from a body: it becomes part of a budget instance id and a ledger field. */
export const MAX_BODY_USER_LENGTH = 200;

/**
 * The caller, with the body's `user` field when the key names no user of its own (and the request
 * no x-gateway-user): cut to MAX_BODY_USER_LENGTH, and an empty one is no user at all.
 */
export function withBodyUser(identity: Identity, body: RequestBody): Identity {
  if (identity.user !== undefined || typeof body.user !== 'string' || body.user.length === 0) return identity;
  return { ...identity, user: body.user.slice(0, MAX_BODY_USER_LENGTH) };
}

export interface AdmissionInput {
  requestId: string;
  identity: Identity;
  adapter: EndpointAdapter;
  body: RequestBody;
  nowMs: number;
}

export interface AdmissionBuilder {
  /** The identity every admission of this request is made for (withBodyUser applied). */
  readonly identity: Identity;
  /** The admission request for `model` (the requested one, or a fallback). */
  request(model: RuntimeModel): AdmissionRequest;
}

/**
 * Reads the client's output cap at once: the proxy rewrites the body before forwarding, and a
 * fallback is admitted on the client's own cap. Prompt tokens are counted once per model.
 */
export function admissionBuilder(input: AdmissionInput): AdmissionBuilder {
  const { adapter, body } = input;
  const identity = withBodyUser(input.identity, body);
  const requestedCap = adapter.requestedOutputCap(body);
  const tokenCounts = new Map<string, Promise<number>>();
  const promptTokensFor = (model: RuntimeModel): Promise<number> => {
    let count = tokenCounts.get(model.name);
    if (!count) {
      count = countPromptTokens(adapter.shape, body, model.upstreamModel);
      tokenCounts.set(model.name, count);
    }
    return count;
  };
  return {
    identity,
    request: (model) => ({
      requestId: input.requestId,
      identity,
      model,
      promptTokensFor,
      requestedCap,
      outputless: adapter.shape === 'embeddings',
      nowMs: input.nowMs,
    }),
  };
}

/** What the client is told about a refused admission (the engine's denial, worded at the edge). */
export function refusal(denied: AdmissionDenied, config: RuntimeConfig): GatewayError {
  return denialError(denied.denial, config);
}

/**
 * The configured model a body names, if this endpoint serves it. Whether the caller may use it is
 * the engine's decision (budget/model-rights.ts), answered as a `forbidden_model` denial.
 */
export function resolveModel(config: RuntimeConfig, adapter: EndpointAdapter, name: string): RuntimeModel {
  const model = config.models.get(name);
  if (!model) {
    throw new GatewayError(
      'model_not_found',
      `The model ${JSON.stringify(name)} is not configured on this gateway.`,
      { param: 'model' },
    );
  }
  if (model.provider.kind !== adapter.provider) {
    throw new GatewayError(
      'invalid_request',
      `The model ${name} is served by the ${model.provider.kind} API; call it through its own endpoint, not ${adapter.path}.`,
      { param: 'model' },
    );
  }
  return model;
}
