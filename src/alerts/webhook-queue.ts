/**
 * Webhook delivery in the background. Requests never wait on it: enqueue() only files a job, and a
 * timer drains the queue. Each attempt has its own timeout; failures are retried with exponential
 * backoff and jitter up to a number of attempts; each (alert, receiver) pair is delivered at most
 * once by this process; the queue is bounded (the oldest waiting job is dropped when it is full);
 * and a receiver gets at most a couple of attempts in flight, so one that hangs cannot hold up
 * deliveries to the others.
 */
import type { Logger } from 'pino';
import { Agent, request } from 'undici';
import {
  EVENT_ID_HEADER,
  EVENT_TYPE_HEADER,
  SIGNATURE_HEADER,
  signBody,
  TIMESTAMP_HEADER,
} from './signature.js';

export interface DeliverySettings {
  timeoutMs: number;
  maxAttempts: number;
  backoffMs: number;
  maxBackoffMs: number;
  queueSize: number;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed' | 'dropped';

/** A delivery's state, as GET /admin/alerts shows it. The receiver's URL is not in it: URLs hold tokens. */
export interface Delivery {
  /** Index of the receiver in alerts.webhooks when the alert was raised. */
  readonly webhook: number;
  status: DeliveryStatus;
  attempts: number;
  lastError: string | null;
  deliveredAtMs: number | null;
}

export type DeliveryOutcome = 'delivered' | 'retried' | 'failed' | 'dropped';

export interface WebhookJob {
  alertId: string;
  alertType: string;
  webhook: number;
  url: string;
  secret: string | undefined;
  /** The exact bytes sent (and signed); the same on every attempt. */
  body: string;
}

interface QueuedJob extends WebhookJob {
  delivery: Delivery;
  nextAtMs: number;
}

export interface WebhookQueueOptions {
  settings: () => DeliverySettings;
  /** Attempts in flight at once, over all receivers. Default 8. */
  concurrency?: number;
  /** Attempts in flight at once to one receiver URL. Default 2. */
  perReceiver?: number;
  onOutcome?: (outcome: DeliveryOutcome) => void;
  logger?: Logger;
  /** [0, 1); injectable so backoff tests are exact. */
  random?: () => number;
}

/** (alert, receiver) pairs remembered for deduplication. */
const DEDUP_LIMIT = 10_000;

export class WebhookQueue {
  private readonly waiting: QueuedJob[] = [];
  private readonly inFlightByUrl = new Map<string, number>();
  private inFlight = 0;
  private readonly seen = new Set<string>();
  private readonly agent = new Agent({ keepAliveTimeout: 10_000, connections: 16 });
  private readonly closing = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private timerAtMs = Number.POSITIVE_INFINITY;
  private closed = false;
  private readonly idleWaiters: Array<() => void> = [];

  constructor(private readonly options: WebhookQueueOptions) {}

  /** Files a delivery; undefined when this pair was already filed (deduplicated) or the queue is closed. */
  enqueue(job: WebhookJob): Delivery | undefined {
    if (this.closed) return undefined;
    const key = `${job.alertId}\n${job.url}`;
    if (this.seen.has(key)) return undefined;
    this.remember(key);
    const delivery: Delivery = {
      webhook: job.webhook,
      status: 'pending',
      attempts: 0,
      lastError: null,
      deliveredAtMs: null,
    };
    if (this.waiting.length >= Math.max(1, this.options.settings().queueSize)) {
      const oldest = this.waiting.shift();
      if (oldest) this.finish(oldest, 'dropped', 'the delivery queue was full');
    }
    this.waiting.push({ ...job, delivery, nextAtMs: Date.now() });
    this.pump();
    return delivery;
  }

  /** Deliveries waiting or in flight. */
  get size(): number {
    return this.waiting.length + this.inFlight;
  }

