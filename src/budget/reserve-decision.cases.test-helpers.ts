/**
 * The reserve decision, one table of cases: the pure decision (reserve-decision.test.ts), the SQLite
 * store and the Redis script (the store contract suite, store/contract.test-helpers.ts) all answer
 * every case the same.
 */
import type { LineBalance } from '../store/types.js';
import { amountFor, type ReserveDecision, type ReservePrice } from './reserve-decision.js';

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
  /** Needed by a live waiter queued ahead of the request (the store queues one; the pure decision is told). */
  owedNano?: number;
  /** Needed by a waiter queued ahead whose wait has run out by the request's time: not owed. */
  staleWaitNano?: number;
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
    name: 'live reservations count as committed: busy, it fits once they settle',
    lines: [{ limitNano: 1000, reservedNano: 700 }],
    price: flatPrice(301),
    expected: { status: 'busy', lineIndex: 0 },
  },
  {
    name: 'others hold money: busy, not a lowered cap (the full cap fits once they settle)',
    lines: [{ limitNano: 1000, reservedNano: 500 }],
    price: chat(1),
    expected: { status: 'busy', lineIndex: 0 },
  },
  {
    name: 'others hold money and only the min cap would fit once they settle: busy',
    lines: [{ limitNano: 500, reservedNano: 450 }],
    price: chat(1),
    expected: { status: 'busy', lineIndex: 0 },
  },
  {
    name: "a budget's last per cent with nothing held: the cap is lowered to what is left",
    lines: [{ limitNano: 1000, spentNano: 500 }],
    price: chat(1),
    expected: { status: 'reserved', grantedCap: 80, amountNano: 500 },
  },
  {
    name: "a budget's last per cent while others hold some: lowered to what is free now",
    lines: [{ limitNano: 1000, spentNano: 500, reservedNano: 100 }],
    price: chat(1),
    expected: { status: 'reserved', grantedCap: 60, amountNano: 400 },
  },
  {
    name: 'lower only when alone: others hold some of what is left, busy rather than lowered',
    lines: [{ limitNano: 1000, spentNano: 500, reservedNano: 100 }],
    price: { ...chat(1), lowerOnlyWhenAlone: true },
    expected: { status: 'busy', lineIndex: 0 },
  },
  {
    name: 'lower only when alone: a waiter ahead is owed some of what is left, busy',
    lines: [{ limitNano: 1000, spentNano: 300, owedNano: 200 }],
    price: { ...chat(1), lowerOnlyWhenAlone: true },
    expected: { status: 'busy', lineIndex: 0 },
  },
  {
    name: 'lower only when alone: nobody else holds any, lowered to what is left',
    lines: [{ limitNano: 1000, spentNano: 500 }],
    price: { ...chat(1), lowerOnlyWhenAlone: true },
    expected: { status: 'reserved', grantedCap: 80, amountNano: 500 },
  },
  {
    name: 'lower only when alone: the full cap fits, granted whatever others hold',
    lines: [{ limitNano: 1000, reservedNano: 400 }],
    price: { ...chat(1), lowerOnlyWhenAlone: true },
    expected: { status: 'reserved', grantedCap: 100, amountNano: 600 },
  },
  {
    name: 'lower only when alone: a budget spent past the min cap is still rejected at once',
    lines: [{ limitNano: 1000, spentNano: 800, reservedNano: 50 }],
    price: { ...chat(50), lowerOnlyWhenAlone: true },
    expected: { status: 'rejected', lineIndex: 0 },
  },
  {
    name: 'owed to an earlier waiter: busy for a later request that would otherwise fit',
    lines: [{ limitNano: 1000, reservedNano: 300, owedNano: 200 }],
    price: flatPrice(600),
    expected: { status: 'busy', lineIndex: 0 },
  },
  {
    name: 'what earlier waiters are owed leaves enough: reserved',
    lines: [{ limitNano: 1000, owedNano: 300 }],
    price: flatPrice(700),
    expected: { status: 'reserved', grantedCap: 0, amountNano: 700 },
  },
  {
    name: 'waiters ahead alone never make an unspent budget exhausted: busy',
    lines: [{ limitNano: 1000, owedNano: 500 }],
    price: flatPrice(600),
    expected: { status: 'busy', lineIndex: 0 },
  },
  {
    name: 'what waiters ahead are owed lowers the cap only in the last per cent',
    lines: [{ limitNano: 1000, spentNano: 300, owedNano: 200 }],
    price: chat(1),
    expected: { status: 'reserved', grantedCap: 80, amountNano: 500 },
  },
  {
    name: 'a waiter whose wait ran out is owed nothing',
    lines: [{ limitNano: 1000, staleWaitNano: 500 }],
    price: flatPrice(600),
    expected: { status: 'reserved', grantedCap: 0, amountNano: 600 },
  },
  {
    name: 'a rejected line wins over a busy one',
    lines: [{ limitNano: 1000, reservedNano: 800 }, { limitNano: 100 }],
    price: flatPrice(200),
    expected: { status: 'rejected', lineIndex: 1 },
  },
  {
    name: 'busy names the first busy line',
    lines: [
      { limitNano: 1000 },
      { limitNano: 1000, reservedNano: 900 },
      { limitNano: 1000, reservedNano: 950 },
    ],
    price: flatPrice(200),
    expected: { status: 'busy', lineIndex: 1 },
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

/**
 * A case's lines as the pure decision sees them: balances after reaping (expired counts as spent),
 * and what live waiters ahead are owed.
 */
export function decisionInputs(c: DecisionCase): {
  lines: Array<{ downgradeAtNano: number }>;
  balances: LineBalance[];
  owedNano: number[];
} {
  return {
    lines: c.lines.map((l) => ({ downgradeAtNano: l.downgradeAtNano ?? -1 })),
    owedNano: c.lines.map((l) => l.owedNano ?? 0),
    balances: c.lines.map((l) => ({
      limitNano: l.limitNano,
      spentNano: (l.spentNano ?? 0) + (l.expiredNano ?? 0),
      reservedNano: l.reservedNano ?? 0,
    })),
  };
}

/** One line of an extension case: the held reservation is on every line, besides these. */
export interface ExtendLine {
  limitNano: number;
  spentNano?: number;
  /** Held by other reservations. */
  othersNano?: number;
}

export interface ExtendCase {
  name: string;
  lines: ExtendLine[];
  /** The held reservation: price and cap (its amount is amount_for(fixed, output, cap)). */
  held: { fixedPico: number; outputPico: number; cap: number };
  addCap: number;
  minAddCap: number;
  expected:
    | { status: 'extended'; grantedAddCap: number }
    | { status: 'busy' | 'rejected'; lineIndex: number };
}

/** 100 nano of prompt, 5 nano per output token, 20 tokens held: 200 nano. */
const held20 = { fixedPico: 100_000, outputPico: 5_000, cap: 20 };

export const EXTEND_CASES: ExtendCase[] = [
  {
    name: 'grants the whole increment when the line affords it',
    lines: [{ limitNano: 1000 }],
    held: held20,
    addCap: 50,
    minAddCap: 10,
    expected: { status: 'extended', grantedAddCap: 50 },
  },
  {
    name: 'grants the increment to the nano',
    lines: [{ limitNano: 450 }],
    held: held20,
    addCap: 50,
    minAddCap: 50,
    expected: { status: 'extended', grantedAddCap: 50 },
  },
  {
    name: 'others hold money: busy, not a smaller slice',
    lines: [{ limitNano: 1000, othersNano: 600 }],
    held: held20,
    addCap: 50,
    minAddCap: 10,
    expected: { status: 'busy', lineIndex: 0 },
  },
  {
    name: "a budget's last per cent: a smaller slice",
    lines: [{ limitNano: 1000, spentNano: 600 }],
    held: held20,
    addCap: 50,
    minAddCap: 10,
    expected: { status: 'extended', grantedAddCap: 40 },
  },
  {
    name: 'rejected when the min slice would not fit even if everything settled',
    lines: [{ limitNano: 1000, spentNano: 780 }],
    held: held20,
    addCap: 50,
    minAddCap: 10,
    expected: { status: 'rejected', lineIndex: 0 },
  },
  {
    name: 'all or none: one busy line refuses on every line',
    lines: [{ limitNano: 10_000 }, { limitNano: 1000, othersNano: 600 }],
    held: held20,
    addCap: 50,
    minAddCap: 10,
    expected: { status: 'busy', lineIndex: 1 },
  },
  {
    name: 'a rejected line wins over a busy one',
    lines: [
      { limitNano: 1000, othersNano: 600 },
      { limitNano: 1000, spentNano: 780 },
    ],
    held: held20,
    addCap: 50,
    minAddCap: 10,
    expected: { status: 'rejected', lineIndex: 1 },
  },
  {
    name: 'the tightest line decides the slice',
    lines: [
      { limitNano: 1000, spentNano: 600 },
      { limitNano: 1000, spentNano: 650 },
    ],
    held: held20,
    addCap: 50,
    minAddCap: 10,
    expected: { status: 'extended', grantedAddCap: 30 },
  },
];

/** An extension case as the pure decision sees it. */
export function extendInputs(c: ExtendCase): {
  balances: LineBalance[];
  held: { fixedPico: number; outputPico: number; cap: number; amountNano: number };
} {
  const amountNano = amountFor(c.held.fixedPico, c.held.outputPico, c.held.cap);
  return {
    balances: c.lines.map((l) => ({
      limitNano: l.limitNano,
      spentNano: l.spentNano ?? 0,
      reservedNano: (l.othersNano ?? 0) + amountNano,
    })),
    held: { ...c.held, amountNano },
  };
}
