/**
 * The output meter of a metered answer (DESIGN §3 "Metered streams"): the reservation holds the
 * prompt and a slice of output; as output is relayed the meter asks for the next slice ahead of it,
 * and when no more can be had it tells the relay to end the answer at the output cap while the slice
 * still held covers what the provider generates before it sees the abort.
 *
 * Counting: every token is at least one UTF-8 byte, so relayed bytes since the last exact count
 * bound the tokens from above at no cost; the text is counted exactly (tiktoken) only when that bound
 * comes near the slice's edge, a few times per slice. Extensions are asked at least half a slice
 * ahead, further when this answer's earlier ones took long to come back (see leadTokens), and never
 * block the relay: while one is in flight the relay reads on, so the cover is measured against what
 * the provider sent however long the store takes, and the answer is cut at the lag margin before the
 * provider outruns the hold (an awaited extension on a store slow under load once let the provider
 * run past it).
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
 * Least cover kept for what the provider generates between the cut and the abort reaching it
 * (and what arrives meanwhile): the mock's abort lag is 0-1 token (src/mock/lag.test.ts), a real
 * provider's ~20 (100 ms at 200 tokens/s). When no money can come at all the answer is cut at
 * once, with up to half a slice of cover (docs/controls.md "Metered requests").
 */
export const MIN_CUT_MARGIN_TOKENS = 32;

export type MeterVerdict = 'go' | 'cut';

export class OutputMeter {
  private exactTokens = 0;
  private bytesAtExact = 0;
  private countedLength = 0;
  private bytesSeen = 0;
  /** Largest growth of the text between two chunks, in UTF-8 bytes (a bound on its tokens). */
  private largestReadBytes = 0;
  /** Largest growth in tokens between two chunks both counted exactly (near a slice's edge). */
  private largestReadTokens = -1;
  /** Exact count at the previous chunk, when that chunk was counted; else -1. */
  private tokensAtLastChunk = -1;
  private pending: Promise<void> | undefined;
  /**
   * Most tokens relayed while one of this answer's extensions was in flight (doubled when the relay
   * had to stop and wait for it, as it then read less than the provider sent): sizes the lead.
   */
  private flightTokens = 0;
  /** The relay stopped to wait for the extension in flight (see mayOutwait). */
  private waitedInFlight = false;
  /** Output tokens the extension in flight asks for, all sequences. */
  private pendingAddTokens = 0;
  /** Relayed tokens at the last refusal: the next try waits for a little more progress. */
  private refusedAt = -1;
  /** No extension can succeed any more (the money is spent, the store failed closed, it was reaped). */
  private exhausted = false;
  /** The store is unreachable and on_unavailable is allow: the rest of the answer is not metered. */
  private unmetered = false;

