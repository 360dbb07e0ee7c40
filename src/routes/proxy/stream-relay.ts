/**
 * Relays an upstream SSE body to the client chunk by chunk through the usage tap. The client's
 * reads drive the upstream reads (pull), so a slow client slows the upstream instead of filling
 * memory. A client that goes away cancels the stream, which aborts the upstream request at once.
 * A provider stream that breaks ends the client's stream cleanly; what was generated is billed.
 *
 * The stream ends (and onEnd runs, exactly once) on whichever comes first: the last byte, a read
 * that fails, the client's cancel, or the request's abort signal (the client's connection closed,
 * the request timeout). The signal matters when nobody pulls: @hono/node-server neither reads nor
 * cancels a body whose connection closed before it started writing it, so without it the
 * reservation would stay held until its lease expired.
 *
 * A metered stream (meter.ts) also ends when the budget cannot hold more output: the client gets
 * the provider's own ending at the output cap (tap.endAtCap), the upstream request is aborted, and
 * the settle bills what the reservation held (reason 'budget').
 */
import type { RuntimeModel } from '../../config/runtime.js';
import { streamBilling } from '../../providers/stream-usage.js';
import type { StreamTap } from '../../providers/types.js';
import type { Usage } from '../../usage.js';
import { drainArrived } from './drain.js';
import type { OutputMeter } from './meter.js';
import { ClientGone } from './upstream-failures.js';

/** Chunks a metered stream reads ahead of a slow client before it waits for the client. */
const MAX_QUEUED_CHUNKS = 4096;

export interface StreamOutcome {
  /** What to bill; undefined when no byte arrived (the caller bills its floor, the prompt). */
  usage: Usage | undefined;
  /** True when usage was (partly) counted from the streamed text, not reported by the provider. */
  counted: boolean;
  reason: 'end' | 'upstream-error' | 'client-gone' | 'budget';
}

export interface RelayOptions {
  upstream: AsyncIterable<Uint8Array> & { destroy?: (error?: Error) => void };
  tap: StreamTap;
  abort: AbortController;
  promptTokens: number;
  model: RuntimeModel;
  /** Set for a metered stream: asked after every chunk whether the budget holds more output. */
  meter?: OutputMeter;
  /** The client asked for the usage chunk (chat / completions stream_options.include_usage). */
  clientWantsUsage?: boolean;
  onEnd(outcome: StreamOutcome): Promise<void> | void;
}

export function relayStream(options: RelayOptions): ReadableStream<Uint8Array> {
  const { tap, abort } = options;
  const iterator = options.upstream[Symbol.asyncIterator]();
  let bytesReceived = 0;
  let ended = false;
  let client: ReadableStreamDefaultController<Uint8Array> | undefined;

  const finish = (reason: StreamOutcome['reason']) => {
    if (ended) return;
    ended = true;
    abort.signal.removeEventListener('abort', onAbort);
    const billed = streamBilling(tap, {
      model: options.model.upstreamModel,
      promptTokens: options.promptTokens,
      bytesReceived,
    });
    void Promise.resolve(options.onEnd({ ...billed, reason })).catch(() => {});
  };

  /** Ends the client's stream with what it has and bills; the upstream request is gone. */
  const cut = (reason: StreamOutcome['reason']) => {
    if (ended) return;
    try {
      // A broken provider stream ends with an error event, so the SDKs raise instead of returning
      // a truncated answer as if complete (issue #14 item 5); the partial output stays billed.
      if (reason === 'upstream-error') {
        client?.enqueue(
          tap.endWithError({
            message: 'The provider stream broke off before the answer was complete.',
            type: 'server_error',
            code: 'provider_stream_broken',
          }),
        );
      }
      client?.close();
    } catch {
      // the client side is already gone
    }
    finish(reason);
  };

  /** The budget holds no more output: end as the provider does at its cap, abort upstream. */
  const endAtBudget = (controller: ReadableStreamDefaultController<Uint8Array>) => {
    ended = true;
    abort.signal.removeEventListener('abort', onAbort);
    const relayed = {
      inputTokens: options.promptTokens,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: options.meter?.relayedTokens() ?? 0,
      reasoningTokens: 0,
    };
    try {
      controller.enqueue(tap.endAtCap(relayed, options.clientWantsUsage ?? true));
      controller.close();
    } catch {
      // the client side is already gone
    }
    void (async () => {
      // Read what the provider already sent (drain.ts) before aborting it: it is billed too.
      await drainArrived(iterator, (chunk) => void tap.push(chunk));
      options.upstream.destroy?.();
      abort.abort(new Error('budget: no more output can be reserved'));
      const reported = tap.usage();
      const outcome: StreamOutcome =
        reported && tap.usageComplete()
          ? { usage: reported, counted: false, reason: 'budget' }
          : {
              usage: {
                ...relayed,
                outputTokens: Math.max(
                  relayed.outputTokens,
                  tap.countedOutputTokens(options.model.upstreamModel),
                ),
              },
              counted: true,
              reason: 'budget',
            };
      await options.onEnd(outcome);
    })().catch(() => {});
  };

  /** One upstream chunk through the tap to the client; true when the stream ended. */
  async function step(controller: ReadableStreamDefaultController<Uint8Array>): Promise<boolean> {
    const next = await iterator.next();
    if (ended) return true;
    if (next.done) {
      const rest = tap.flush();
      if (rest && rest.length > 0) controller.enqueue(rest);
      controller.close();
      finish('end');
      return true;
    }
    bytesReceived += next.value.length;
    const out = tap.push(next.value);
    if (out && out.length > 0) controller.enqueue(out);
    if (options.meter && (await options.meter.afterChunk()) === 'cut' && !ended) {
      endAtBudget(controller);
      return true;
    }
    return false;
  }

  function failed() {
    cut(abort.signal.aborted && abort.signal.reason instanceof ClientGone ? 'client-gone' : 'upstream-error');
  }

  /**
   * A metered stream is read as it arrives, not as the client pulls: output waiting in socket
   * buffers was generated (and billed) all the same, and the meter must see it to stop in time.
   * Up to MAX_QUEUED_CHUNKS wait for a slow client; past that reading pauses until it pulls.
   */
  let pumping = false;
  let resume: (() => void) | undefined;
  async function pump(controller: ReadableStreamDefaultController<Uint8Array>) {
    pumping = true;
    try {
      for (;;) {
        if (ended) return;
        if ((controller.desiredSize ?? 0) < -MAX_QUEUED_CHUNKS) {
          await new Promise<void>((r) => {
            resume = r;
          });
          resume = undefined;
          continue;
        }
        if (await step(controller)) return;
      }
    } catch {
      failed();
    }
  }

  function onAbort() {
    options.upstream.destroy?.();
    cut(abort.signal.reason instanceof ClientGone ? 'client-gone' : 'upstream-error');
  }

  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        client = controller;
        if (abort.signal.aborted) onAbort();
        else abort.signal.addEventListener('abort', onAbort, { once: true });
      },
      async pull(controller) {
        if (ended) return;
        if (options.meter) {
          // Metered streams are read by pump(); a pull only lets a paused pump go on.
          if (!pumping) void pump(controller);
          else resume?.();
          return;
        }
        try {
          await step(controller);
        } catch {
          failed();
        }
      },
      cancel() {
        abort.abort(new ClientGone());
        options.upstream.destroy?.();
        finish('client-gone');
      },
    },
    { highWaterMark: 1 },
  );
}
