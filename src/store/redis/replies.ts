/**
 * The one place the budget scripts' replies are decoded (the layouts are documented in each
 * script's header, src/store/redis/lua/*.lua). A reply that does not have its shape is a bug in a
 * script, so it throws rather than guess.
 */
import type { LimitKind, LimitUse } from '../../limits/types.js';
import type { Nano } from '../../money.js';
import type { ExtendResult, LineBalance, ReserveResult, SettleResult } from '../types.js';

/** reserve.lua: {status, capOrLineIndex, amount, expiredSettled, drifted, then a balance triple per line}. */
const RESERVE_HEAD = 5;
/** extend.lua: {status, addedOrLineIndex, cap, amount, then a balance triple per line}. */
const EXTEND_HEAD = 4;
/** balances.lua, topup.lua, reset.lua: a balance triple (limit, spent, reserved) per line. */
const BALANCE_FIELDS = 3;
/** settle.lua: {'settled', then per line limit, spent, reserved, spentBefore} or {'unknown'}. */
const SETTLED_LINE_FIELDS = 4;

function numbers(reply: unknown, what: string): number[] {
  if (!Array.isArray(reply)) throw new Error(`redis ${what}: expected an array reply`);
  return reply.map((v) => Number(v));
}

function balancesFrom(values: readonly number[], from: number): LineBalance[] {
  const out: LineBalance[] = [];
  for (let i = from; i + BALANCE_FIELDS <= values.length; i += BALANCE_FIELDS) {
    out.push({ limitNano: values[i]!, spentNano: values[i + 1]!, reservedNano: values[i + 2]! });
  }
  return out;
}

/** limits.lua lim_push_use: requests, tokens, inFlight, resetRequestsMs, resetTokensMs per limit. */
const LIMIT_USE_FIELDS = 5;

function usesFrom(values: readonly number[], from: number, count: number): LimitUse[] {
  const out: LimitUse[] = [];
  for (let i = 0; i < count; i++) {
    const at = from + i * LIMIT_USE_FIELDS;
    out.push({
      requests: values[at]!,
      tokens: values[at + 1]!,
      inFlight: values[at + 2]!,
      resetRequestsMs: values[at + 3]!,
      resetTokensMs: values[at + 4]!,
    });
  }
  return out;
}

export function decodeLimitUses(reply: unknown): LimitUse[] {
  const values = numbers(reply, 'limit uses');
  return usesFrom(values, 0, values.length / LIMIT_USE_FIELDS);
}

const LIMIT_KINDS: readonly string[] = ['requests', 'tokens', 'concurrent'];

export function decodeReserve(reply: unknown, lineCount?: number, limitCount = 0): ReserveResult {
  if (!Array.isArray(reply) || reply.length < RESERVE_HEAD) throw new Error('redis reserve: malformed reply');
  if (lineCount !== undefined && (reply[0] === 'reserved' || reply[0] === 'limited')) {
    const values = numbers(
      reply.slice(RESERVE_HEAD, RESERVE_HEAD + lineCount * BALANCE_FIELDS + limitCount * LIMIT_USE_FIELDS),
      'reserve',
    );
    const balances = balancesFrom(values.slice(0, lineCount * BALANCE_FIELDS), 0);
    const limitUses = usesFrom(values, lineCount * BALANCE_FIELDS, limitCount);
    const expiredSettled = Number(reply[3]);
    if (reply[0] === 'reserved') {
      return {
        status: 'reserved',
        grantedCap: Number(reply[1]),
        amountNano: Number(reply[2]),
        balances,
        expiredSettled,
        ...(limitCount > 0 ? { limitUses } : {}),
      };
    }
    const kind = String(reply[reply.length - 2]);
    if (!LIMIT_KINDS.includes(kind)) throw new Error(`redis reserve: unknown limit kind ${kind}`);
    return {
      status: 'limited',
      limitIndex: Number(reply[1]),
      retryAfterMs: Number(reply[2]),
      kind: kind as LimitKind,
      tooLarge: Number(reply[reply.length - 1]) === 1,
      balances,
      expiredSettled,
      limitUses,
    };
  }
  const [status, second, amountNano, expiredSettled] = [
    String(reply[0]),
    Number(reply[1]),
    Number(reply[2]),
    Number(reply[3]),
  ];
  const balances = balancesFrom(numbers(reply.slice(RESERVE_HEAD), 'reserve'), 0);
  if (status === 'reserved') return { status, grantedCap: second, amountNano, balances, expiredSettled };
  if (status === 'rejected' || status === 'busy' || status === 'downgrade')
    return { status, lineIndex: second, balances, expiredSettled };
  throw new Error(`redis reserve: unknown status ${status}`);
}

