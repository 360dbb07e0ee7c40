import { describe, expect, it } from 'vitest';
import type { BalanceCache } from '../../budget/balance-cache.js';
import { Metering, type MeteringDeps } from '../../budget/metering.js';
import type { AdmissionGranted, ExtendOutcome, MeterGrant } from '../../budget/types.js';
import type { RuntimeModel } from '../../config/runtime.js';
import type { LineBalance, LineSpec } from '../../store/types.js';
import { type MeteredSource, OutputMeter } from './meter.js';

// " hello" is one token in o200k (each is its own pre-tokenizer piece): text of N of them is N
// tokens, at 6 bytes a token as English answers are.
const TOKEN = ' hello';
const LIMIT_NANO = 4_000_000; // $0.004
const line = { instance: 'per-user|user=u1', period: 'all' } as LineSpec;

class GrowingText implements MeteredSource {
  private text = '';
  add(tokens: number): void {
    this.text += TOKEN.repeat(tokens);
  }
  generatedText(): string {
    return this.text;
  }
  generatedUtf8Bytes(): number {
    return this.text.length;
  }
}

/** Extensions the test answers by hand, and a balance the engine's farFromEnd reads. */
function harness(meter: MeterGrant, balance: LineBalance) {
  const asks: Array<{ relayed: number; answer: (outcome: ExtendOutcome['status']) => void }> = [];
  const source = new GrowingText();
  const admission = {
    ok: true,
    reservation: { id: 'r1', amountNano: 0, lines: [line] },
    servedModel: { price: { output: 600_000 } } as unknown as RuntimeModel,
    meter,
  } as unknown as AdmissionGranted & { meter: MeterGrant };
  const cache = { of: () => balance } as unknown as BalanceCache;
  const metering = new Metering({ cache } as unknown as MeteringDeps);
  let relayed = 0;
  const engine = {
    farFromEnd: (a: AdmissionGranted, tokens: number) => metering.farFromEnd(a, tokens),
    extend: (_a: AdmissionGranted, addCap: number) =>
      new Promise<ExtendOutcome>((resolve) => {
        asks.push({
          relayed,
          answer: (status) => {
            if (status === 'extended') meter.heldCap += addCap;
            resolve(status === 'extended' ? { status, grantedAddCap: addCap } : { status });
          },
        });
      }),
  };
  const outputMeter = new OutputMeter(engine, admission, source, {
    model: 'gpt-4o-mini',
    onUnavailable: 'reject',
    record: { extensions: 0 },
  });
  /** Relays `tokens` more in chunks of `chunk`; stops early at a cut or while the meter waits. */
  const relay = async (tokens: number, chunk = 10) => {
    for (let done = 0; done < tokens; done += chunk) {
      source.add(chunk);
      relayed += chunk;
      const verdict = await Promise.race([
        outputMeter.afterChunk(),
        flushed().then(() => 'waiting' as const),
      ]);
      if (verdict !== 'go') return verdict;
    }
    return 'go' as const;
  };
  return { asks, relay, outputMeter };
}

/** Lets settled promises' callbacks run (an extension's answer, the meter's bookkeeping). */
const flushed = () => new Promise<void>((resolve) => setImmediate(resolve));

const noCap = (): MeterGrant => ({ heldCap: 1024, sliceCap: 1024, fullCap: 16_384, outputMultiplier: 1 });

