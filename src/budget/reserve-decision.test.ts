import { describe, expect, it } from 'vitest';
import {
  DECISION_CASES,
  decisionInputs,
  EXTEND_CASES,
  extendInputs,
} from './reserve-decision.cases.test-helpers.js';
import { decideExtend, decideReserve } from './reserve-decision.js';

// The same table the SQLite store and the Redis script answer in the store contract suite.
describe('decideReserve: the store contract decision table', () => {
  it.each(DECISION_CASES)('$name', (c) => {
    const { lines, balances, owedNano } = decisionInputs(c);
    expect(decideReserve(lines, balances, c.price, owedNano)).toEqual(c.expected);
  });

  it.each(EXTEND_CASES)('extend: $name', (c) => {
    const { balances, held } = extendInputs(c);
    expect(decideExtend(balances, held, c.addCap, c.minAddCap)).toEqual(c.expected);
  });

  it('leaves the balances it is given as they are', () => {
    const c = DECISION_CASES[0]!;
    const { lines, balances } = decisionInputs(c);
    const copy = structuredClone(balances);
    decideReserve(lines, balances, c.price);
    expect(balances).toEqual(copy);
  });
});
