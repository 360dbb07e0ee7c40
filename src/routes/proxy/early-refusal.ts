/**
 * A large body refused before the main thread parses it (issue #13). The admission's pre-check
 * (budget/precheck.ts) refuses a prompt whose lower bound of tokens cannot fit a budget or a limit;
 * here it runs on what the body probe (http/body-probe.ts) answers from its worker: the body's small
 * fields (a slim copy) and the prompt's bounds. A refused caller's 4 MB prompts then cost the main
 * thread a copy each, not a 7-10 ms parse in every turn a paying key's request waits for.
 *
 * It never refuses what the ordinary path would admit: the request it checks is the one the
 * ordinary path builds, field for field, except the long strings the slim copy emptied, and those
 * are allowed only under the keys that hold the prompt (which the bounds measure on the full body).
 * Anything else (a long string elsewhere, an unknown model, a body the slim copy cannot validate, a
 * worker that cannot answer) returns, and the ordinary path parses, validates and answers.
 * The worker checks what the ordinary parse checks (JSON, an object, depth, a key twice); what it
 * cannot is a mistake inside an emptied string (a malformed image URL deep in a refused prompt):
 * that caller gets the refusal instead of the 400.
 */
import type { Identity } from '../../budget/types.js';
import type { RuntimeConfig } from '../../config/runtime.js';
import { GatewayError } from '../../errors.js';
import { PROBE_MIN_BYTES, type ProbeWriter, startProbe } from '../../http/body-probe.js';
import type { EndpointAdapter, RequestBody } from '../../providers/types.js';
import type { PromptBounds } from '../../tokens/lower-bound.js';
import { type AdmissionBuilder, admissionBuilder, refusal, resolveModel } from './admission.js';
import type { Exchange, ProxyDeps } from './exchange.js';
import type { RequestState } from './request-state.js';

/** Top-level keys that hold a prompt in some API shape: where the slim copy may differ. */
const PROMPT_KEYS = new Set([
  'messages',
  'system',
  'tools',
  'functions',
  'input',
  'instructions',
  'prompt',
  'contents',
  'systemInstruction',
  'system_instruction',
]);

export interface EarlyInput {
  c: Exchange['c'];
  adapter: EndpointAdapter;
  deps: ProxyDeps;
  engine: Exchange['engine'];
  config: RuntimeConfig;
  state: RequestState;
  identity: Identity;
}

/**
 * The body probe's writer for this request's body, when it declares at least PROBE_MIN_BYTES
 * (every SDK sends content-length; a chunked upload takes the ordinary path).
 */
export function probeWriterFor(c: Exchange['c'], adapter: EndpointAdapter): ProbeWriter | undefined {
  const declared = Number(c.req.header('content-length') ?? Number.NaN);
  return Number.isFinite(declared) && declared >= PROBE_MIN_BYTES ? startProbe(adapter.shape) : undefined;
}

/**
 * With the whole body streamed to `writer`: throws the pre-check's refusal of it, unparsed;
 * returns when the ordinary path decides.
 */
export async function refuseUnparsed(input: EarlyInput, writer: ProbeWriter): Promise<void> {
  const probe = await writer.end();
  if (!probe) return;
  try {
    if (probe.emptied.some((key) => !PROMPT_KEYS.has(key))) return;
    const denied = await precheckSlim(input, probe.slim, (model) => probe.bounds(model));
    if (denied) throw denied;
  } finally {
    probe.drop();
  }
}

async function precheckSlim(
  input: EarlyInput,
  slim: RequestBody,
  boundsOf: (upstreamModel: string) => Promise<PromptBounds | undefined>,
): Promise<GatewayError | undefined> {
  const { adapter, config, state } = input;
  const name = adapter.modelOf?.(slim, input.c.req.path) ?? slim.model;
  if (typeof name !== 'string') return undefined;
  let builder: AdmissionBuilder;
  let model: ReturnType<typeof resolveModel>;
  try {
    if (adapter.validate(slim)) return undefined;
    model = resolveModel(config, adapter, name);
    builder = admissionBuilder({
      requestId: state.record.requestId,
      identity: input.identity,
      adapter,
      body: slim,
      nowMs: state.record.timeMs,
      responses: input.deps.responses,
      stream: adapter.isStream(slim),
    });
  } catch (error) {
    if (error instanceof GatewayError) return undefined; // the ordinary path answers it
    throw error;
  }
  const bounds = await boundsOf(model.upstreamModel);
  if (!bounds) return undefined;
  const request = { ...builder.request(model), promptBoundsFor: () => bounds };
  const denied = await input.engine.precheck(request);
  if (!denied) return undefined;
  state.record.stream = adapter.isStream(slim);
  state.record.user = builder.identity.user ?? null;
  state.record.requestedModel = model.name;
  state.record.waitedMs = 0;
  return refusal(denied, config);
}
