/**
 * Calendar periods in a budget's IANA time zone, with Intl only (no date library).
 *
 * A period starts at the first instant whose local date is its first day. That is usually local
 * midnight, but not always: where a DST jump happens at midnight (America/Santiago, Asia/Beirut in
 * some years) local midnight is skipped, or happens twice. So a day's start is found by checking
 * candidate offsets, and by searching for the transition when none of them lands on 00:00.
 */
import type { Period } from '../config/schema.js';

export interface PeriodInfo {
  /** "2026-11-28" (daily), "2026-W48" (weekly, ISO), "2026-11" (monthly), "all" (none). */
  id: string;
  /** First instant of the period (ms since epoch); 0 for 'none'. */
  startMs: number;
  /** First instant of the next period; null for 'none' (prepaid budgets never reset). */
  endMs: number | null;
  /** The previous period's id; null for 'none'. */
  previousId: string | null;
}

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

export function isValidTimeZone(timeZone: string): boolean {
  if (!timeZone) return false;
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

/**
 * The local wall-clock time at `t`, expressed as if it were UTC (ms). Local = this value read with
 * getUTC* methods; the zone's offset at `t` is `wallClock(t) - t`.
 */
function wallClock(timeZone: string, t: number): number {
  const parts = formatterFor(timeZone).formatToParts(new Date(t));
  let year = 0;
  let month = 1;
  let day = 1;
  let hour = 0;
  let minute = 0;
  let second = 0;
  let bc = false;
  for (const part of parts) {
    switch (part.type) {
      case 'year':
        year = Number(part.value);
        break;
      case 'month':
        month = Number(part.value);
        break;
      case 'day':
        day = Number(part.value);
        break;
      case 'hour':
        hour = Number(part.value);
        break;
      case 'minute':
        minute = Number(part.value);
        break;
      case 'second':
        second = Number(part.value);
        break;
      case 'era':
        bc = part.value.startsWith('B');
        break;
    }
  }
  const wall = new Date(0);
  wall.setUTCFullYear(bc ? 1 - year : year, month - 1, day);
  wall.setUTCHours(hour, minute, second, 0);
  return wall.getTime() + (((t % 1000) + 1000) % 1000);
}

/** A calendar date as the UTC midnight of that date (a plain day number, zone-free). */
type LocalDate = number;

function localDateOf(timeZone: string, t: number): LocalDate {
  const wall = wallClock(timeZone, t);
  return wall - (((wall % DAY_MS) + DAY_MS) % DAY_MS);
}

function addDays(date: LocalDate, days: number): LocalDate {
  return date + days * DAY_MS;
}

/** The first instant whose local date (in `timeZone`) is `date`. */
export function startOfLocalDay(timeZone: string, date: LocalDate): number {
  // Candidates: local midnight under each offset in force around the day (offsets span -12h..+14h).
  let best: number | undefined;
  const offsets = new Set<number>();
  for (let probe = date - 2 * DAY_MS; probe <= date + 2 * DAY_MS; probe += 6 * HOUR_MS) {
    offsets.add(wallClock(timeZone, probe) - probe);
  }
  for (const offset of offsets) {
    const candidate = date - offset;
    if (wallClock(timeZone, candidate) === date && (best === undefined || candidate < best)) best = candidate;
  }
  if (best !== undefined) return best;
  // Midnight was skipped (a DST gap at 00:00): the day starts at the transition. Search for the first
  // instant whose local date is `date`; around a gap the local date only moves forward.
  let lo = date - 15 * HOUR_MS; // local date < `date` here for any offset up to +14h
  let hi = date + 13 * HOUR_MS; // local date >= `date` here for any offset down to -12h
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (localDateOf(timeZone, mid) >= date) hi = mid;
    else lo = mid;
  }
  return hi;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function dayId(date: LocalDate): string {
  const d = new Date(date);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`;
}

function monthId(date: LocalDate): string {
  const d = new Date(date);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}`;
}

/** Monday of the ISO week holding `date`. */
function mondayOf(date: LocalDate): LocalDate {
  const weekday = (new Date(date).getUTCDay() + 6) % 7; // Monday = 0
  return addDays(date, -weekday);
}

/** ISO 8601 week id of the week starting on `monday`: the week belongs to the year of its Thursday. */
function isoWeekId(monday: LocalDate): string {
  const thursday = new Date(addDays(monday, 3));
  const year = thursday.getUTCFullYear();
  const jan1 = Date.UTC(year, 0, 1);
  const week = Math.floor((thursday.getTime() - jan1) / DAY_MS / 7) + 1;
  return `${pad(year, 4)}-W${pad(week, 2)}`;
}

function firstOfMonth(date: LocalDate, monthsToAdd: number): LocalDate {
  const d = new Date(date);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + monthsToAdd, 1);
}

export function periodOf(period: Period, timeZone: string, nowMs: number): PeriodInfo {
  if (period === 'none') return { id: 'all', startMs: 0, endMs: null, previousId: null };
  const today = localDateOf(timeZone, nowMs);
  if (period === 'daily') {
    return {
      id: dayId(today),
      startMs: startOfLocalDay(timeZone, today),
      endMs: startOfLocalDay(timeZone, addDays(today, 1)),
      previousId: dayId(addDays(today, -1)),
    };
  }
  if (period === 'weekly') {
    const monday = mondayOf(today);
    return {
      id: isoWeekId(monday),
      startMs: startOfLocalDay(timeZone, monday),
      endMs: startOfLocalDay(timeZone, addDays(monday, 7)),
      previousId: isoWeekId(addDays(monday, -7)),
    };
  }
  const first = firstOfMonth(today, 0);
  return {
    id: monthId(first),
    startMs: startOfLocalDay(timeZone, first),
    endMs: startOfLocalDay(timeZone, firstOfMonth(today, 1)),
    previousId: monthId(firstOfMonth(today, -1)),
  };
}

/**
 * Memoised periodOf: the answer stays valid for every instant in [startMs, endMs), so the hot path
 * formats dates only once per period and zone.
 */
const recent = new Map<string, PeriodInfo>();

export function cachedPeriodOf(period: Period, timeZone: string, nowMs: number): PeriodInfo {
  const key = `${period}\n${timeZone}`;
  const hit = recent.get(key);
  if (hit && nowMs >= hit.startMs && (hit.endMs === null || nowMs < hit.endMs)) return hit;
  const info = periodOf(period, timeZone, nowMs);
  if (recent.size > 1000) recent.clear();
  recent.set(key, info);
  return info;
}

/** Margin past twice the period's length: leases and clock skew, and rollover read on the next period's first touch. */
const TTL_MARGIN_SECONDS = 86_400;

/** How long a period's counters must live in the store (0 = forever, for prepaid budgets). */
export function ttlSecondsFor(period: Period): number {
  const days = period === 'daily' ? 1 : period === 'weekly' ? 7 : period === 'monthly' ? 31 : 0;
  if (days === 0) return 0;
  return days * 86_400 * 2 + TTL_MARGIN_SECONDS;
}
