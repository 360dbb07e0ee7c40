/**
 * The limits half of the store contract (src/limits/decision.ts, store/sqlite/limits.ts,
 * store/redis/lua/limits.lua): both stores run it (limits.contract.test.ts). Times are on an injected
 * clock (nowMs), so windows are tested to the millisecond without waiting.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LimitSpec } from '../limits/types.js';
import { flat, line, type StoreFixture } from './contract.test-helpers.js';
import type { BudgetStore, ReserveRequest, ReserveResult } from './types.js';

/** A round second, so bucket edges are easy to read: T0 is the start of bucket T0 / 1000. */
const T0 = 1_800_000_000_000;

function limit(instance: string, overrides: Partial<LimitSpec> = {}): LimitSpec {
  return {
    limitId: instance,
    instance,
    requestsPerMinute: 0,
    tokensPerMinute: 0,
    concurrentRequests: 0,
    ...overrides,
  };
}

/** A request under `limits` only (no budget line), asking `cap` output tokens on a `prompt`. */
function ask(
  id: string,
  limits: LimitSpec[],
  nowMs: number,
  prompt = 0,
  cap = 0,
  minCap = cap,
): ReserveRequest {
  return {
    ...flat(id, [], 0, nowMs),
    requestedCap: cap,
    minCap,
    limits,
    limitAsk: { promptTokens: prompt, tokensPerCap: 1 },
  };
}

function statuses(results: ReserveResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) out[r.status] = (out[r.status] ?? 0) + 1;
  return out;
}