  constructor(
    private readonly engine: Pick<BudgetEngine, 'extend' | 'farFromEnd'>,
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

  /**
   * Cover that must stay when the answer is cut: what arrives after the abort (socket buffers, the
   * provider's lag). Twice the largest read seen: a provider that outruns the relay delivers in big
   * reads, and the next one must still fit under the hold.
   */
  private lagMargin(): number {
    const largest =
      this.largestReadTokens >= 0 ? this.largestReadTokens : this.tokensInBytes(this.largestReadBytes);
    return Math.max(MIN_CUT_MARGIN_TOKENS, 2 * largest);
  }

  /**
   * Tokens in `bytes` of this answer's text, at the bytes per token of what was counted so far;
   * the bytes themselves before anything was counted. Bytes alone bound tokens, but at ~6 bytes a
   * token the first coalesced read of an n: 4 answer (700-960 bytes, ~120-160 tokens) made a margin
   * larger than its whole 1,024-token slice, and every such answer whose extension was in flight
   * at the first count was cut (issue #17).
   */
  private tokensInBytes(bytes: number): number {
    if (this.exactTokens === 0 || this.bytesAtExact <= 0) return bytes;
    return Math.ceil((bytes * this.exactTokens) / this.bytesAtExact);
  }

  /**
   * How far ahead of the hold the next extension is asked: half a slice, or enough that an extension
   * as slow as this answer's slowest so far lands before the lag margin (twice its flight, as flights
   * vary with the store's load), at most a slice (asked as soon as the previous one lands). Still
   * one store call per slice; asked late, a slow extension meant a cut or a stall (issue #17: answers
   * with n: 4 relay 1,600 tokens/s and outran half a slice under load).
   */
  private leadTokens(): number {
    const half = Math.ceil(this.sliceTokens() / 2);
    // Before any extension came back there is nothing to size it by (and the margin is not sized yet).
    if (this.flightTokens === 0) return half;
    return Math.min(this.sliceTokens(), Math.max(half, 2 * this.flightTokens + this.lagMargin()));
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
   * extension when the relayed output comes within half a slice of what is held, and relays on
   * while it is in flight; at the lag margin it cuts.
   */
  async afterChunk(): Promise<MeterVerdict> {
    let verdict = this.verdict();
    // Waiting reads nothing more: what the provider sends meanwhile stays in the socket buffers
    // (and is drained and billed if the answer is then cut).
    while (verdict === 'wait') {
      this.waitedInFlight = true;
      await this.pending;
      verdict = this.verdict();
    }
    return verdict;
  }

  private verdict(): MeterVerdict | 'wait' {
    const bytes = this.source.generatedUtf8Bytes();
    this.largestReadBytes = Math.max(this.largestReadBytes, bytes - this.bytesSeen);
    this.bytesSeen = bytes;
    const previous = this.tokensAtLastChunk;
    this.tokensAtLastChunk = -1;
    if (this.unmetered || this.meter.heldCap >= this.meter.fullCap) return 'go';
    const held = this.heldTokens();
    const ahead = this.leadTokens();
    const upperBound = this.exactTokens + (bytes - this.bytesAtExact);
    if (upperBound < held - ahead) return 'go';
    const relayed = this.relayedTokens();
    // Chunks near the edge are each counted: their growth in tokens sizes the lag margin better
    // than bytes do (a token is ~4 bytes of English).
    if (previous >= 0) this.largestReadTokens = Math.max(this.largestReadTokens, relayed - previous);
    this.tokensAtLastChunk = relayed;
    if (relayed < held - ahead) return 'go';
    this.maybeExtend(relayed);
    // No more money can come (spent, failed closed, reaped): end now, while the cover left is
    // widest. The hold is billed either way; a wider cover only makes the provider's lag safer.
    if (this.exhausted && !this.pending) return 'cut';
    // Reading and relaying on while an extension is in flight, or a busy one is asked again as
    // more output arrives: the cover is measured against what the provider sent.
    if (relayed < held - this.lagMargin()) return 'go';
    if (this.pending && this.mayOutwait()) return 'wait';
    return 'cut';
  }

  /**
   * Past the lag margin with an extension still in flight (a provider faster than the store's
   * answers: a burst, a loaded gateway), waiting for it reads nothing more while the provider
   * generates on, past the hold if the extension is then refused. Taken only far from every line's
   * end (Metering.farFromEnd: what is free as last seen pays the addition in flight and a slice
   * more, for what the provider generates meanwhile, and each line is under half used), where
   * cutting would truncate an answer the money is there for; near an end the answer is cut (waiting
   * there once let answers run hundreds of tokens past a $0.004 budget under contention). Asking
   * that the rest of the whole cap fit cut every answer without a cap or with n: 4 whose extension
   * was slow at a third of a $0.004 budget (issue #17). on_unavailable allow chose serving over
   * exactness: it always waits.
   */
  private mayOutwait(): boolean {
    if (this.options.onUnavailable === 'allow') return true;
    return this.engine.farFromEnd(this.admission, this.pendingAddTokens + this.sliceTokens());
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
    const least = Math.max(this.lagMargin(), Math.floor(this.sliceTokens() / 4));
    const minAddCap = Math.min(addCap, Math.max(1, Math.ceil(least / outputMultiplier)));
    this.pendingAddTokens = addCap * outputMultiplier;
    this.pending = this.engine
      .extend(this.admission, addCap, minAddCap)
      .then((outcome) => {
        const inFlight = Math.max(0, this.relayedTokens() - relayed);
        this.flightTokens = Math.max(this.flightTokens, this.waitedInFlight ? 2 * inFlight : inFlight);
        this.waitedInFlight = false;
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
