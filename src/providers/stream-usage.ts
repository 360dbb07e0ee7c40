/**
 * What a relayed stream is billed for, from its tap: the provider's last usage report when it is
 * final and plausible, else the report with its output raised to the tokens of the text the client
 * was relayed (never below either). The settle of streamed responses calls this once the stream
 * ended (done, cut, or the client left).
 */
import type { Usage } from '../usage.js';
import type { StreamTap } from './types.js';

/**
 * More relayed characters per reported output token than this makes a report implausibly low
 * (text averages ~4 characters a token; long whitespace runs in code approach 8): the relayed text
 * is then counted and the settle bills the larger count. Counting is exact, so a false alarm costs
 * only the CPU of one count.
 */
export const MAX_PLAUSIBLE_CHARS_PER_TOKEN = 8;

export interface StreamBilling {
  /** Undefined when nothing arrived at all (no byte): the caller bills its own floor (the prompt). */
  usage: Usage | undefined;
  /** True when the output was (partly) counted from the relayed text, not taken from a report. */
  counted: boolean;
}

/** What streamBilling reads: a StreamTap, or a StreamAssembler (plain requests streamed upstream). */
export type BilledStream = Pick<
  StreamTap,
  'usage' | 'usageComplete' | 'generatedText' | 'countedOutputTokens'
>;

export function streamBilling(
  tap: BilledStream,
  options: { model: string; promptTokens: number; bytesReceived: number },
): StreamBilling {
  const reported = tap.usage();
  const relayedChars = tap.generatedText().length;
  if (reported !== undefined && tap.usageComplete()) {
    if (relayedChars <= reported.outputTokens * MAX_PLAUSIBLE_CHARS_PER_TOKEN)
      return { usage: reported, counted: false };
  } else if (options.bytesReceived === 0) {
    return { usage: undefined, counted: false };
  }
  const countedOutput = tap.countedOutputTokens(options.model);
  if (reported !== undefined) {
    if (countedOutput <= reported.outputTokens && tap.usageComplete())
      return { usage: reported, counted: false };
    return {
      usage: { ...reported, outputTokens: Math.max(reported.outputTokens, countedOutput) },
      counted: true,
    };
  }
  return {
    usage: {
      inputTokens: options.promptTokens,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: countedOutput,
      reasoningTokens: 0,
    },
    counted: true,
  };
}
