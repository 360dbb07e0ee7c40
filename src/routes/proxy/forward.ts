/**
 * Phase 3: the admitted request goes to the served model's provider. The body is rewritten only
 * where the admission changed it; the request is cut when the client leaves or the gateway's
 * timeout passes. A failure before the answer becomes FallBack when a fallback model remains.
 *
 * When a request counts as "written upstream" (issue 12: from then on it is billed): once every
 * byte of its body was written to the provider's socket. undici pulls the body (an iterable, see
 * watchedBody) only after it has a connected socket and wrote the request headers, and asks for the
 * next chunk only once the last one was written (or drained); that is when `written` turns true.
 * Before it (waiting for a pooled connection, connecting, a connect failure, a client that left
 * during admission) the provider has not got the request: nothing is billed. After it, a client
 * that leaves is billed: a plain request keeps being read (bounded by the request timeout) and
 * settles at its usage, else the reserved amount; a stream is cut and bills at least the prompt.
 */
import type { Dispatcher } from 'undici';
import type { AdmissionGranted } from '../../budget/types.js';
import { GatewayError } from '../../errors.js';
import { nodeResponse } from '../../http/request.js';
import { upstreamHeaderRecord } from '../../providers/headers.js';
import type { RequestBody } from '../../providers/types.js';
import type { Exchange } from './exchange.js';
import { type Answered, NOTHING_PRODUCED, promptOnly, USAGE_UNKNOWN } from './settle.js';
import { upstreamPath, upstreamQuery } from './upstream.js';
import { ClientGone, FallBack, upstreamError } from './upstream-failures.js';

/** One try at a model: the first, or a fallback after the previous provider failed. */
export interface Attempt {
  admission: AdmissionGranted;
  /** A fallback model remains: a failure before the answer moves on instead of reaching the client. */
  canFallBack: boolean;
  /** The model whose provider failed before this attempt (x-gateway-fallback-from). */
  fallbackFrom: string | undefined;
}

/** The upstream request, answered: what the relay phase reads. */
export interface Forwarded {
  upstream: Dispatcher.ResponseData;
  call: UpstreamCall;
}

/** The upstream request in flight: its abort signal and the clean-up once it is answered. */
export interface UpstreamCall {
  abort: AbortController;
  /** Stops the timeout and the client-gone watch. */
  detach(): void;
  /** The usage chunk was asked for by the gateway, so the relay removes it from the client's stream. */
  strippedUsage: boolean;
  /** Every byte of the body was written to the provider (see the top of this file): it is billed. */
  written: boolean;
  /** The client's connection closed; the record says 499 whatever the provider answered. */
  clientGone: boolean;
}

export async function forward(exchange: Exchange, attempt: Attempt): Promise<Forwarded> {
  const { config, state } = exchange;
  const provider = attempt.admission.servedModel.provider;
  if (!provider.apiKey) {
    throw new GatewayError(
      'provider_not_configured',
      `The provider ${provider.name} has no API key configured on this gateway.`,
    );
  }
  const outgoing = nodeResponse(exchange.c);
  // The client may have left while its body was read or the admission ran: its 'close' has fired
  // already and a listener added now would never run (the request would go upstream unwatched, and
  // a stream nobody reads would hold its reservation until the lease expired). Nothing was sent.
  if (outgoing && (outgoing.destroyed || outgoing.closed)) throw new ClientGone();
  const { bytes, strippedUsage } = upstreamBody(exchange, attempt.admission);
  const abort = new AbortController();
  const timeout = setTimeout(() => abort.abort(new Error('request timeout')), config.server.requestTimeoutMs);
  timeout.unref();
  const onClientGone = () => {
    call.clientGone = true;
    // A plain request the provider has is read to its end: its usage says what it billed.
    if (call.written && !exchange.stream) return;
    abort.abort(new ClientGone());
  };
  const call: UpstreamCall = {
    abort,
    strippedUsage,
    written: false,
    clientGone: false,
    detach() {
      clearTimeout(timeout);
      outgoing?.off('close', onClientGone);
    },
  };
  outgoing?.once('close', onClientGone);

  let upstream: Dispatcher.ResponseData;
  state.upstreamStartedAt = performance.now();
  const headers = upstreamHeaderRecord(
    provider.kind,
    provider.apiKey,
    exchange.clientHeaders,
    provider.headers,
  );
  headers['content-length'] = String(bytes.length);
  const send = () => {
    const pending = exchange.deps.pools.pool(provider).request({
      method: 'POST',
      path: upstreamPathOf(exchange, attempt.admission) + upstreamQuery(provider, exchange.c.req.url),
      headers,
      body: watchedBody(bytes, () => {
        call.written = true;
      }),
      signal: abort.signal,
    });
    return answeredOrAborted(pending, abort.signal);
  };
  try {
    // Traced: a CLIENT span per attempt, its context sent upstream as traceparent (src/telemetry/).
    const { servedModel, outputCap } = attempt.admission;
    upstream = await (state.trace ? state.trace.upstream(servedModel, outputCap, headers, send) : send());
  } catch (error) {
    call.detach();
    if (call.clientGone) throw new ClientGone(unanswered(exchange, attempt.admission, call));
    const failure = upstreamError(error, provider.name, abort.signal);
    if (attempt.canFallBack && failure instanceof GatewayError) throw new FallBack(failure.code);
    throw failure;
  }
  if (attempt.canFallBack && (upstream.statusCode === 429 || upstream.statusCode >= 500)) {
    await upstream.body.dump().catch(() => {});
    call.detach();
    throw new FallBack(`status_${upstream.statusCode}`);
  }
  state.record.upstreamTtfbMs = performance.now() - state.upstreamStartedAt;
  return { upstream, call };
}

