/**
 * The one settle policy, for plain and streamed answers alike:
 * - usage known (reported by the provider, or counted from the streamed text): settle at it;
 * - an answer without usage: the provider billed something we cannot see, so the worst case that
 *   was reserved is what we count;
 * - a request written upstream whose answer never came (the client left, a stream cut before its
 *   first byte): at least the prompt, which the provider was sent and bills;
 * - nothing produced (the provider refused, the request failed before it was written upstream):
 *   release the reservation.
 */
import type { AdmissionGranted, BudgetEngine, SettleOutcome } from '../../budget/types.js';
import type { Usage } from '../../usage.js';
import type { RequestState } from './request-state.js';

export interface Answered {
  usage: Usage | undefined;
  /** True when usage was (partly) counted from the streamed text, not reported by the provider. */
  counted: boolean;
  /** False when the provider produced nothing it could bill. */
  produced: boolean;
}

export const NOTHING_PRODUCED: Answered = { usage: undefined, counted: false, produced: false };

/** An answer that came but whose usage is unknown: billed at the reserved worst case. */
export const USAGE_UNKNOWN: Answered = { usage: undefined, counted: false, produced: true };

/** Settles or releases the admission's reservation; undefined when it was released. */
export async function settleAnswer(
  engine: BudgetEngine,
  admission: AdmissionGranted,
  answered: Answered,
  state: RequestState,
): Promise<SettleOutcome | undefined> {
  state.settled = true;
  if (!answered.usage && !answered.produced) {
    await engine.release(admission.reservation);
    state.record.settlement = 'released';
    return undefined;
  }
  const usage = answered.usage ?? reservedUsage(admission);
  const result = await engine.settle(admission.reservation, admission.servedModel, usage);
  state.setUsage(usage, result.costNano);
  state.record.settlement = !answered.usage ? 'reserved' : answered.counted ? 'counted' : 'usage';
  return result;
}

/** The prompt alone: what a request written upstream costs at least, whatever became of its answer. */
export function promptOnly(admission: AdmissionGranted): Answered {
  return {
    usage: {
      inputTokens: admission.promptTokens,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: 0,
      reasoningTokens: 0,
    },
    counted: true,
    produced: true,
  };
}

/**
 * The usage the reservation was sized for: the prompt and the whole output cap for every sequence
 * the provider may bill (`n`, `best_of` x prompts: the admission's `reservedOutputTokens`).
 */
export function reservedUsage(admission: AdmissionGranted): Usage {
  return {
    inputTokens: admission.promptTokens,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    outputTokens: admission.reservedOutputTokens,
    reasoningTokens: 0,
  };
}

/**
 * An answer the meter cut at the budget: billed at what the reservation held (it covers what the
 * provider generated after the last relayed chunk), or at what was relayed when that is more (a
 * provider faster than the relay: the books then still hold at least what it served).
 */
export function cutAnswer(admission: AdmissionGranted, relayed: Usage | undefined): Answered {
  if (relayed && relayed.outputTokens > admission.reservedOutputTokens) {
    return { usage: relayed, counted: true, produced: true };
  }
  return USAGE_UNKNOWN;
}
