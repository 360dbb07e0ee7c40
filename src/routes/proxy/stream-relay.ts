/**
 * Relays an upstream SSE body to the client chunk by chunk through the usage tap. The client's
 * reads drive the upstream reads (pull), so a slow client slows the upstream instead of filling
 * memory. A client that goes away cancels the stream, which aborts the upstream request at once.
 * A provider stream that breaks ends the client's stream cleanly; what was generated is billed.
 */
import type { RuntimeModel } from '../../config/runtime.js';
import type { StreamTap } from '../../providers/types.js';
import { countTokens, encodingForModel } from '../../tokens/encoding.js';
import type { Usage } from '../../usage.js';

export interface StreamOutcome {
  /** What to bill; undefined when the provider produced nothing (release the reservation). */
  usage: Usage | undefined;
  /** True when usage was (partly) counted from the streamed text, not reported by the provider. */
  counted: boolean;
  reason: 'end' | 'upstream-error' | 'client-gone';
}

export interface RelayOptions {
  upstream: AsyncIterable<Uint8Array> & { destroy?: (error?: Error) => void };
  tap: StreamTap;
  abort: AbortController;
  promptTokens: number;
  model: RuntimeModel;
  onEnd(outcome: StreamOutcome): Promise<void> | void;
}

export function relayStream(options: RelayOptions): ReadableStream<Uint8Array> {
  const { tap, abort } = options;
  const iterator = options.upstream[Symbol.asyncIterator]();
  let bytesReceived = 0;
  let ended = false;

  const finish = (reason: StreamOutcome['reason']) => {
    if (ended) return;
    ended = true;
    const outcome = outcomeOf(tap, bytesReceived, options.promptTokens, options.model, reason);
    void Promise.resolve(options.onEnd(outcome)).catch(() => {});
  };

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const next = await iterator.next();
          if (next.done) {
            const rest = tap.flush();
            if (rest && rest.length > 0) controller.enqueue(rest);
            controller.close();
            finish('end');
            return;
          }
          bytesReceived += next.value.length;
          const out = tap.push(next.value);
          if (out && out.length > 0) controller.enqueue(out);
        } catch {
          if (ended) return;
          const rest = tap.flush();
          try {
            if (rest && rest.length > 0) controller.enqueue(rest);
            controller.close();
          } catch {
            // the client side is already gone
          }
          finish(abort.signal.aborted ? 'client-gone' : 'upstream-error');
        }
      },
      cancel() {
        abort.abort(new Error('client closed the stream'));
        options.upstream.destroy?.();
        finish('client-gone');
      },
    },
    { highWaterMark: 1 },
  );
}

function outcomeOf(
  tap: StreamTap,
  bytesReceived: number,
  promptTokens: number,
  model: RuntimeModel,
  reason: StreamOutcome['reason'],
): StreamOutcome {
  const reported = tap.usage();
  const complete = tap.usageComplete();
  if (reported && complete) return { usage: reported, counted: false, reason };
  if (bytesReceived === 0) return { usage: undefined, counted: false, reason };
  // The provider's usage never (fully) arrived: count what was streamed. The input was sent and
  // almost certainly billed; the output is what the client received, at least.
  const countedOutput = countTokens(tap.generatedText(), encodingForModel(model.upstreamModel));
  const usage: Usage = reported
    ? { ...reported, outputTokens: Math.max(reported.outputTokens, countedOutput) }
    : {
        inputTokens: promptTokens,
        cachedInputTokens: 0,
        cacheWriteTokens: 0,
        outputTokens: countedOutput,
        reasoningTokens: 0,
      };
  return { usage, counted: true, reason };
}
