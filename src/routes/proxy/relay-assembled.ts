/**
 * A metered plain request: the gateway asked the provider for a stream (forward.ts) so the answer
 * can be metered like any stream, and the client gets the plain JSON the provider would have sent
 * (the adapter's assembler builds it field for field). When the budget holds no more output the
 * answer ends as the provider ends one at its cap (finish_reason "length", stop_reason
 * "max_tokens", status "incomplete", Gemini finishReason "MAX_TOKENS"), upstream is aborted and the
 * hold is billed. (Gemini's stream has its own URL: forward.ts sends it there.)
 *
 * The cost: the answer is read whole before the client sees it (as a plain answer is anyway), and
 * the SSE framing is parsed where a plain body would be parsed once.
 */
import type { Dispatcher } from 'undici';
import type { AdmissionGranted, MeterGrant } from '../../budget/types.js';
import { GatewayError } from '../../errors.js';
import type { ResponseHeaderRecord } from '../../providers/headers.js';
import { drainArrived } from './drain.js';
import type { Exchange } from './exchange.js';
import type { UpstreamCall } from './forward.js';
import { budgetHeaders, costHeader } from './gateway-headers.js';
import { meterFor } from './meter.js';
import { rememberResponse, servedTo } from './response-context.js';
import { type Answered, cutAnswer, promptOnly, settleAnswer, USAGE_UNKNOWN } from './settle.js';
import { CLIENT_CLOSED_STATUS, ClientGone, upstreamError } from './upstream-failures.js';

export async function relayAssembled(
  exchange: Exchange,
  admission: AdmissionGranted & { meter: MeterGrant },
  upstream: Dispatcher.ResponseData,
  call: UpstreamCall,
  headers: ResponseHeaderRecord,
): Promise<Response> {
  const { state, adapter } = exchange;
  const assembler = adapter.createAssembler();
  const meter = meterFor(exchange, admission, assembler);
  let cut = false;
  try {
    // Read to its end even when the client has left (forward.ts): what was generated is billed.
    const iterator = upstream.body[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
    for (;;) {
      const next = await iterator.next();
      if (next.done) break;
      assembler.push(next.value);
      if (meter && (await meter.afterChunk()) === 'cut') {
        // What the provider already sent is read first (drain.ts); if that completes the answer,
        // the client gets it whole and it is billed at its usage.
        await drainArrived(iterator, (chunk) => assembler.push(chunk));
        cut = !(assembler.usage() && assembler.usageComplete() && assembler.result() !== undefined);
        upstream.body.destroy();
        break;
      }
    }
  } catch (error) {
    call.detach();
    const relayed = assembler.generatedText().length > 0;
    // Output came before the failure: bill what the reservation held (the provider's count is lost).
    const answered: Answered = relayed ? USAGE_UNKNOWN : promptOnly(admission);
    if (call.clientGone) throw new ClientGone(answered);
    await settleAnswer(exchange.engine, admission, answered, state);
    throw upstreamError(error, admission.servedModel.provider.name, call.abort.signal);
  }
  call.detach();
  const whole = cut ? undefined : assembler.result();
  if (!cut && whole === undefined) return unfinished(exchange, admission, call, assembler.generatedText());
  const relayedUsage = {
    inputTokens: admission.promptTokens,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    outputTokens: Math.max(
      meter?.relayedTokens() ?? 0,
      cut ? assembler.countedOutputTokens(admission.servedModel.upstreamModel) : 0,
    ),
    reasoningTokens: 0,
  };
  const usage = cut ? undefined : assembler.usage();
  const json = whole ?? assembler.resultAtCap(relayedUsage);
  state.trace?.answer(json);
  if (cut) state.record.cutAtBudget = true;
  // Cut, or a stream that ended without its usage: the hold covers what the provider generated.
  const answered: Answered = usage
    ? { usage, counted: false, produced: true }
    : cut
      ? cutAnswer(admission, relayedUsage)
      : USAGE_UNKNOWN;
  const settled = await settleAnswer(exchange.engine, admission, answered, state);
  rememberResponse(
    exchange.deps.responses,
    adapter.responseIdFromJson(json),
    usage,
    servedTo(exchange, admission.servedModel.provider.name),
  );
  if (call.clientGone) {
    state.record.status = CLIENT_CLOSED_STATUS;
    state.finish(exchange.deps.observe);
    return new Response(null, { status: CLIENT_CLOSED_STATUS });
  }
  if (settled) costHeader(headers, settled.costNano);
  budgetHeaders(headers, settled?.tightest ?? admission.tightest);
  headers['content-type'] = 'application/json';
  delete headers['content-length'];
  state.record.status = upstream.statusCode;
  state.finish(exchange.deps.observe);
  return new Response(JSON.stringify(json), { status: upstream.statusCode, headers });
}

/**
 * The stream ended without its final event (garbage, an error event, a provider that closed early):
 * there is no plain answer to give, so the client gets a provider error rather than an empty 200,
 * and what was generated is billed as for a broken stream (the hold, or the prompt when no output came).
 */
async function unfinished(
  exchange: Exchange,
  admission: AdmissionGranted & { meter: MeterGrant },
  call: UpstreamCall,
  generated: string,
): Promise<never> {
  const answered: Answered = generated.length > 0 ? USAGE_UNKNOWN : promptOnly(admission);
  if (call.clientGone) throw new ClientGone(answered);
  await settleAnswer(exchange.engine, admission, answered, exchange.state);
  const provider = admission.servedModel.provider.name;
  throw new GatewayError(
    'provider_unreachable',
    `The provider ${provider} ended its answer before it finished.`,
  );
}
