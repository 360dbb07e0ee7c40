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
import type { PrefixFacts } from '../../http/prompt-prefix.js';
import type { EndpointAdapter, RequestBody } from '../../providers/types.js';
import { holdCountRoom, queueFull } from '../../tokens/estimate.js';
import { MAX_BYTES_PER_TOKEN, type PromptBounds } from '../../tokens/lower-bound.js';
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
 * The body probe's writer for this request's body, when it declares at least PROBE_MIN_BYTES and
 * at most `maxBodyBytes` (every SDK sends content-length; a chunked upload takes the ordinary
 * path, and a body declared too large is refused unread).
 */
export function probeWriterFor(
  c: Exchange['c'],
  adapter: EndpointAdapter,
  maxBodyBytes: number,
): { writer: ProbeWriter; declaredBytes: number } | undefined {
  const declared = Number(c.req.header('content-length') ?? Number.NaN);
  if (!Number.isSafeInteger(declared) || declared < PROBE_MIN_BYTES || declared > maxBodyBytes)
    return undefined;
  const writer = startProbe(adapter.shape);
  return writer ? { writer, declaredBytes: declared } : undefined;
}

/**
 * With the whole body streamed to `writer`: throws the pre-check's refusal of it, unparsed;
 * otherwise returns its bytes, back from the worker, for the ordinary path to parse and decide.
 */
export async function refuseUnparsed(
  input: EarlyInput,
  writer: ProbeWriter,
  declaredBytes: number,
): Promise<Buffer> {
  try {
    // What the scan proves about the whole body first, as for its prefixes: a body refused on it is
    // never joined nor parsed, even in the worker (16 x 3.9 MB: ~10 ms of worker CPU each, which
    // the main thread shares two cores with).
    const facts = await writer.wholeFacts();
    if (facts) {
      const denied = await precheckPrefix(input, facts, declaredBytes, () => true).catch(() => undefined);
      if (denied) throw denied;
    }
    const probe = await writer.end();
    if (probe && !probe.emptied.some((key) => !PROMPT_KEYS.has(key))) {
      const denied = await precheckSlim(input, probe.slim, (model) => probe.bounds(model), {
        queueOwner: input.identity.keyId,
      });
      if (denied) throw denied;
    }
    const bytes = await writer.take();
    // The worker held the only copy: it is gone (it died), and so is the body.
    if (!bytes) throw new GatewayError('internal_error', 'The request body was lost; send it again.');
    return bytes;
  } finally {
    writer.abandon();
  }
}

/**
 * While a large body arrives: an abort signal that fires, with the refusal as its reason, once
 * what its prefix already proves (the model, lower bounds of the prompt's bytes and pieces) cannot be paid.
 * The reader then stops reading (http/body.ts), and the answer closes the connection, discarding
 * the rest unread: a refused caller's 4 MB prompt costs the gateway its first megabyte or so, not
 * all of it copied to the worker and parsed there. The request priced is the least the full body
 * could be: that model, the prefix's prompt at its lower bound (bytes / MAX_BYTES_PER_TOKEN, or its
 * letter-space pairs: tokens/lower-bound.ts), one output token, one choice.
 */
export function refuseOnPrefix(
  input: EarlyInput,
  writer: ProbeWriter,
  declaredBytes: number,
): { signal: AbortSignal; write(chunk: Buffer): Promise<void> | undefined; arrived(): void } {
  const controller = new AbortController();
  let latest: PrefixFacts | undefined;
  let checking: Promise<void> | undefined;
  let arrived = false;
  const stillMine = () => !arrived;
  const run = async () => {
    while (latest && !controller.signal.aborted && !arrived) {
      const facts = latest;
      latest = undefined;
      const denied = await precheckPrefix(input, facts, declaredBytes, stillMine).catch(() => undefined);
      if (denied) {
        // The rest of the body is not read: the connection cannot carry another request.
        denied.headers.connection = 'close';
        controller.abort(denied);
      }
    }
  };
  writer.onPrefix((facts) => {
    latest = facts;
    checking ??= run().finally(() => {
      checking = undefined;
    });
  });
  return {
    signal: controller.signal,
    /**
     * Sends a chunk on to the probe; a promise while the reader should wait: for the worker to
     * catch up, then for a prefix's verdict in flight (a paying body waits for a cached balance).
     */
    write(chunk) {
      const synced = writer.write(chunk);
      if (!synced && !checking) return undefined;
      return (async () => {
        await synced;
        await checking;
      })();
    },
    /** The whole body is in: the ordinary path (refuseUnparsed, then the parse) decides from here. */
    arrived() {
      arrived = true;
    },
  };
}

function precheckPrefix(
  input: EarlyInput,
  facts: PrefixFacts,
  declaredBytes: number,
  stillMine: () => boolean,
) {
  // The least body the full one can be (max_tokens 1: a minimum output no real cap goes below).
  const least: RequestBody = { model: facts.model, messages: [], max_tokens: 1 };
  // Each bound holds for the prompt's texts together (the full estimate's lower bound is at least
  // the larger: lower-bound.ts).
  const lower = Math.max(Math.floor(facts.promptBytes / MAX_BYTES_PER_TOKEN), facts.promptPieces);
  // Only the pre-check's overflow guard reads the upper bound: far above any count of this body
  // (a token is at least a byte; the estimate's overheads and Claude's margin add less than 4x).
  return precheckSlim(input, least, async () => ({ lower, upper: 4 * declaredBytes }), {
    validated: true,
    stillMine,
  });
}

async function precheckSlim(
  input: EarlyInput,
  slim: RequestBody,
  boundsOf: (upstreamModel: string) => Promise<PromptBounds | undefined>,
  options: {
    validated?: boolean;
    stillMine?: () => boolean;
    /** Whose share of the token queue the exact count would use: refused here when it has no room. */
    queueOwner?: string;
  } = {},
): Promise<GatewayError | undefined> {
  const { adapter, config, state } = input;
  const name = adapter.modelOf?.(slim, input.c.req.path) ?? slim.model;
  if (typeof name !== 'string') return undefined;
  let builder: AdmissionBuilder;
  let model: ReturnType<typeof resolveModel>;
  try {
    if (!options.validated && adapter.validate(slim)) return undefined;
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
  // The budgets could pay it: the room its count needs in the token queue is held now, before the
  // body comes back to the main thread to be parsed, and without room it is refused now, as the
  // count would refuse it (bodies arriving together otherwise all saw the room their counts took).
  const queueRefused =
    !denied &&
    options.queueOwner !== undefined &&
    !holdCountRoom(state.record.requestId, bounds.longTextChars ?? 0, options.queueOwner);
  // A prefix's verdict that comes after the whole body arrived is not the request's any more.
  if ((!denied && !queueRefused) || options.stillMine?.() === false) return undefined;
  state.record.stream = adapter.isStream(slim);
  state.record.user = builder.identity.user ?? null;
  state.record.requestedModel = model.name;
  state.record.waitedMs = 0;
  return denied ? refusal(denied, config) : queueFull();
}
