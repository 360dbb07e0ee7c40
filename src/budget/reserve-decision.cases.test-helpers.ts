/**
 * The reserve decision, one table of cases: the pure decision (reserve-decision.test.ts), the SQLite
 * store and the Redis script (the store contract suite, store/contract.test-helpers.ts) all answer
 * every case the same.
 */
import type { LineBalance } from '../store/types.js';
import type { ReserveDecision, ReservePrice } from './reserve-decision.js';

/** One line of a decision case, as it stands when the request comes. */
export interface DecisionLine {
  limitNano: number;
  /** Settled spend. */
  spentNano?: number;
  /** Held by a reservation whose lease is still running. */
  reservedNano?: number;
  /** Held by a reservation whose lease has expired by the request's time: reaped first, at its amount. */
  expiredNano?: number;
  /** Committed amount at which the line asks for a downgrade; none when absent. */
  downgradeAtNano?: number;
}

export interface DecisionCase {
  name: string;
  lines: DecisionLine[];
  price: ReservePrice;
  expected: ReserveDecision;
}

/** A price of exactly `nano`: all fixed cost, no output. */
const flatPrice = (nano: number): ReservePrice => ({
  fixedPico: nano * 1000,
  outputPico: 0,
  requestedCap: 0,
  minCap: 0,
});
/** 100 nano of prompt, 5 nano per output token, 100 tokens asked for (600 nano in all). */
const chat = (minCap: number): ReservePrice => ({
  fixedPico: 100_000,
  outputPico: 5_000,
  requestedCap: 100,
  minCap,
});

export const DECISION_CASES: DecisionCase[] = [
  {
    name: 'grants the full cap when the line affords it',
    lines: [{ limitNano: 1000 }],
    price: chat(1),
    expected: { status: 'reserved', grantedCap: 100, amountNano: 600 },
  },
  {
    name: 'fits the exact amount to the nano',
    lines: [{ limitNano: 600 }],
    price: chat(1),
    expected: { status: 'reserved', grantedCap: 100, amountNano: 600 },
  },
  {
    name: 'fit-to-budget: one nano short lowers the cap to what fits',
    lines: [{ limitNano: 599 }],
    price: chat(1),
    expected: { status: 'reserved', grantedCap: 99, amountNano: 595 },
  },
  {
    name: 'min cap affordable to the nano is granted',
    lines: [{ limitNano: 595 }],
    price: chat(99),
    expected: { status: 'reserved', grantedCap: 99, amountNano: 595 },
  },
  {
    name: 'min cap one nano out of reach rejects',
    lines: [{ limitNano: 594 }],
    price: chat(99),
    expected: { status: 'rejected', lineIndex: 0 },
  },
  {
    name: 'a min cap equal to the requested cap is never lowered',
    lines: [{ limitNano: 599 }],
    price: chat(100),
    expected: { status: 'rejected', lineIndex: 0 },
  },
  {
    name: 'zero left rejects a request that costs one nano',
    lines: [{ limitNano: 1000, spentNano: 1000 }],
    price: flatPrice(1),
    expected: { status: 'rejected', lineIndex: 0 },
  },
  {
    name: 'a line spent past its limit rejects',
    lines: [{ limitNano: 1000, spentNano: 1200 }],
    price: flatPrice(1),
    expected: { status: 'rejected', lineIndex: 0 },
  },
  {
    name: 'live reservations count as committed',
    lines: [{ limitNano: 1000, reservedNano: 700 }],
    price: flatPrice(301),
    expected: { status: 'rejected', lineIndex: 0 },
  },
  {
    name: 'what live reservations leave fits exactly',
    lines: [{ limitNano: 1000, reservedNano: 700 }],
    price: flatPrice(300),
    expected: { status: 'reserved', grantedCap: 0, amountNano: 300 },
  },
  {
    name: 'an expired lease is reaped at its amount, not freed',
    lines: [{ limitNano: 1000, expiredNano: 700 }],
    price: flatPrice(301),
    expected: { status: 'rejected', lineIndex: 0 },
  },
  {
    name: 'after reaping an expired lease, what is left still fits',
    lines: [{ limitNano: 1000, expiredNano: 700, reservedNano: 100 }],
    price: flatPrice(200),
    expected: { status: 'reserved', grantedCap: 0, amountNano: 200 },
  },
  {
    name: 'downgrade wins over a rejection on another line',
    lines: [{ limitNano: 100 }, { limitNano: 1000, reservedNano: 500, downgradeAtNano: 500 }],
    price: flatPrice(200),
    expected: { status: 'downgrade', lineIndex: 1 },
  },
  {
    name: 'spend counts toward the downgrade threshold too',
    lines: [{ limitNano: 1000, spentNano: 300, reservedNano: 200, downgradeAtNano: 500 }],
    price: flatPrice(1),
    expected: { status: 'downgrade', lineIndex: 0 },
  },
  {
    name: 'below the downgrade threshold the line is judged on its money',
    lines: [{ limitNano: 100 }, { limitNano: 1000, reservedNano: 500, downgradeAtNano: 501 }],
    price: flatPrice(200),
    expected: { status: 'rejected', lineIndex: 0 },
  },
  {
    name: 'the tightest of several lines decides the cap',
    lines: [{ limitNano: 1_000_000 }, { limitNano: 2000, spentNano: 1000 }, { limitNano: 5000 }],
    price: { fixedPico: 100_000, outputPico: 10_000, requestedCap: 100, minCap: 10 },
    expected: { status: 'reserved', grantedCap: 90, amountNano: 1000 },
  },
  {
    name: 'a rejection names the first line that cannot afford the min cap',
    lines: [{ limitNano: 1_000_000_000 }, { limitNano: 50 }, { limitNano: 10 }],
    price: flatPrice(100),
    expected: { status: 'rejected', lineIndex: 1 },
  },
  {
    name: 'large amounts stay exact (10k USD limit, spend above 2^32)',
    lines: [{ limitNano: 10_000_000_000_000, spentNano: 4_000_000_000_123 }],
    price: { fixedPico: 1_000, outputPico: 1_000_000_000_000, requestedCap: 1_000_000, minCap: 0 },
    expected: { status: 'reserved', grantedCap: 5999, amountNano: 5_999_000_000_001 },
  },
];

/** A case's lines as the pure decision sees them: balances after reaping (expired counts as spent). */
export function decisionInputs(c: DecisionCase): {
  lines: Array<{ downgradeAtNano: number }>;
  balances: LineBalance[];
} {
  return {
    lines: c.lines.map((l) => ({ downgradeAtNano: l.downgradeAtNano ?? -1 })),
    balances: c.lines.map((l) => ({
      limitNano: l.limitNano,
      spentNano: (l.spentNano ?? 0) + (l.expiredNano ?? 0),
      reservedNano: l.reservedNano ?? 0,
    })),
  };
}