  /** Resolves when nothing waits or is in flight (tests, shutdown). */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops delivering: in-flight attempts are aborted, waiting ones dropped (alerts live in memory). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const job of this.waiting.splice(0)) this.finish(job, 'dropped', 'the gateway shut down');
    this.closing.abort(new Error('the gateway shut down'));
    await this.agent.destroy().catch(() => undefined);
    this.notifyIdle();
  }

  private remember(key: string): void {
    this.seen.add(key);
    if (this.seen.size > DEDUP_LIMIT) {
      const oldest = this.seen.values().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
  }

  /** Starts every due attempt there is room for, then sleeps until the next one is due. */
  private pump(): void {
    if (this.closed) return;
    const now = Date.now();
    const concurrency = this.options.concurrency ?? 8;
    const perReceiver = this.options.perReceiver ?? 2;
    let next = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.waiting.length && this.inFlight < concurrency; ) {
      const job = this.waiting[i]!;
      const busy = this.inFlightByUrl.get(job.url) ?? 0;
      if (job.nextAtMs > now || busy >= perReceiver) {
        if (busy < perReceiver) next = Math.min(next, job.nextAtMs);
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      void this.attempt(job);
    }
    this.sleepUntil(next);
  }

  private sleepUntil(atMs: number): void {
    if (atMs === Number.POSITIVE_INFINITY || atMs >= this.timerAtMs) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAtMs = atMs;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAtMs = Number.POSITIVE_INFINITY;
        this.pump();
      },
      Math.max(0, atMs - Date.now()),
    );
    this.timer.unref();
  }

  private async attempt(job: QueuedJob): Promise<void> {
    const settings = this.options.settings();
    this.inFlight++;
    this.inFlightByUrl.set(job.url, (this.inFlightByUrl.get(job.url) ?? 0) + 1);
    job.delivery.attempts++;
    let error: string | null = null;
    let retryable = true;
    try {
      const status = await this.send(job, settings.timeoutMs);
      if (status < 200 || status >= 300) {
        error = `the receiver answered ${status}`;
        // A 4xx other than 408/429 is the receiver refusing this request: repeating it will not help.
        retryable = status >= 500 || status === 408 || status === 429;
      }
    } catch (cause) {
      error = describe(cause);
    } finally {
      this.inFlight--;
      const busy = (this.inFlightByUrl.get(job.url) ?? 1) - 1;
      if (busy > 0) this.inFlightByUrl.set(job.url, busy);
      else this.inFlightByUrl.delete(job.url);
    }
    if (this.closed) {
      if (error === null) this.finish(job, 'delivered', null);
      else this.finish(job, 'dropped', 'the gateway shut down');
    } else if (error === null) {
      this.finish(job, 'delivered', null);
    } else if (!retryable || job.delivery.attempts >= settings.maxAttempts) {
      this.finish(job, 'failed', error);
    } else {
      job.delivery.lastError = error;
      job.nextAtMs = Date.now() + this.backoff(job.delivery.attempts, settings);
      this.waiting.push(job);
      this.options.onOutcome?.('retried');
      this.options.logger?.debug({
        msg: 'alert delivery failed; will retry',
        alert: job.alertId,
        webhook: job.webhook,
        attempt: job.delivery.attempts,
        error,
      });
    }
    this.pump();
    this.notifyIdle();
  }

  /** The delay before attempt n+1: backoff x 2^(n-1), capped, times a jitter in [0.8, 1.2). */
  private backoff(attempts: number, settings: DeliverySettings): number {
    const base = Math.min(settings.maxBackoffMs, settings.backoffMs * 2 ** Math.min(30, attempts - 1));
    const random = this.options.random ?? Math.random;
    return Math.round(base * (0.8 + 0.4 * random()));
  }

  private async send(job: QueuedJob, timeoutMs: number): Promise<number> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'llm-budget-gateway-alerts',
      [EVENT_ID_HEADER]: job.alertId,
      [EVENT_TYPE_HEADER]: job.alertType,
      [TIMESTAMP_HEADER]: String(Math.floor(Date.now() / 1000)),
    };
    if (job.secret) headers[SIGNATURE_HEADER] = signBody(job.body, job.secret);
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      const response = await request(job.url, {
        method: 'POST',
        headers,
        body: job.body,
        signal: AbortSignal.any([this.closing.signal, timeout]),
        dispatcher: this.agent,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      await response.body.dump().catch(() => undefined);
      return response.statusCode;
    } catch (error) {
      if (timeout.aborted) throw new DeliveryError('the receiver did not answer in time');
      throw error;
    }
  }

  private finish(job: QueuedJob, status: Exclude<DeliveryStatus, 'pending'>, error: string | null): void {
    job.delivery.status = status;
    job.delivery.lastError = error;
    if (status === 'delivered') job.delivery.deliveredAtMs = Date.now();
    this.options.onOutcome?.(status);
    if (status === 'failed' || status === 'dropped') {
      this.options.logger?.warn({
        msg: `alert delivery ${status}`,
        alert: job.alertId,
        webhook: job.webhook,
        attempts: job.delivery.attempts,
        error,
      });
    }
  }

  private notifyIdle(): void {
    if (this.size > 0) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}

class DeliveryError extends Error {}

/** An error as one line, without the URL (receiver URLs often hold tokens). */
function describe(error: unknown): string {
  if (error instanceof DeliveryError) return error.message;
  const e = error as { code?: string };
  if (e?.code === 'UND_ERR_HEADERS_TIMEOUT' || e?.code === 'UND_ERR_BODY_TIMEOUT')
    return 'the receiver did not answer in time';
  if (typeof e?.code === 'string') return `cannot reach the receiver (${e.code})`;
  return 'cannot reach the receiver';
}
