/**
 * The output meter of a metered answer (DESIGN §3 "Metered streams"): the reservation holds the
 * prompt and a slice of output; as output is relayed the meter asks for the next slice ahead of it,
 * and when no more can be had it tells the relay to end the answer at the output cap while the slice
 * still held covers what the provider generates before it sees the abort.
 *
 * Counting: every token is at least one UTF-8 byte, so relayed bytes since the last exact count
 * bound the tokens from above at no cost; the text is counted exactly (tiktoken) only when that bound
 * comes near the slice's edge, a few times per slice. Extensions are asked for half a slice ahead
 * and never block the relay, except when an answer would run past its cover while one is pending.
 */
import type { AdmissionGranted, BudgetEngine, MeterGrant } from '../../budget/types.js';
import type { RequestRecord } from '../../record.js';
import { countTokens, encodingForModel } from '../../tokens/encoding.js';
import type { Exchange } from './exchange.js';

/** What the meter reads of the answer being relayed: a stream tap or a plain-answer assembler. */
export interface MeteredSource {
  generatedText(): string;
  generatedUtf8Bytes(): number;
}

/**
 * Tokens of cover kept, while others hold the money an extension waits for, for what the provider
 * generates between the cut and the abort reaching it (and what sits in socket buffers unread):
 * a quarter of the slice, at least MIN_CUT_MARGIN_TOKENS. When no money can come at all the answer
 * is cut at once, with up to half a slice of cover (docs/controls.md "Metered requests").
 */
export const MIN_CUT_MARGIN_TOKENS = 32;

export type MeterVerdict = 'go' | 'cut';

export class OutputMeter {
  private exactTokens = 0;
  private bytesAtExact = 0;
  private countedLength = 0;
  private bytesSeen = 0;
  /** Largest growth of the text between two chunks, in UTF-8 bytes. */
  private largestRead = 0;
  private pending: Promise<void> | undefined;
  /** Relayed tokens at the last refusal: the next try waits for a little more progress. */
  private refusedAt = -1;
  /** No extension can succeed any more (the money is spent, the store failed closed, it was reaped). */
  private exhausted = false;
  /** The store is unreachable and on_unavailable is allow: the rest of the answer is not metered. */
  private unmetered = false;

  constructor(
    private readonly engine: Pick<BudgetEngine, 'extend'>,
    private readonly admission: AdmissionGranted & { meter: MeterGrant },
    private readonly source: MeteredSource,
    private readonly options: {
      model: string;
      onUnavailable: 'reject' | 'allow';
      record: Pick<RequestRecord, 'extensions'>;
      /** Each extension's answer, for the request's trace (a span event per slice asked for). */
      onExtend?: (outcome: string, heldTokens: number) => void;
    },
  ) {}

  private get meter(): MeterGrant {
    return this.admission.meter;
  }

  /** Output tokens the reservation covers now, all sequences. */
  heldTokens(): number {
    return this.meter.heldCap * this.meter.outputMultiplier;
  }

  private sliceTokens(): number {
    return this.meter.sliceCap * this.meter.outputMultiplier;
  }

  private cutMargin(): number {
    // Also twice the largest read seen (in bytes, which bound tokens): a provider that outruns the
    // relay delivers in big reads, and the next one must still fit under the hold.
    return Math.max(MIN_CUT_MARGIN_TOKENS, Math.floor(this.sliceTokens() / 4), 2 * this.largestRead);
  }

  /**
   * Tokens relayed: the text counted piece by piece as it grows (tiktoken), so each call costs only
   * the new text. A sum of pieces' counts is at least the count of their concatenation (a merge
   * across a piece boundary only saves tokens): the error is on the side of holding more.
   */
  relayedTokens(): number {
    const text = this.source.generatedText();
    let end = text.length;
    // Never split a surrogate pair between two pieces.
    const last = text.charCodeAt(end - 1);
    if (end > this.countedLength && last >= 0xd800 && last <= 0xdbff) end--;
    if (end > this.countedLength) {
      const piece = text.slice(this.countedLength, end);
      this.exactTokens += countTokens(piece, encodingForModel(this.options.model));
      this.countedLength = end;
      // Bytes of the text not counted yet (half a surrogate pair) are left in the bound: at most 4.
      this.bytesAtExact = this.source.generatedUtf8Bytes() - (text.length - end) * 4;
    }
    return this.exactTokens;
  }