describe('OutputMeter: how far ahead extensions are asked', () => {
  it('asks half a slice ahead, then further ahead once an extension was slow', async () => {
    const h = harness(noCap(), { limitNano: LIMIT_NANO, spentNano: 0, reservedNano: 0 });
    expect(await h.relay(510)).toBe('go');
    expect(h.asks).toHaveLength(0);
    expect(await h.relay(10)).toBe('go');
    expect(h.asks.map((a) => a.relayed)).toEqual([520]);
    // It comes back after 400 more tokens were relayed (a loaded store): 80 tokens short of the
    // lag margin of the 1,024 held.
    expect(await h.relay(400)).toBe('go');
    h.asks[0]!.answer('extended');
    await flushed();
    // Held 2,048 now. Half a slice ahead would ask at 1,536, and an equally slow extension would
    // land at 1,936, 80 tokens from the margin: it is asked 2 x 400 + the 32 of margin ahead, at 1,216.
    expect(await h.relay(290)).toBe('go');
    expect(h.asks).toHaveLength(1);
    expect(await h.relay(10)).toBe('go');
    expect(h.asks.map((a) => a.relayed)).toEqual([520, 1220]);
  });

  it('never asks more than a slice ahead (one store call per slice stays)', async () => {
    const h = harness(noCap(), { limitNano: LIMIT_NANO, spentNano: 0, reservedNano: 0 });
    await h.relay(520);
    // Slower than the rest of the slice: the relay waits for it at the margin (far from the end).
    expect(await h.relay(480)).toBe('waiting');
    h.asks[0]!.answer('extended');
    await flushed();
    // Held 2,048 at 1,000 relayed: the next is asked a slice ahead (at 1,024), not before.
    expect(await h.relay(20)).toBe('go');
    expect(h.asks).toHaveLength(1);
    expect(await h.relay(10)).toBe('go');
    expect(h.asks.map((a) => a.relayed)).toEqual([520, 1030]);
  });
});

describe('OutputMeter: an extension still in flight at the lag margin', () => {
  it('is waited for far from the end even when the rest of a large cap could not be paid', async () => {
    // A third of $0.004 spent: the rest of a 16k cap ($0.0092) is not free, the next two slices are.
    const h = harness(noCap(), { limitNano: LIMIT_NANO, spentNano: LIMIT_NANO / 3, reservedNano: 0 });
    await h.relay(520);
    expect(await h.relay(480)).toBe('waiting');
    h.asks[0]!.answer('extended');
    await flushed();
    expect(await h.relay(10)).toBe('go');
    expect(h.outputMeter.heldTokens()).toBe(2048);
  });

  it('is not waited for past half the budget: the answer is cut, covered by what is held', async () => {
    const h = harness(noCap(), { limitNano: LIMIT_NANO, spentNano: LIMIT_NANO * 0.55, reservedNano: 0 });
    await h.relay(520);
    expect(await h.relay(480)).toBe('cut');
    expect(h.outputMeter.relayedTokens()).toBeLessThanOrEqual(h.outputMeter.heldTokens());
  });

  it('is not waited for when what is free cannot pay the addition and a slice more', async () => {
    // Slices of 2,048: the addition and a slice more are $0.00246; $0.0024 is free (60% of the line).
    const grant = { heldCap: 2048, sliceCap: 2048, fullCap: 16_384, outputMultiplier: 1 };
    const h = harness(grant, { limitNano: LIMIT_NANO, spentNano: 1_000_000, reservedNano: 600_000 });
    await h.relay(1030);
    expect(h.asks.map((a) => a.relayed)).toEqual([1030]);
    expect(await h.relay(1000)).toBe('cut');
  });
});

describe('OutputMeter: the lag margin', () => {
  it('sizes a first large read in tokens at the answer text bytes per token, not one token a byte', async () => {
    // n: 4, a 1,024-token slice; the first read brings 120 tokens at once (720 bytes), as coalesced
    // chunks of four choices do under load. Counted a token a byte, the margin (1,440) would cut the
    // answer at the first count, with the extension just asked (past half the budget, not waited for).
    const grant = { heldCap: 256, sliceCap: 256, fullCap: 4096, outputMultiplier: 4 };
    const h = harness(grant, { limitNano: LIMIT_NANO, spentNano: LIMIT_NANO * 0.55, reservedNano: 0 });
    expect(await h.relay(120, 120)).toBe('go');
    expect(await h.relay(400)).toBe('go');
    expect(h.asks.map((a) => a.relayed)).toEqual([520]);
    expect(await h.relay(460)).toBe('go');
    // Reads of 10 counted since: the margin is 32, and the answer is cut at 1,024 - 32.
    expect(await h.relay(20)).toBe('cut');
    expect(h.outputMeter.relayedTokens()).toBe(1000);
  });
});
