/**
 * The admission request, built in one place for the proxy, POST /v1/cost/estimate and POST
 * /admin/cost/estimate, so a preview prices exactly the budget lines the real request would.
 */
import type { AdmissionDenied, AdmissionRequest, Identity } from '../../budget/types.js';
import type { RuntimeConfig, RuntimeModel } from '../../config/runtime.js';
import { GatewayError } from '../../errors.js';
import { denialError } from '../../http/denial-errors.js';
import type { ResponseTokenMemory } from '../../providers/response-memory.js';
import { type EndpointAdapter, type RequestBody, wireOfKind } from '../../providers/types.js';
import { countPromptTokens } from '../../tokens/estimate.js';
import { promptTokenBounds } from '../../tokens/lower-bound.js';

/**
 * Input tokens reserved for context a request carries by reference that this gateway cannot
 * measure (a Responses previous_response_id it did not serve, a stored conversation), for a model
 * without `context_window` in the config: the provider cannot add more context than the model
 * reads, and 128k is the window of the gpt-4o / gpt-4.1-mini class.
 */
export const DEFAULT_CONTEXT_WINDOW = 128_000;

export function contextWindowOf(model: RuntimeModel): number {
  return model.contextWindow ?? DEFAULT_CONTEXT_WINDOW;
}

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
  /** Context tokens of Responses this gateway served (previous_response_id); absent: all unknown. */
  responses?: ResponseTokenMemory;
  /** The client asked for a stream (absent: a preview of a plain request); it falls under the limits' concurrent_streams caps too. */
  stream?: boolean;
}

export interface AdmissionBuilder {
  /** The identity every admission of this request is made for (withBodyUser applied). */
  readonly identity: Identity;
  /**
   * The admission request for `model` (the requested one, or a fallback: `countedLimits` the limit
   * instances the earlier attempts counted this client request on).
   */
  request(model: RuntimeModel, countedLimits?: ReadonlySet<string>): AdmissionRequest;
}

/**
 * Reads the client's output cap and the request's worst case at once: the proxy rewrites the body
 * before forwarding, and a fallback is admitted on the client's own cap. Prompt tokens are counted
 * once per model, plus the context the provider adds by reference (carriedContextTokens).
 */
export function admissionBuilder(input: AdmissionInput): AdmissionBuilder {
  const { adapter, body } = input;
  const identity = withBodyUser(input.identity, body);
  const requestedCap = adapter.requestedOutputCap(body);
  const { outputMultiplier, returnedPerPrompt, generatedPerPrompt } = adapter.worstCase(body);
  checkChoices(identity, returnedPerPrompt, generatedPerPrompt);
  const carried = carriedContext(adapter, body, input.responses);
  const metered = meterable(adapter, body, input.stream ?? adapter.isStream(body));
  const tokenCounts = new Map<string, Promise<number>>();
  const promptTokensFor = (model: RuntimeModel): Promise<number> => {
    let count = tokenCounts.get(model.name);
    if (!count) {
      const extra = carried(model);
      // The room the body probe held for this count, if it held any (early-refusal.ts).
      count = countPromptTokens(
        adapter.shape,
        body,
        model.upstreamModel,
        identity.keyId,
        input.requestId,
      ).then((tokens) => tokens + extra);
      tokenCounts.set(model.name, count);
    }
    return count;
  };
  // Bounds from the prompt's UTF-8 size, for the admission's pre-check (budget/precheck.ts).
  const promptBoundsFor = (model: RuntimeModel) => {
    const bounds = promptTokenBounds(adapter.shape, body, model.upstreamModel);
    if (!bounds) return undefined;
    const extra = carried(model);
    return { lower: bounds.lower + extra, upper: bounds.upper + extra };
  };
  return {
    identity,
    request: (model, countedLimits) => ({
      requestId: input.requestId,
      identity,
      model,
      promptTokensFor,
      promptBoundsFor,
      requestedCap,
      outputMultiplier,
      outputless: adapter.shape === 'embeddings',
      metered,
      nowMs: input.nowMs,
      ...(input.stream ? { stream: true } : {}),
      ...(countedLimits && countedLimits.size > 0 ? { countedLimits } : {}),
    }),
  };
}