  /**
   * After each relayed chunk: 'go' on, or 'cut' (end the answer at the cap now). Starts an
   * extension when the relayed output comes within half a slice of what is held; waits for it only
   * when the cover left is down to the cut margin.
   */
  async afterChunk(): Promise<MeterVerdict> {
    const bytes = this.source.generatedUtf8Bytes();
    this.largestRead = Math.max(this.largestRead, bytes - this.bytesSeen);
    this.bytesSeen = bytes;
    for (;;) {
      if (this.unmetered || this.meter.heldCap >= this.meter.fullCap) return 'go';
      const held = this.heldTokens();
      const ahead = Math.ceil(this.sliceTokens() / 2);
      const upperBound = this.exactTokens + (this.source.generatedUtf8Bytes() - this.bytesAtExact);
      if (upperBound < held - ahead) return 'go';
      const relayed = this.relayedTokens();
      if (relayed < held - ahead) return 'go';
      this.maybeExtend(relayed);
      // No more money can come (spent, failed closed, reaped): end now, while the cover left is
      // widest. The hold is billed either way; a wider cover only makes the provider's lag safer.
      if (this.exhausted && !this.pending) return 'cut';
      if (relayed < held - this.cutMargin()) return 'go';
      if (!this.pending) return 'cut';
      await this.pending;
    }
  }

  private maybeExtend(relayed: number): void {
    if (this.pending || this.exhausted) return;
    // After a busy answer, ask again only once another sixteenth of a slice was relayed: a few
    // store calls in a slice's last half, not one per chunk.
    if (this.refusedAt >= 0 && relayed < this.refusedAt + Math.max(1, Math.floor(this.sliceTokens() / 16)))
      return;
    const { sliceCap, fullCap, heldCap, outputMultiplier } = this.meter;
    const addCap = Math.min(sliceCap, fullCap - heldCap);
    // In a budget's last per cent a part of a slice is worth having: at least the cut margin.
    const minAddCap = Math.min(addCap, Math.max(1, Math.ceil(this.cutMargin() / outputMultiplier)));
    this.pending = this.engine
      .extend(this.admission, addCap, minAddCap)
      .then((outcome) => {
        this.options.onExtend?.(outcome.status, this.heldTokens());
        switch (outcome.status) {
          case 'extended':
            this.options.record.extensions++;
            this.refusedAt = -1;
            break;
          case 'busy':
            this.refusedAt = relayed;
            break;
          case 'unavailable':
            if (this.options.onUnavailable === 'allow') this.unmetered = true;
            else this.exhausted = true;
            break;
          // rejected: others settling cannot bring back money that was spent; gone: reaped.
          default:
            this.exhausted = true;
        }
      })
      .catch(() => {
        this.exhausted = true;
      })
      .finally(() => {
        this.pending = undefined;
      });
  }
}

/** The admission's meter, when it has one. */
export function isMetered(
  admission: AdmissionGranted,
): admission is AdmissionGranted & { meter: MeterGrant } {
  return admission.meter !== undefined;
}

/** The meter of a metered answer, reading `source` (a tap or an assembler); undefined when unmetered. */
export function meterFor(
  exchange: Pick<Exchange, 'engine' | 'config' | 'state'>,
  admission: AdmissionGranted,
  source: MeteredSource,
): OutputMeter | undefined {
  if (!isMetered(admission)) return undefined;
  return new OutputMeter(exchange.engine, admission, source, {
    model: admission.servedModel.upstreamModel,
    onUnavailable: exchange.config.store.onUnavailable,
    record: exchange.state.record,
    onExtend: (outcome, heldTokens) =>
      exchange.state.trace?.event('budget.extend', {
        'llm_gateway.extend.outcome': outcome,
        'llm_gateway.extend.held_output_tokens': heldTokens,
      }),
  });
}
