/**
 * Phase 4: the provider's answer goes back to the client with the gateway's headers: a refusal as
 * it came (nothing billed), a plain body once read, a stream chunk by chunk through the usage tap.
 * Each ends in the one settle policy (settle.ts) and emits the request's record.
 */
import type { Dispatcher } from 'undici';
import type { AdmissionGranted } from '../../budget/types.js';
import { withReadDeadline } from '../../limits/read-deadline.js';
import { clientHeaderRecord, type ResponseHeaderRecord } from '../../providers/headers.js';
import type { Usage } from '../../usage.js';
import type { Exchange } from './exchange.js';
import type { Attempt, Forwarded, UpstreamCall } from './forward.js';
import {
  admissionHeaders,
  afterRelease,
  budgetHeaders,
  costHeader,
  estimateHeader,
} from './gateway-headers.js';
import { isMetered, meterFor } from './meter.js';
import { relayAssembled } from './relay-assembled.js';
import { rememberResponse, servedTo } from './response-context.js';
import { cutAnswer, NOTHING_PRODUCED, promptOnly, settleAnswer, USAGE_UNKNOWN } from './settle.js';
import { relayStream } from './stream-relay.js';
import { CLIENT_CLOSED_STATUS, ClientGone, upstreamError } from './upstream-failures.js';

export async function relay(exchange: Exchange, attempt: Attempt, forwarded: Forwarded): Promise<Response> {
  const { admission } = attempt;
  const { upstream, call } = forwarded;
  // The provider's kind picks the response allow-list ([hardening] 11).
  const headers = clientHeaderRecord(upstream.headers, admission.servedModel.provider.kind);
  // What @hono/node-server answers for a Headers object without one; a plain object gets no default.
  headers['content-type'] ??= 'text/plain; charset=UTF-8';
  admissionHeaders(headers, exchange.state.record.requestId, admission);
  if (attempt.fallbackFrom) headers['x-gateway-fallback-from'] = attempt.fallbackFrom;

  if (upstream.statusCode >= 400) return relayRefusal(exchange, admission, upstream, call, headers);
  exchange.state.record.metered = isMetered(admission);
  if (!exchange.stream) {
    // A metered plain request went upstream as a stream (forward.ts): the client gets the plain answer.
    if (isMetered(admission) && isEventStream(upstream)) {
      return relayAssembled(exchange, admission, upstream, call, headers);
    }
    return relayPlain(exchange, admission, upstream, call, headers);
  }
  return relayStreamed(exchange, admission, upstream, call, headers);
}

function isEventStream(upstream: Dispatcher.ResponseData): boolean {
  const type = upstream.headers['content-type'];
  return String(Array.isArray(type) ? type[0] : (type ?? '')).includes('text/event-stream');
}

/** The provider refused the request: it billed nothing, so nothing is spent. */
async function relayRefusal(
  exchange: Exchange,
  admission: AdmissionGranted,
  upstream: Dispatcher.ResponseData,
  call: UpstreamCall,
  headers: ResponseHeaderRecord,
): Promise<Response> {
  const { state } = exchange;
  const errorBytes = Buffer.from(await upstream.body.arrayBuffer().catch(() => new ArrayBuffer(0)));
  call.detach();
  await settleAnswer(exchange.engine, admission, NOTHING_PRODUCED, state);
  if (call.clientGone) return clientClosed(exchange);
  state.record.status = upstream.statusCode;
  state.record.errorCode = 'provider_error';
  budgetHeaders(headers, afterRelease(admission.tightest, admission.reservation));
  state.finish(exchange.deps.observe);
  return new Response(errorBytes, { status: upstream.statusCode, headers });
}

/** The client left while the answer was read: the record says so, whatever was billed. */
function clientClosed(exchange: Exchange): Response {
  exchange.state.record.status = CLIENT_CLOSED_STATUS;
  exchange.state.finish(exchange.deps.observe);
  return new Response(null, { status: CLIENT_CLOSED_STATUS });
}

