/**
 * Display formats for money and time. Pure functions (no DOM), shared with the browser tests so a
 * test can check the page shows exactly the API's numbers.
 */

/** USD for people: cents from $1 up; below $1 up to six significant digits (LLM calls are cheap). */
export function formatUsd(usd: number | null | undefined): string {
  if (usd === null || usd === undefined || !Number.isFinite(usd)) return '—';
  const sign = usd < 0 ? '-' : '';
  const abs = Math.abs(usd);
  if (abs === 0) return '$0.00';
  if (abs >= 1) {
    return `${sign}$${abs.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
  }
  let text = Number(abs.toPrecision(6)).toFixed(12).replace(/0+$/, '');
  if (/\.\d$/.test(text)) text += '0';
  if (text.endsWith('.')) text += '00';
  return `${sign}$${text}`;
}

export function formatPercent(ratio: number): string {
  return `${Math.round(ratio * 1000) / 10}%`;
}

const dateTime = new Intl.DateTimeFormat('en-GB', {
  day: 'numeric',
  month: 'short',
  hour: '2-digit',
  minute: '2-digit',
});

/** A point in time in the viewer's zone, e.g. "28 Nov, 14:05"; "—" when absent. */
export function formatTime(iso: string | number | null | undefined): string {
  if (iso === null || iso === undefined) return '—';
  const ms = typeof iso === 'number' ? iso : Date.parse(iso);
  return Number.isFinite(ms) ? dateTime.format(ms) : '—';
}

/** "in 2d 3h", "5m ago": the coarsest two units. */
export function formatRelative(iso: string | number | null | undefined, nowMs: number): string {
  if (iso === null || iso === undefined) return '';
  const ms = typeof iso === 'number' ? iso : Date.parse(iso);
  if (!Number.isFinite(ms)) return '';
  const diff = ms - nowMs;
  const units: [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
  ];
  let rest = Math.abs(diff);
  const parts: string[] = [];
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0 || parts.length > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
    if (parts.length === 2) break;
  }
  const span = parts.filter((p) => !p.startsWith('0')).join(' ') || 'under a minute';
  return diff >= 0 ? `in ${span}` : `${span} ago`;
}