/**
 * Whether the answer can be metered (DESIGN §3): the gateway must see all the output it is billed
 * for as it is generated, so a stream, or a plain request the provider can stream instead; not
 * when the request asks for reasoning the provider bills but does not stream (Anthropic extended
 * thinking is streamed as a summary; OpenAI reasoning effort is hidden).
 */
export function meterable(adapter: EndpointAdapter, body: RequestBody, stream: boolean): boolean {
  if (adapter.shape === 'embeddings') return false;
  if (hiddenReasoningAsked(body)) return false;
  return stream || adapter.canStreamUpstream(body);
}

function hiddenReasoningAsked(body: RequestBody): boolean {
  const thinking = body.thinking as { type?: unknown } | undefined;
  if (thinking && typeof thinking === 'object' && thinking.type !== 'disabled') return true;
  return body.reasoning_effort !== undefined || (body.reasoning !== undefined && body.reasoning !== null);
}

/**
 * The key's `max_choices`: a request asking for more choices is refused before anything is
 * counted or reserved (it is the client's request that is wrong, not the budget that is short).
 */
function checkChoices(identity: Identity, returned: number, generated: number): void {
  const limit = identity.maxChoices;
  if (limit === undefined || Math.max(returned, generated) <= limit) return;
  // best_of generates (and bills) more sequences than it returns: the limit is on what is billed.
  const [field, asked] = generated > returned && generated > limit ? ['best_of', generated] : ['n', returned];
  throw new GatewayError(
    'invalid_request',
    `This key allows at most ${limit} choice${limit === 1 ? '' : 's'} per request; the request asks for ${field} = ${asked}.`,
    { param: field },
  );
}

/**
 * Input tokens the provider adds to this request by reference, per model: a previous response this
 * gateway served counts what it remembered (its input and output); one it did not serve, and a
 * stored `conversation`, count the model's whole context window (the most it could add).
 */
function carriedContext(
  adapter: EndpointAdapter,
  body: RequestBody,
  responses: ResponseTokenMemory | undefined,
): (model: RuntimeModel) => number {
  const state = adapter.conversationState(body);
  if (state.conversationId !== undefined) return contextWindowOf;
  const previous = state.previousResponseId;
  if (previous === undefined) return () => 0;
  // Looked up once: the answer must not change between the first admission and a fallback's.
  const remembered = responses?.contextTokens(previous);
  return (model) => remembered ?? contextWindowOf(model);
}

/** What the client is told about a refused admission (the engine's denial, worded at the edge). */
export function refusal(denied: AdmissionDenied, config: RuntimeConfig): GatewayError {
  return denialError(denied.denial, config, denied.limits);
}

/**
 * The configured model a body names, if this endpoint serves it. Whether the caller may use it is
 * the engine's decision (budget/model-rights.ts), answered as a `forbidden_model` denial.
 */
export function resolveModel(config: RuntimeConfig, adapter: EndpointAdapter, name: string): RuntimeModel {
  const model = config.models.get(name);
  if (!model && config.unpricedModels?.has(name)) {
    // Never served at $0: a price the gateway does not know cannot keep the request inside a budget.
    throw new GatewayError(
      'model_not_found',
      `The model ${JSON.stringify(name)} has no price: neither the gateway's config nor its price catalogue prices it, so the gateway refuses it rather than serve it unbudgeted. Add input/output prices to its models: entry.`,
      { param: 'model' },
    );
  }
  if (!model) {
    throw new GatewayError(
      'model_not_found',
      `The model ${JSON.stringify(name)} is not configured on this gateway.`,
      { param: 'model' },
    );
  }
  if (wireOfKind(model.provider.kind) !== adapter.provider) {
    throw new GatewayError(
      'invalid_request',
      `The model ${name} is served by the ${wireOfKind(model.provider.kind)} API; call it through its own endpoint, not ${adapter.path}.`,
      { param: 'model' },
    );
  }
  return model;
}
