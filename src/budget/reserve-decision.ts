/**
 * The reserve decision, the one copy: given each line's balance, grant the requested output cap,
 * a lower one that every line affords (fit-to-budget, never below minCap), a downgrade, a wait
 * (busy: the money is held by requests in flight) or a rejection (exhausted). The SQLite store
 * decides with it inside its transaction, previews (fit.ts) decide with it on balances they read;
 * the Redis scripts store/redis/lua/{reserve,extend}.lua mirror it line for line (common.lua holds
 * line_verdict), and the store contract suite runs one table of cases against all three.
 *
 * All values are integers below 2^53; divisions are corrected so a rounded double quotient can never
 * grant one token (or one nano-USD) too many.
 */
import type { Nano } from '../money.js';
import type { LineBalance, ReserveRequest } from '../store/types.js';

const PICO_PER_NANO = 1000;

/** A line's verdict that is not a cap: even the minimum cannot fit when everything settles. */
export const REJECTED = -1;
/** A line's verdict that is not a cap: it fits once what others hold (or are owed) comes back. */
export const BUSY = -2;

/** What a reservation is priced at: the request fields the decision reads. */
export type ReservePrice = Pick<
  ReserveRequest,
  'fixedPico' | 'outputPico' | 'requestedCap' | 'minCap' | 'lowerOnlyWhenAlone'
>;

export type ReserveDecision =
  | { status: 'reserved'; grantedCap: number; amountNano: Nano }
  /** Index of the first line that rejected, was busy (no line rejected), or asked for a downgrade. */
  | { status: 'rejected' | 'busy' | 'downgrade'; lineIndex: number };

/**
 * Pass 1 of a reserve: nothing is written until every line agrees. A downgrade anywhere wins (the
 * cheaper model may still fit), then a rejection anywhere (waiting cannot help), then a busy line;
 * otherwise the tightest line decides the granted cap.
 * `lines[i].downgradeAtNano` is the committed amount at which line i asks for a downgrade (-1: never);
 * `owedNano[i]` is what live waiters queued ahead of this request on line i need (0 when absent).
 */
export function decideReserve(
  lines: ReadonlyArray<{ downgradeAtNano: Nano }>,
  balances: readonly LineBalance[],
  price: ReservePrice,
  owedNano: readonly Nano[] = [],
): ReserveDecision {
  return decideLines(lines, balances, price, owedNano).decision;
}

/** decideReserve, with each line's verdict (a cap, BUSY or REJECTED): the stores queue on BUSY lines. */
export function decideLines(
  lines: ReadonlyArray<{ downgradeAtNano: Nano }>,
  balances: readonly LineBalance[],
  price: ReservePrice,
  owedNano: readonly Nano[] = [],
): { decision: ReserveDecision; verdicts: number[] } {
  for (let i = 0; i < lines.length; i++) {
    const threshold = lines[i]!.downgradeAtNano;
    const b = balances[i]!;
    if (threshold >= 0 && b.spentNano + b.reservedNano >= threshold)
      return { decision: { status: 'downgrade', lineIndex: i }, verdicts: [] };
  }
  const verdicts = balances.map((b, i) => {
    const owed = owedNano[i] ?? 0;
    return lineVerdict(
      b.limitNano - b.spentNano - b.reservedNano - owed,
      b.limitNano - b.spentNano,
      owed,
      price,
    );
  });
  return { decision: combine(verdicts, price), verdicts };
}

/**
 * An extension of a held reservation (metered streams) by `addCap` tokens, at least `minAddCap`:
 * the same per-line rule on the increment, without `owed` (a stream already relayed to its client
 * goes before the waiters). The reservation's own amount is counted as not yet held, so the rule
 * reads the increment's need as amount_for(cap + add) - amount; "once everything in flight
 * settled" is limit - spent, as for a new request (the increment fits once others settle iff
 * limit - spent - amount >= the increment).
 */