/** extend.lua: {'unknown'} or {status, addedOrLineIndex, cap, amount, then a balance triple per line}. */
export function decodeExtend(reply: unknown): ExtendResult {
  if (!Array.isArray(reply) || reply.length === 0) throw new Error('redis extend: malformed reply');
  const status = String(reply[0]);
  if (status === 'unknown') return { status };
  if (reply.length < EXTEND_HEAD) throw new Error('redis extend: malformed reply');
  const [second, cap, amountNano] = [Number(reply[1]), Number(reply[2]), Number(reply[3])];
  const balances = balancesFrom(numbers(reply.slice(EXTEND_HEAD), 'extend'), 0);
  if (status === 'extended') return { status, grantedAddCap: second, cap, amountNano, balances };
  if (status === 'busy' || status === 'rejected') return { status, lineIndex: second, balances };
  throw new Error(`redis extend: unknown status ${status}`);
}

/** The freed channel's payload: a JSON array of line names; anything else is ignored (null). */
export function decodeFreed(message: string): string[] | null {
  try {
    const names: unknown = JSON.parse(message);
    return Array.isArray(names) && names.every((n) => typeof n === 'string') ? names : null;
  } catch {
    return null;
  }
}

export function decodeSettle(reply: unknown): SettleResult {
  if (!Array.isArray(reply) || reply.length === 0) throw new Error('redis settle: malformed reply');
  if (reply[0] === 'unknown') return { status: 'unknown' };
  if (reply[0] !== 'settled') throw new Error(`redis settle: unknown status ${String(reply[0])}`);
  const values = numbers(reply.slice(1), 'settle');
  const balances: LineBalance[] = [];
  const spentBeforeNano: Nano[] = [];
  for (let i = 0; i + SETTLED_LINE_FIELDS <= values.length; i += SETTLED_LINE_FIELDS) {
    balances.push({ limitNano: values[i]!, spentNano: values[i + 1]!, reservedNano: values[i + 2]! });
    spentBeforeNano.push(values[i + 3]!);
  }
  return { status: 'settled', balances, spentBeforeNano };
}

export function decodeBalances(reply: unknown): LineBalance[] {
  return balancesFrom(numbers(reply, 'balances'), 0);
}

/** topup.lua and reset.lua answer one line's balance. */
export function decodeBalance(reply: unknown): LineBalance {
  const [balance] = decodeBalances(reply);
  if (!balance) throw new Error('redis balance: malformed reply');
  return balance;
}

/** reap.lua and claim.lua answer a count (claim: 1 for the winner). */
export function decodeCount(reply: unknown): number {
  const n = Number(reply);
  if (!Number.isSafeInteger(n)) throw new Error('redis count: malformed reply');
  return n;
}

/** renew.lua: the ids that are gone. */
export function decodeIds(reply: unknown): string[] {
  if (!Array.isArray(reply) || reply.some((id) => typeof id !== 'string'))
    throw new Error('redis ids: malformed reply');
  return reply as string[];
}

/** meta-snapshot.lua: {version, {id, json, ...} budgets, {id, json, ...} keys}. */
export function decodeMetaSnapshot(reply: unknown): { version: number; budgets: string[]; keys: string[] } {
  if (!Array.isArray(reply) || reply.length !== 3) throw new Error('redis meta snapshot: malformed reply');
  return { version: Number(reply[0]), budgets: reply[1] as string[], keys: reply[2] as string[] };
}

/** epoch.lua: {epoch or '', marker or '', created}. */
export function decodeEpoch(reply: unknown): { epoch: string; marker: string } {
  if (!Array.isArray(reply) || reply.length !== 3) throw new Error('redis epoch: malformed reply');
  return { epoch: String(reply[0]), marker: String(reply[1]) };
}

/** reserve.lua's drifted field: the 0-based index of the first line whose limit differed, or -1. */
export function driftedLine(reply: unknown): number {
  return Array.isArray(reply) && reply.length >= RESERVE_HEAD ? Number(reply[4]) - 1 : -1;
}