/** What a request whose client left before an answer is billed (see the top of this file). */
export function unanswered(exchange: Exchange, admission: AdmissionGranted, call: UpstreamCall): Answered {
  if (!call.written) return NOTHING_PRODUCED;
  return exchange.stream ? promptOnly(admission) : USAGE_UNKNOWN;
}

/**
 * The answer, or the abort's reason as soon as the signal fires. undici acts on an abort only once
 * the request has a connection: one still queued for a pooled connection would otherwise hold its
 * reservation (and its record) until a connection frees up. undici drops it unsent then; an answer
 * that still comes is discarded.
 */
function answeredOrAborted(
  pending: Promise<Dispatcher.ResponseData>,
  signal: AbortSignal,
): Promise<Dispatcher.ResponseData> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      reject(signal.reason);
      pending.then(
        (late) => late.body.destroy(),
        () => {},
      );
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    pending.then(
      (answer) => {
        signal.removeEventListener('abort', onAbort);
        resolve(answer);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * The body as an iterable of one chunk: undici reads it once the request has a socket and its
 * headers went out, and resumes it (running `onWritten`) only after the chunk was written to the
 * socket. undici takes (async) iterables as bodies; its types list only the stream kinds.
 */
function watchedBody(bytes: Buffer, onWritten: () => void): Dispatcher.DispatchOptions['body'] {
  async function* chunks() {
    yield bytes;
    onWritten();
  }
  return chunks() as unknown as Dispatcher.DispatchOptions['body'];
}

/**
 * Where the request goes: the endpoint's path, or (model in the path, Gemini) the served model's;
 * a metered plain request whose API streams at another URL goes to that one (upstreamBody made
 * the body a streaming one, relay-assembled.ts answers the plain JSON).
 */
function upstreamPathOf(exchange: Exchange, admission: AdmissionGranted): string {
  const { adapter } = exchange;
  const served = admission.servedModel;
  const streamedPlain = !exchange.stream && admission.meter !== undefined;
  const clientPath =
    (streamedPlain ? adapter.upstreamStreamPathFor?.(served.upstreamModel) : undefined) ??
    adapter.upstreamPathFor?.(served.upstreamModel) ??
    adapter.path;
  return upstreamPath(served.provider, clientPath, served.upstreamModel);
}

/** Applies the admission to the body; returns the bytes to send (the original ones when nothing changed). */
function upstreamBody(
  exchange: Exchange,
  admission: AdmissionGranted,
): { bytes: Buffer; strippedUsage: boolean } {
  const { adapter, body } = exchange;
  let changed = setServedModel(body, admission, adapter.upstreamPathFor !== undefined);
  // The cap goes in the served model's field: a fallback or downgrade to an o-series model takes
  // max_completion_tokens where the client wrote max_tokens.
  const served = admission.servedModel;
  const misplacedCap = adapter.shape === 'chat' && body[served.capField] === undefined;
  if ((admission.capChanged || misplacedCap) && admission.outputCap !== undefined) {
    adapter.setOutputCap(body, admission.outputCap, served.capField);
    changed = true;
  }
  // A server that refuses stream_options gets none (the client's included): its streams are billed
  // from the relayed text, and the client gets no usage chunk it could not have got from that server.
  const noStreamUsage = served.provider.streamUsage === false;
  if (noStreamUsage && exchange.stream && body.stream_options !== undefined) {
    delete body.stream_options;
    changed = true;
  }
  const strippedUsage = exchange.stream && !noStreamUsage && adapter.requestUsageInStream(body);
  if (strippedUsage) changed = true;
  // A metered plain request goes upstream as a stream so its output can be metered (relay-assembled.ts).
  if (!exchange.stream && admission.meter) {
    return { bytes: Buffer.from(JSON.stringify(adapter.asUpstreamStream(body))), strippedUsage: false };
  }
  return { bytes: changed ? Buffer.from(JSON.stringify(body)) : exchange.bytes, strippedUsage };
}

function setServedModel(body: RequestBody, admission: AdmissionGranted, inPath: boolean): boolean {
  // The model travels in the upstream path (Gemini): the body has no model field to write.
  if (inPath) return false;
  if (body.model === admission.servedModel.upstreamModel) return false;
  body.model = admission.servedModel.upstreamModel;
  return true;
}
