/**
 * The settle policy's amounts: an answer without usage bills the reserved worst case (every output
 * sequence the provider may bill), a request written upstream without an answer bills its prompt.
 */
import { describe, expect, it } from 'vitest';
import type { AdmissionGranted, BudgetEngine, Reservation } from '../../budget/types.js';
import type { RuntimeModel } from '../../config/runtime.js';
import type { Usage } from '../../usage.js';
import { RequestState } from './request-state.js';
import { NOTHING_PRODUCED, promptOnly, reservedUsage, settleAnswer, USAGE_UNKNOWN } from './settle.js';

const model = { name: 'gpt-4o' } as RuntimeModel;

function admission(extra: Partial<AdmissionGranted> = {}): AdmissionGranted {
  return {
    ok: true,
    reservation: { id: 'res-1', amountNano: 1_000, lines: [] },
    servedModel: model,
    outputCap: 256,
    reservedOutputTokens: 256,
    capChanged: false,
    clamped: false,
    estimateNano: 1_000,
    promptTokens: 40,
    waitedMs: 0,
    ...extra,
  };
}

function recordingEngine() {
  const calls: Array<{ kind: 'settle'; usage: Usage } | { kind: 'release' }> = [];
  const engine = {
    async settle(_r: Reservation | null, _m: RuntimeModel, usage: Usage) {
      calls.push({ kind: 'settle', usage });
      return { costNano: usage.inputTokens + usage.outputTokens };
    },
    async release() {
      calls.push({ kind: 'release' });
    },
  } as unknown as BudgetEngine;
  return { engine, calls };
}

describe('settleAnswer', () => {
  it('usage unknown with n = 10: the reserved worst case, 10 x the cap', async () => {
    const { engine, calls } = recordingEngine();
    const state = new RequestState('req_1', '/v1/chat/completions', 0);
    await settleAnswer(engine, admission({ reservedOutputTokens: 2560 }), USAGE_UNKNOWN, state);
    expect(calls).toEqual([{ kind: 'settle', usage: expect.objectContaining({ outputTokens: 2560 }) }]);
    expect(state.record).toMatchObject({ settlement: 'reserved', outputTokens: 2560, inputTokens: 40 });
  });

  it('bills the output the reservation covered: one sequence, or none for outputless APIs', () => {
    expect(reservedUsage(admission()).outputTokens).toBe(256);
    expect(reservedUsage(admission({ outputCap: undefined, reservedOutputTokens: 0 })).outputTokens).toBe(0);
  });

  it('written upstream, no answer: the prompt; never sent: released', async () => {
    const { engine, calls } = recordingEngine();
    const state = new RequestState('req_2', '/v1/chat/completions', 0);
    await settleAnswer(engine, admission(), promptOnly(admission()), state);
    expect(state.record).toMatchObject({
      settlement: 'counted',
      inputTokens: 40,
      outputTokens: 0,
      costNano: 40,
    });
    await settleAnswer(engine, admission(), NOTHING_PRODUCED, state);
    expect(calls.map((c) => c.kind)).toEqual(['settle', 'release']);
  });
});
