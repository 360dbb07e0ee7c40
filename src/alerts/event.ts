/**
 * What an alert is, and the JSON a webhook receives for it. One shape for every alert type, so a
 * receiver (or a Slack channel) needs no per-type handling: a Slack-compatible `text` line plus
 * structured fields. Nothing secret goes in: budget and instance ids, amounts, times.
 */
import { createHash, randomUUID } from 'node:crypto';
import { type Nano, nanoToUsd } from '../money.js';

export const ALERT_TYPES = ['threshold', 'exhausted', 'forecast', 'anomaly'] as const;
export type AlertType = (typeof ALERT_TYPES)[number];

/** Values an alert may carry beyond the common fields (anomaly scores, scope values, ...). */
export type AlertDetail = string | number | boolean | null;

/** An alert as its source raises it (the engine, the forecast watch, the admin analytics). */
export interface AlertInput {
  type: AlertType;
  /**
   * Stable id, for deduplication here and at the receiver. When omitted, once-per-period alerts
   * (threshold, exhausted, forecast) derive it from type, instance, period and threshold, so every
   * instance that could raise the same alert names it the same; other alerts get a random id.
   */
  id?: string;
  /** The config/API budget the alert is about, when it is about one. */
  budgetId?: string;
  /** The budget instance (differs from budgetId for "*" template budgets). */
  instance?: string;
  /** The budget period id ("2026-11", "2026-11-28", "all"). */
  period?: string;
  /** Threshold ratio, for threshold alerts. */
  at?: number;
  spentNano?: Nano;
  /** Effective limit (base + rollover + top-ups). */
  limitNano?: Nano;
  /** Forecast: spend projected at the period's end. */
  projectedNano?: Nano;
  /** Forecast: when the budget runs out at the current burn rate. */
  exhaustedAtMs?: number;
  /** When it happened (ms since epoch). */
  timeMs: number;
  /** A human sentence; generated from the fields when omitted. */
  message?: string;
  /** Extra structured fields, sent as `details`. */
  details?: Record<string, AlertDetail>;
}

/** An alert after the dispatcher accepted it: an id and a sentence, always. */
export interface Alert extends AlertInput {
  id: string;
  message: string;
}

const ONCE_PER_PERIOD: ReadonlySet<AlertType> = new Set(['threshold', 'exhausted', 'forecast']);

export function alertIdOf(input: AlertInput): string {
  if (input.id) return input.id;
  if (!ONCE_PER_PERIOD.has(input.type) || input.period === undefined) return `alert_${randomUUID()}`;
  const identity = [input.type, input.instance ?? input.budgetId ?? '', input.period, input.at ?? ''];
  return `alert_${createHash('sha256').update(identity.join('\n')).digest('hex').slice(0, 32)}`;
}

function percent(ratio: number): string {
  return `${Math.round(ratio * 1000) / 10}%`;
}

function money(nano: Nano | undefined): string {
  if (nano === undefined) return '?';
  // Cents suffice in a chat line (the structured fields carry the exact amount); small budgets need more.
  const usd = nanoToUsd(nano);
  return `$${Math.abs(usd) >= 0.01 ? usd.toFixed(2) : usd.toFixed(6)}`;
}

/** The sentence for an alert: what happened to which budget, with the amounts. */
export function describeAlert(input: AlertInput): string {
  const budget = input.instance ?? input.budgetId ?? 'a budget';
  const period = input.period ? ` (period ${input.period})` : '';
  const amounts = `${money(input.spentNano)} of ${money(input.limitNano)} spent`;
  switch (input.type) {
    case 'threshold':
      return `Budget ${budget} passed ${percent(input.at ?? 0)} of its limit${period}: ${amounts}.`;
    case 'exhausted':
      return `Budget ${budget} is exhausted${period}: ${amounts}. Requests under it are rejected until it resets or is raised.`;
    case 'forecast': {
      const when =
        input.exhaustedAtMs === undefined
          ? 'before the period ends'
          : new Date(input.exhaustedAtMs).toISOString();
      return `Budget ${budget} is on course to run out at ${when}${period}: ${amounts}, projected ${money(input.projectedNano)}.`;
    }
    case 'anomaly':
      return `Unusual spend on ${budget}${period}: ${amounts}.`;
  }
}

export function acceptAlert(input: AlertInput): Alert {
  return { ...input, id: alertIdOf(input), message: input.message ?? describeAlert(input) };
}

const EMOJI: Record<AlertType, string> = {
  threshold: ':warning:',
  exhausted: ':no_entry:',
  forecast: ':chart_with_upwards_trend:',
  anomaly: ':rotating_light:',
};

/** U+2060 WORD JOINER: invisible, and it stops Slack from reading what follows as a mention or link. */
const JOINER = '\u2060';

/**
 * Alert text made safe for Slack's mrkdwn: budget instance ids carry user ids and keys from request
 * bodies, so a user named `<!channel>`, `@here` or `<https://evil|click here>` must reach the channel
 * as text. Slack's own escaping for `&`, `<` and `>` turns the control sequences (`<!here>`, `<@U1>`,
 * `<url|label>`) into text; a word joiner after `@` and inside `://` / `www.` keeps plain `@channel`
 * mentions and bare links from being recognised. The JSON fields (`message`, `instance`, ...) stay
 * exact: JSON escaping is all a generic receiver needs.
 */
export function slackEscape(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replace(/[@\uFF20](?=\S)/g, (at) => `${at}${JOINER}`)
    .replace(/:\/\//g, `:${JOINER}//`)
    .replace(/\b(www)\./gi, `$1${JOINER}.`);
}

/** The webhook body: Slack's `text`, then the structured fields (USD numbers, ISO times). */
export function alertPayload(alert: Alert): Record<string, unknown> {
  const payload: Record<string, unknown> = {
    text: `${EMOJI[alert.type]} [llm-budget-gateway] ${slackEscape(alert.message)}`,
    id: alert.id,
    type: alert.type,
    time: new Date(alert.timeMs).toISOString(),
  };
  if (alert.budgetId !== undefined) payload.budget_id = alert.budgetId;
  if (alert.instance !== undefined) payload.instance = alert.instance;
  if (alert.period !== undefined) payload.period = alert.period;
  if (alert.at !== undefined) payload.at = alert.at;
  if (alert.spentNano !== undefined) payload.spent_usd = nanoToUsd(alert.spentNano);
  if (alert.limitNano !== undefined) payload.limit_usd = nanoToUsd(alert.limitNano);
  if (alert.projectedNano !== undefined) payload.projected_usd = nanoToUsd(alert.projectedNano);
  if (alert.exhaustedAtMs !== undefined) payload.exhausted_at = new Date(alert.exhaustedAtMs).toISOString();
  payload.message = alert.message;
  if (alert.details !== undefined) payload.details = alert.details;
  return payload;
}