async function relayPlain(
  exchange: Exchange,
  admission: AdmissionGranted,
  upstream: Dispatcher.ResponseData,
  call: UpstreamCall,
  headers: ResponseHeaderRecord,
): Promise<Response> {
  const { state } = exchange;
  let responseBytes: Buffer;
  try {
    // Read to its end even when the client has left (forward.ts): the usage is what gets billed.
    responseBytes = Buffer.from(await upstream.body.arrayBuffer());
  } catch (error) {
    call.detach();
    if (call.clientGone) throw new ClientGone(USAGE_UNKNOWN);
    throw upstreamError(error, admission.servedModel.provider.name, call.abort.signal);
  }
  call.detach();
  let usage: Usage | undefined;
  let responseId: string | undefined;
  try {
    const json: unknown = JSON.parse(responseBytes.toString('utf8'));
    usage = exchange.adapter.usageFromJson(json);
    responseId = exchange.adapter.responseIdFromJson(json);
    state.trace?.answer(json);
  } catch {
    usage = undefined;
  }
  const settled = await settleAnswer(
    exchange.engine,
    admission,
    { usage, counted: false, produced: true },
    state,
  );
  // A follow-up naming this response (previous_response_id) is reserved for what it carries over.
  rememberResponse(
    exchange.deps.responses,
    responseId,
    usage,
    servedTo(exchange, admission.servedModel.provider.name),
  );
  if (call.clientGone) return clientClosed(exchange);
  if (settled) costHeader(headers, settled.costNano);
  budgetHeaders(headers, settled?.tightest ?? admission.tightest);
  state.record.status = upstream.statusCode;
  state.finish(exchange.deps.observe);
  return new Response(responseBytes, { status: upstream.statusCode, headers });
}

/** Headers go out before the usage is known: they carry the estimate, the settle comes at the end. */
function relayStreamed(
  exchange: Exchange,
  admission: AdmissionGranted,
  upstream: Dispatcher.ResponseData,
  call: UpstreamCall,
  headers: ResponseHeaderRecord,
): Response {
  const { state } = exchange;
  estimateHeader(headers, admission.estimateNano);
  budgetHeaders(headers, admission.tightest);
  state.record.status = upstream.statusCode;
  // Whole events only: an ending (at the budget, or an error event) never follows half an event.
  const tap = exchange.adapter.createStreamTap({ stripUsageChunk: call.strippedUsage, wholeEvents: true });
  const relayed = relayStream({
    upstream: upstream.body,
    tap,
    abort: call.abort,
    meter: meterFor(exchange, admission, tap),
    clientWantsUsage: !call.strippedUsage,
    onEnd: async (outcome) => {
      call.detach();
      // Cut at the budget: what the provider generated after the last relayed chunk is not seen,
      // so the reservation's whole hold is billed (it covers that lag: meter.ts).
      if (outcome.reason === 'budget') state.record.cutAtBudget = true;
      // Answered, so written upstream: a stream cut before its first byte bills the prompt.
      const answered =
        outcome.reason === 'budget'
          ? outcome.counted
            ? cutAnswer(admission, outcome.usage)
            : { usage: outcome.usage, counted: false, produced: true }
          : outcome.usage
            ? { usage: outcome.usage, counted: outcome.counted, produced: true }
            : promptOnly(admission);
      await settleAnswer(exchange.engine, admission, answered, state);
      rememberResponse(
        exchange.deps.responses,
        tap.responseId(),
        outcome.usage,
        servedTo(exchange, admission.servedModel.provider.name),
      );
      if (outcome.reason === 'client-gone') state.record.status = CLIENT_CLOSED_STATUS;
      state.finish(exchange.deps.observe);
    },
    promptTokens: admission.promptTokens,
    model: admission.servedModel,
  });
  // [limits] a client that stops draining is cut (upstream aborted, what it generated billed).
  const deadlineMs = exchange.config.limits.streamReadDeadlineMs;
  const guarded = withReadDeadline(relayed, deadlineMs, () => call.abort.abort(new ClientGone()));
  return new Response(guarded, { status: upstream.statusCode, headers });
}