export function runLimitsContract(name: string, makeStore: () => Promise<StoreFixture>): void {
  describe(`limits contract: ${name}`, () => {
    let fixture: StoreFixture;
    let store: BudgetStore;
    beforeEach(async () => {
      fixture = await makeStore();
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    it('a fallback attempt (counted) takes a slot and tokens but is not counted again as a request', async () => {
      const rpm = limit('rpm-fb', { requestsPerMinute: 1, concurrentRequests: 1, tokensPerMinute: 100 });
      expect((await store.reserve(ask('first', [rpm], T0, 10, 20))).status).toBe('reserved');
      // The first attempt failed over: released, then the fallback reserves with `counted`.
      await store.release('first');
      const again = { ...rpm, counted: true as const };
      const fallback = await store.reserve(ask('fallback', [again], T0 + 10, 10, 20));
      expect(fallback).toMatchObject({ status: 'reserved' });
      expect(fallback.status === 'reserved' && fallback.limitUses?.[0]).toMatchObject({
        requests: 1,
        tokens: 30,
        inFlight: 1,
      });
      // Its slot is held like any other's; and a new client request is refused by the minute.
      expect(await store.reserve(ask('other', [again], T0 + 20))).toMatchObject({ kind: 'concurrent' });
      await store.release('fallback');
      expect(await store.reserve(ask('next', [rpm], T0 + 30))).toMatchObject({ kind: 'requests' });
    });

    it('a metered extension grows the tokens held on tokens_per_minute limits; the settle corrects them', async () => {
      const tpm = limit('tpm-ext', { tokensPerMinute: 1000 });
      const uses = async () => (await store.limitUses([tpm], T0 + 100))[0]!;
      expect((await store.reserve(ask('metered', [tpm], T0, 10, 20))).status).toBe('reserved');
      expect((await uses()).tokens).toBe(30);
      const extended = await store.extend({
        reservationId: 'metered',
        addCap: 50,
        minAddCap: 1,
        nowMs: T0 + 50,
        leaseExpiresAtMs: T0 + 60_000,
        tokensPerCap: 2,
      });
      expect(extended).toMatchObject({ status: 'extended', grantedAddCap: 50 });
      expect((await uses()).tokens).toBe(130);
      // Without tokensPerCap (a reservation with no limits) the limits are left alone.
      await store.extend({
        reservationId: 'metered',
        addCap: 5,
        minAddCap: 1,
        nowMs: T0 + 60,
        leaseExpiresAtMs: T0 + 60_000,
      });
      expect((await uses()).tokens).toBe(130);
      await store.settle('metered', 0, 45);
      expect(await uses()).toMatchObject({ tokens: 45, inFlight: 0 });
    });

    it('lets exactly requests_per_minute through at once and says when the next frees', async () => {
      const rpm = limit('rpm', { requestsPerMinute: 30 });
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => store.reserve(ask(`r${i}`, [rpm], T0 + 500))),
      );
      expect(statuses(results)).toEqual({ reserved: 30, limited: 20 });
      const refused = results.find((r) => r.status === 'limited');
      // Bucket T0 leaves the window 61 s after it began: 60.5 s after these requests.
      expect(refused).toMatchObject({
        kind: 'requests',
        limitIndex: 0,
        retryAfterMs: 60_500,
        tooLarge: false,
      });
      // Settling does not give a request back: it happened.
      for (let i = 0; i < 50; i++) await store.settle(`r${i}`, 0, 0);
      expect((await store.reserve(ask('late', [rpm], T0 + 60_999))).status).toBe('limited');
      expect((await store.reserve(ask('next', [rpm], T0 + 61_000))).status).toBe('reserved');
    });

    it('slides: no 60 s window ever holds more than the limit', async () => {
      const rpm = limit('slide', { requestsPerMinute: 20 });
      for (let i = 0; i < 10; i++)
        expect((await store.reserve(ask(`a${i}`, [rpm], T0))).status).toBe('reserved');
      for (let i = 0; i < 10; i++)
        expect((await store.reserve(ask(`b${i}`, [rpm], T0 + 30_000))).status).toBe('reserved');
      const refused = await store.reserve(ask('c', [rpm], T0 + 45_000));
      expect(refused).toMatchObject({ status: 'limited', retryAfterMs: 16_000 });
      const admitted = [];
      for (let i = 0; i < 12; i++)
        admitted.push((await store.reserve(ask(`d${i}`, [rpm], T0 + 61_000))).status);
      expect(statuses(admitted.map((status) => ({ status }) as ReserveResult))).toEqual({
        reserved: 10,
        limited: 2,
      });
      expect(await store.limitUses([rpm], T0 + 61_000)).toEqual([
        // the first ten leases (T0 + 60 s) were reaped by the last reserves: 10 + 10 in flight.
        { requests: 20, tokens: 0, inFlight: 20, resetRequestsMs: 30_000, resetTokensMs: 0 },
      ]);
    });

    it('holds tokens at the estimate, lowers the cap to fit, settles to actual tokens', async () => {
      const tpm = limit('tpm', { tokensPerMinute: 3000 });
      const a = await store.reserve(ask('a', [tpm], T0, 100, 1000, 10));
      expect(a).toMatchObject({
        status: 'reserved',
        grantedCap: 1000,
        limitUses: [{ tokens: 1100, requests: 1 }],
      });
      const b = await store.reserve(ask('b', [tpm], T0, 100, 1000, 10));
      // 1900 left: the full 1000 fits; then 800 left, so the next one's cap is lowered to 700.
      expect(b).toMatchObject({ status: 'reserved', grantedCap: 1000 });
      const c = await store.reserve(ask('c', [tpm], T0, 100, 1000, 10));
      expect(c).toMatchObject({ status: 'reserved', grantedCap: 700 });
      expect(await store.reserve(ask('d', [tpm], T0 + 1000, 100, 1000, 10))).toMatchObject({
        status: 'limited',
        kind: 'tokens',
        retryAfterMs: 60_000,
      });
      // The provider counted 150 tokens for a: 950 come back at once.
      await store.settle('a', 0, 150);
      expect(await store.limitUses([tpm], T0 + 1000)).toMatchObject([
        { tokens: 150 + 1100 + 800, inFlight: 2 },
      ]);
      expect(await store.reserve(ask('e', [tpm], T0 + 1000, 100, 1000, 10))).toMatchObject({
        status: 'reserved',
        grantedCap: 850,
      });
      // A request larger than the whole limit can never pass.
      expect(await store.reserve(ask('huge', [tpm], T0 + 2000, 3001, 0))).toMatchObject({
        status: 'limited',
        tooLarge: true,
      });
    });

    it('holds a concurrency slot until settle or release, and the reaper frees a dead one', async () => {
      const conc = limit('conc', { concurrentRequests: 3 });
      for (const id of ['a', 'b', 'c'])
        expect((await store.reserve(ask(id, [conc], T0))).status).toBe('reserved');
      expect(await store.reserve(ask('d', [conc], T0))).toMatchObject({
        status: 'limited',
        kind: 'concurrent',
      });
      await store.release('a');
      expect((await store.reserve(ask('d', [conc], T0))).status).toBe('reserved');
      await store.settle('b', 5, 10);
      await store.settle('b', 5, 10);
      expect(await store.limitUses([conc], T0)).toMatchObject([{ inFlight: 2 }]);
      // c and d belong to a process that died: their leases expire and the reaper settles them.
      expect(await store.reapExpired(T0 + 61_000)).toBe(2);
      expect(await store.limitUses([conc], T0 + 61_000)).toMatchObject([{ inFlight: 0 }]);
    });

    it('is all or nothing with the budget lines', async () => {
      const rpm = limit('both', { requestsPerMinute: 1, concurrentRequests: 5 });
      const money = line('money', { limitNano: 100 });
      // The budget refuses: the limit counts nothing.
      expect((await store.reserve({ ...flat('big', [money], 500), limits: [rpm] })).status).toBe('rejected');
      expect(await store.limitUses([rpm], T0)).toMatchObject([{ requests: 0, inFlight: 0 }]);
      expect((await store.reserve({ ...flat('ok', [money], 60), limits: [rpm] })).status).toBe('reserved');
      // The limit refuses: the budget line moves nothing.
      const limited = await store.reserve({ ...flat('again', [money], 10), limits: [rpm] });
      expect(limited).toMatchObject({ status: 'limited', balances: [{ reservedNano: 60 }] });
      expect(await store.balances([money])).toEqual([{ limitNano: 100, spentNano: 0, reservedNano: 60 }]);
      // A retried reservation answers the same and counts once.
      expect((await store.reserve({ ...flat('ok', [money], 60), limits: [rpm] })).status).toBe('reserved');
      expect(await store.limitUses([rpm], T0)).toMatchObject([{ requests: 1, inFlight: 1 }]);
    });

    it('a limit refuses before a busy line: the request does not queue, a waiter leaves its queue', async () => {
      const rpm = limit('waits', { requestsPerMinute: 1 });
      const money = line('queue', { limitNano: 100 });
      const wait = { waitUntilMs: T0 + 5000 };
      expect((await store.reserve({ ...flat('held', [money], 80) })).status).toBe('reserved');
      // Queued for money (no limit yet): it is owed 50 first, so 20 more is busy.
      expect((await store.reserve({ ...flat('w1', [money], 50), ...wait })).status).toBe('busy');
      expect((await store.reserve(flat('probe', [money], 20))).status).toBe('busy');
      // The limit fills; the waiter's retry is refused by it and leaves the queue...
      expect((await store.reserve(ask('first', [rpm], T0))).status).toBe('reserved');
      const retried = await store.reserve({ ...flat('w1', [money], 50), ...wait, limits: [rpm] });
      expect(retried).toMatchObject({ status: 'limited', kind: 'requests' });
      // ...and a new request the limit refuses is not queued: the 20 left fit the next one.
      const fresh = await store.reserve({ ...flat('w2', [money], 50), ...wait, limits: [rpm] });
      expect(fresh).toMatchObject({ status: 'limited', kind: 'requests' });
      expect((await store.reserve(flat('probe', [money], 20))).status).toBe('reserved');
      expect(await store.limitUses([rpm], T0)).toMatchObject([{ requests: 1, inFlight: 1 }]);
    });

    it('keeps limit instances apart', async () => {
      const alice = limit('per-key|key=alice', { requestsPerMinute: 1 });
      const bob = limit('per-key|key=bob', { requestsPerMinute: 1 });
      expect((await store.reserve(ask('a', [alice], T0))).status).toBe('reserved');
      expect((await store.reserve(ask('b', [bob], T0))).status).toBe('reserved');
      expect((await store.reserve(ask('a2', [alice], T0))).status).toBe('limited');
    });
  });
}
