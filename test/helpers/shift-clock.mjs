/**
 * Shifts the wall clock of this Node process by SHIFT_CLOCK_OFFSET_MS (loaded with
 * NODE_OPTIONS=--import, so every process of a test run gets it: the runner, vitest's fork
 * workers, the gateways and mock providers the tests spawn). Date (new Date(), Date.now(), Date())
 * moves; timers, performance.now() and process.hrtime do not, so waits and timeouts behave as
 * usual. redis-server, prometheus and chromium keep the real clock (libfaketime hangs the first two
 * and breaks the third); the console's pages get the same shift (test/console/browser.ts).
 *
 * Used by scripts/test-calendar.ts: `npm run test:calendar`. One offset for all processes (not one
 * target time), so processes started at different moments agree on what time it is.
 */
const offset = Number(process.env.SHIFT_CLOCK_OFFSET_MS ?? 0);

if (Number.isFinite(offset) && offset !== 0 && !globalThis.__shiftedClock) {
  const RealDate = globalThis.Date;
  class ShiftedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(RealDate.now() + offset);
      else super(...args);
    }
    static now() {
      return RealDate.now() + offset;
    }
    // Dates made before the shift, or by Node internals, are still dates.
    static [Symbol.hasInstance](value) {
      return value instanceof RealDate;
    }
  }
  // Date() called without new returns the current time as a string.
  globalThis.Date = new Proxy(ShiftedDate, {
    apply: () => new ShiftedDate().toString(),
  });
  globalThis.__shiftedClock = offset;
}
