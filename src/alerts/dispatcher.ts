/**
 * The alert dispatcher: every alert source (the budget engine's threshold and exhaustion events,
 * the forecast watch, the admin analytics' anomalies) calls emit(). It deduplicates by alert id,
 * keeps the recent ones for GET /admin/alerts, and files one delivery per matching webhook with the
 * background queue. emit() is synchronous and cheap, and never throws: it runs after a settle, and a
 * receiver's trouble must never reach a request.
 */
import type { Logger } from 'pino';
import type { BudgetEvent } from '../budget/engine.js';
import type { RuntimeConfig } from '../config/runtime.js';
import { type Alert, type AlertInput, acceptAlert, alertPayload } from './event.js';
import { type AlertEntry, RecentAlerts } from './recent.js';
import { type Delivery, type DeliveryOutcome, WebhookQueue } from './webhook-queue.js';

export interface AlertDispatcherOptions {
  config: () => RuntimeConfig;
  logger?: Logger;
  /** Called once per accepted (not deduplicated) alert; metrics. */
  onAlert?: (alert: Alert) => void;
  /** Called per delivery outcome; metrics. */
  onDelivery?: (outcome: DeliveryOutcome) => void;
  /** Called per alert held back by the per-template limit; metrics. */
  onSuppressed?: (alert: Alert) => void;
  /** Queue tuning beyond config (tests). */
  concurrency?: number;
  perReceiver?: number;
  random?: () => number;
}

/** Alert ids remembered for deduplication. */
const SEEN_LIMIT = 10_000;

export class AlertDispatcher {
  private readonly queue: WebhookQueue;
  private readonly history: RecentAlerts;
  private readonly seen = new Set<string>();
  private readonly templates = new TemplateAlertLimit();

  constructor(private readonly options: AlertDispatcherOptions) {
    this.history = new RecentAlerts(() => options.config().alerts.historySize);
    this.queue = new WebhookQueue({
      settings: () => options.config().alerts.delivery,
      concurrency: options.concurrency,
      perReceiver: options.perReceiver,
      onOutcome: options.onDelivery,
      logger: options.logger,
      random: options.random,
    });
  }

  /** Raises an alert; returns it, or undefined when an alert with its id was already raised here. */
  emit(input: AlertInput): Alert | undefined {
    try {
      const alert = acceptAlert(input);
      if (this.seen.has(alert.id)) return undefined;
      this.remember(alert.id);
      const limit = this.options.config().alerts.perTemplatePerHour;
      const held = this.templates.admit(alert, limit);
      if (held !== 'sent') {
        if (held === 'first-held')
          this.options.logger?.warn({
            msg: `more than ${limit} ${alert.type} alerts this hour for instances of budget ${alert.budgetId}; the rest are counted, not sent`,
            budget: alert.budgetId,
            type: alert.type,
          });
        this.options.onSuppressed?.(alert);
        return undefined;
      }
      const payload = alertPayload(alert);
      const body = JSON.stringify(payload);
      const deliveries: Delivery[] = [];
      this.options.config().alerts.webhooks.forEach((webhook, index) => {
        if (webhook.events && !webhook.events.has(alert.type)) return;
        const delivery = this.queue.enqueue({
          alertId: alert.id,
          alertType: alert.type,
          webhook: index,
          url: webhook.url,
          secret: webhook.secret,
          body,
        });
        if (delivery) deliveries.push(delivery);
      });
      this.history.add({ alert, payload, deliveries });
      this.options.logger?.info({ msg: 'alert', alert: alert.id, type: alert.type, text: alert.message });
      try {
        this.options.onAlert?.(alert);
      } catch {
        // Metrics must not break alerting.
      }
      return alert;
    } catch (error) {
      this.options.logger?.error({ msg: 'alert could not be raised', error: (error as Error).message });
      return undefined;
    }
  }

  /** The most recent alerts raised by this instance, newest first. */
  recent(limit: number): AlertEntry[] {
    return this.history.list(limit);
  }

  /** Deliveries waiting or in flight. */
  get pendingDeliveries(): number {
    return this.queue.size;
  }

  /** Resolves when no delivery waits or is in flight. */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  close(): Promise<void> {
    return this.queue.close();
  }

  private remember(id: string): void {
    this.seen.add(id);
    if (this.seen.size > SEEN_LIMIT) {
      const oldest = this.seen.values().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
  }
}

/**
 * At most `limit` alerts per hour, type and "*" budget about its instances (alert.instance differs
 * from alert.budgetId): a budget with one instance per user would otherwise raise one alert per
 * distinct user, and a flood of new users would flood the receivers. Fixed windows by the alert's own
 * time (the hour it happened in), so tests and instances agree on the window.
 */
class TemplateAlertLimit {
  private hour = -1;
  private readonly counts = new Map<string, number>();

  admit(alert: Alert, limit: number): 'sent' | 'first-held' | 'held' {
    if (alert.budgetId === undefined || alert.instance === undefined || alert.instance === alert.budgetId)
      return 'sent';
    const hour = Math.floor(alert.timeMs / 3_600_000);
    if (hour !== this.hour) {
      this.hour = hour;
      this.counts.clear();
    }
    const key = `${alert.type}\n${alert.budgetId}`;
    const count = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, count);
    if (count <= limit) return 'sent';
    return count === limit + 1 ? 'first-held' : 'held';
  }
}

/** The engine's threshold/exhausted event as an alert. */
export function budgetEventAlert(event: BudgetEvent): AlertInput {
  return {
    type: event.type,
    budgetId: event.budgetId,
    instance: event.instance,
    period: event.period,
    ...(event.at === undefined ? {} : { at: event.at }),
    spentNano: event.spentNano,
    limitNano: event.limitNano,
    timeMs: event.timeMs,
  };
}