export function decideExtend(
  balances: readonly LineBalance[],
  held: { fixedPico: number; outputPico: number; cap: number; amountNano: Nano },
  addCap: number,
  minAddCap: number,
): { status: 'extended'; grantedAddCap: number } | { status: 'busy' | 'rejected'; lineIndex: number } {
  const price: ReservePrice = {
    fixedPico: held.fixedPico,
    outputPico: held.outputPico,
    requestedCap: held.cap + addCap,
    minCap: held.cap + minAddCap,
  };
  const verdicts = balances.map((b) =>
    lineVerdict(
      b.limitNano - b.spentNano - b.reservedNano + held.amountNano,
      b.limitNano - b.spentNano,
      0,
      price,
    ),
  );
  const decision = combine(verdicts, price);
  if (decision.status !== 'reserved') return decision as { status: 'busy' | 'rejected'; lineIndex: number };
  return { status: 'extended', grantedAddCap: decision.grantedCap - held.cap };
}

/** First rejected line, else first busy line, else the smallest cap any line grants. */
function combine(verdicts: readonly number[], price: ReservePrice): ReserveDecision {
  const rejected = verdicts.indexOf(REJECTED);
  if (rejected >= 0) return { status: 'rejected', lineIndex: rejected };
  const busy = verdicts.indexOf(BUSY);
  if (busy >= 0) return { status: 'busy', lineIndex: busy };
  const grantedCap = Math.min(price.requestedCap, ...verdicts);
  return {
    status: 'reserved',
    grantedCap,
    amountNano: amountFor(price.fixedPico, price.outputPico, grantedCap),
  };
}

/**
 * One line's verdict: the cap it grants, BUSY or REJECTED.
 * - `available` = limit - spent - reserved - owed; `unspent` = limit - spent.
 * - The full cap fits now: granted. It fits once others settle and the waiters ahead are served
 *   (unspent - owed): BUSY, never lowered (a cap is lowered only in a budget's real last few per cent).
 * - The minimum fits now: the largest cap that fits (fit-to-budget). With `lowerOnlyWhenAlone`
 *   only from money nobody else holds: while others' reservations or waiters ahead hold some of the
 *   line (available < unspent), BUSY, so the request waits for what they give back rather than
 *   being cut at a share of the rest while the budget is not yet spent.
 * - The minimum fits once everything in flight settled at zero: BUSY. Waiters ahead count here as
 *   in flight (they may be served for less, or give up), so an unspent budget is never "exhausted".
 * - Otherwise REJECTED (DESIGN §2: exhausted).
 * The full-cap check is done in nano first so a huge `available` never multiplies past 2^53.
 */
export function lineVerdict(available: Nano, unspent: Nano, owed: Nano, price: ReservePrice): number {
  const needFull = amountFor(price.fixedPico, price.outputPico, price.requestedCap);
  const needMin = amountFor(price.fixedPico, price.outputPico, price.minCap);
  if (available >= needFull) return price.requestedCap;
  if (unspent - owed >= needFull) return BUSY;
  if (available >= needMin)
    return price.lowerOnlyWhenAlone && available < unspent ? BUSY : fitCap(available, price);
  if (unspent >= needMin) return BUSY;
  return REJECTED;
}

/** Largest cap whose amount fits `available`; only called when the min cap fits and the full one does not. */
function fitCap(available: Nano, price: ReservePrice): number {
  // available < the full cap's amount here, so available * 1000 stays small. outputPico > 0 here:
  // with outputPico = 0 both amounts are equal and the full-cap check returned.
  const room = available * PICO_PER_NANO - price.fixedPico;
  const cap = room > 0 ? floorDiv(room, price.outputPico) : 0;
  return Math.min(cap, price.requestedCap);
}

/** floor(a / b) for a >= 0, b > 0, exact where the double quotient alone may round up. */
export function floorDiv(a: number, b: number): number {
  let q = Math.floor(a / b);
  while (q > 0 && q * b > a) q--;
  while ((q + 1) * b <= a) q++;
  return q;
}

/** ceil(a / b) for a >= 0, b > 0. */
export function ceilDiv(a: number, b: number): number {
  const q = floorDiv(a, b);
  return q * b < a ? q + 1 : q;
}

/** Nano-USD a reservation of `cap` output tokens costs: ceil((fixed + cap * output) / 1000). */
export function amountFor(fixedPico: number, outputPico: number, cap: number): Nano {
  return ceilDiv(fixedPico + cap * outputPico, PICO_PER_NANO);
}
