/**
 * Webhook delivery of alerts, against a real node:http receiver: payload shape, signatures, the
 * events filter, deduplication, retries with backoff, per-attempt timeouts, the bounded queue.
 */
import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { type Receiver, startReceiver } from '../../test/controls/receiver.js';
import { freePort } from '../../test/helpers/ports.js';
import { eventually } from '../../test/helpers/stack.js';
import { parseConfig } from '../config/load.js';
import type { RuntimeConfig } from '../config/runtime.js';
import { AlertDispatcher } from './dispatcher.js';
import type { AlertInput } from './event.js';
import { verifySignature } from './signature.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function receiver(options?: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const r = await startReceiver(options);
  cleanups.push(() => r.close());
  return r;
}

function configWith(alertsYaml: string): RuntimeConfig {
  return parseConfig(`alerts:\n${alertsYaml}`, 'test.yaml', {});
}

function dispatcher(
  config: RuntimeConfig,
  extra: Partial<ConstructorParameters<typeof AlertDispatcher>[0]> = {},
) {
  const d = new AlertDispatcher({ config: () => config, ...extra });
  cleanups.push(() => d.close());
  return d;
}

const T0 = Date.UTC(2026, 10, 20, 12, 0, 0);

function threshold(overrides: Partial<AlertInput> = {}): AlertInput {
  return {
    type: 'threshold',
    budgetId: 'web-monthly',
    instance: 'web-monthly',
    period: '2026-11',
    at: 0.8,
    spentNano: 400_250_000_000,
    limitNano: 500_000_000_000,
    timeMs: T0,
    ...overrides,
  };
}

describe('alert webhooks', () => {
  it('posts a Slack-compatible, signed JSON body with the structured fields', async () => {
    const signed = await receiver();
    const unsigned = await receiver();
    const config = configWith(`  webhooks:
    - { url: "${signed.url}", secret: "hook-secret-1" }
    - { url: "${unsigned.url}" }
`);
    const alerts = dispatcher(config);
    const before = Math.floor(Date.now() / 1000);
    const alert = alerts.emit(threshold());
    expect(alert?.id).toMatch(/^alert_[0-9a-f]{32}$/);
    await eventually(() => expect(signed.received).toHaveLength(1));
    await eventually(() => expect(unsigned.received).toHaveLength(1));

    const got = signed.received[0]!;
    expect(got.headers['content-type']).toBe('application/json');
    // The receiver recomputes the HMAC over the raw bytes with the shared secret.
    const expected = `sha256=${createHmac('sha256', 'hook-secret-1').update(got.raw).digest('hex')}`;
    expect(got.headers['x-gateway-signature']).toBe(expected);
    expect(verifySignature(got.raw, 'hook-secret-1', got.headers['x-gateway-signature'])).toBe(true);
    expect(verifySignature(got.raw, 'another-secret', got.headers['x-gateway-signature'])).toBe(false);
    expect(verifySignature(`${got.raw} `, 'hook-secret-1', got.headers['x-gateway-signature'])).toBe(false);
    const timestamp = Number(got.headers['x-gateway-timestamp']);
    expect(timestamp).toBeGreaterThanOrEqual(before);
    expect(timestamp).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
    expect(got.headers['x-gateway-event-id']).toBe(alert?.id);
    expect(got.headers['x-gateway-event']).toBe('threshold');

    expect(got.body).toMatchObject({
      id: alert?.id,
      type: 'threshold',
      budget_id: 'web-monthly',
      instance: 'web-monthly',
      period: '2026-11',
      at: 0.8,
      spent_usd: 400.25,
      limit_usd: 500,
      time: new Date(T0).toISOString(),
    });
    expect(got.body.text).toMatch(/web-monthly passed 80% of its limit/);
    expect(got.body.text).toContain('$400.25 of $500.00');
    // No signature header without a secret; the same bytes otherwise.
    expect(unsigned.received[0]!.headers['x-gateway-signature']).toBeUndefined();
    expect(unsigned.received[0]!.raw).toBe(got.raw);
    // The secret itself never travels.
    expect(got.raw).not.toContain('hook-secret-1');
    expect(JSON.stringify(got.headers)).not.toContain('hook-secret-1');
  });

  it('sends each receiver only the event types it asked for', async () => {
    const exhaustedOnly = await receiver();
    const everything = await receiver();
    const config = configWith(`  webhooks:
    - { url: "${exhaustedOnly.url}", events: [exhausted, forecast] }
    - { url: "${everything.url}" }
`);
    const alerts = dispatcher(config);
    alerts.emit(threshold());
    alerts.emit(threshold({ type: 'exhausted', at: undefined, spentNano: 500_000_000_000 }));
    alerts.emit({ type: 'anomaly', budgetId: 'web-monthly', timeMs: T0, details: { ratio: 7.5 } });
    await eventually(() => expect(everything.received).toHaveLength(3));
    await alerts.idle();
    expect(exhaustedOnly.received.map((r) => r.body.type)).toEqual(['exhausted']);
    expect(everything.received.map((r) => r.body.type).sort()).toEqual(['anomaly', 'exhausted', 'threshold']);
    const anomaly = everything.received.find((r) => r.body.type === 'anomaly')!;
    expect(anomaly.body.details).toEqual({ ratio: 7.5 });
    expect(anomaly.body.id).toMatch(/^alert_/);
  });

  it('raises an alert once per id, however often it is emitted', async () => {
    const hook = await receiver();
    const alerts = dispatcher(configWith(`  webhooks: [{ url: "${hook.url}" }]\n`));
    const first = alerts.emit(threshold());
    // Another instance (or a retried settle) raising the same threshold in the same period.
    expect(alerts.emit(threshold({ timeMs: T0 + 5000 }))).toBeUndefined();
    // Another period or another threshold is another alert.
    expect(alerts.emit(threshold({ period: '2026-12' }))?.id).not.toBe(first?.id);
    expect(alerts.emit(threshold({ at: 0.5 }))?.id).not.toBe(first?.id);
    await eventually(() => expect(hook.received).toHaveLength(3));
    await alerts.idle();
    expect(new Set(hook.received.map((r) => r.body.id)).size).toBe(3);
    expect(alerts.recent(10).map((e) => e.alert.id)[2]).toBe(first?.id);
  });

  it('retries a receiver that is down until it comes up, and delivers once', async () => {
    const port = await freePort();
    const config = configWith(`  webhooks: [{ url: "http://127.0.0.1:${port}/hook", secret: s3cret }]
  delivery: { backoff_ms: 50, max_backoff_ms: 200, max_attempts: 50, timeout_ms: 1000 }
`);
    const outcomes: string[] = [];
    const alerts = dispatcher(config, { onDelivery: (o) => outcomes.push(o) });
    const alert = alerts.emit(threshold())!;
    const delivery = () => alerts.recent(1)[0]!.deliveries[0]!;
    await eventually(() => expect(delivery().attempts).toBeGreaterThanOrEqual(2));
    expect(delivery().status).toBe('pending');
    expect(delivery().lastError).toMatch(/cannot reach the receiver/);
    expect(delivery().lastError).not.toContain(String(port));

    const hook = await receiver({ port });
    await eventually(() => expect(delivery().status).toBe('delivered'));
    await alerts.idle();
    expect(hook.received).toHaveLength(1);
    expect(hook.received[0]!.body.id).toBe(alert.id);
    expect(
      verifySignature(hook.received[0]!.raw, 's3cret', hook.received[0]!.headers['x-gateway-signature']),
    ).toBe(true);
    expect(outcomes.filter((o) => o === 'delivered')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'retried').length).toBe(delivery().attempts - 1);
  });

  it('backs off exponentially between attempts and gives up after max_attempts', async () => {
    const hook = await receiver({ mode: { kind: 'status', status: 503 } });
    const config = configWith(`  webhooks: [{ url: "${hook.url}" }]
  delivery: { backoff_ms: 120, max_backoff_ms: 400, max_attempts: 4 }
`);
    // Jitter factor exactly 1: the delays are 120, 240, 400 (capped).
    const alerts = dispatcher(config, { random: () => 0.5 });
    alerts.emit(threshold());
    await eventually(() => expect(alerts.recent(1)[0]!.deliveries[0]!.status).toBe('failed'), 8000);
    expect(hook.received).toHaveLength(4);
    const gaps = hook.received.slice(1).map((r, i) => r.atMs - hook.received[i]!.atMs);
    // Timers never fire early (a millisecond of rounding aside); late is fine on a busy machine.
    expect(gaps[0]).toBeGreaterThanOrEqual(119);
    expect(gaps[1]).toBeGreaterThanOrEqual(239);
    expect(gaps[2]).toBeGreaterThanOrEqual(399);
    expect(alerts.recent(1)[0]!.deliveries[0]!.lastError).toBe('the receiver answered 503');
    expect(new Set(hook.received.map((r) => r.raw)).size).toBe(1);
  });

  it('does not retry a receiver that refuses the request (4xx)', async () => {
    const hook = await receiver({ mode: { kind: 'status', status: 400 } });
    const config = configWith(`  webhooks: [{ url: "${hook.url}" }]
  delivery: { backoff_ms: 20, max_attempts: 5 }
`);
    const alerts = dispatcher(config);
    alerts.emit(threshold());
    await eventually(() => expect(alerts.recent(1)[0]!.deliveries[0]!.status).toBe('failed'));
    expect(hook.received).toHaveLength(1);
  });

  it('gives each attempt a timeout, so a hanging receiver does not hold deliveries to another', async () => {
    const hanging = await receiver({ mode: { kind: 'hang' } });
    const healthy = await receiver();
    const config = configWith(`  webhooks: [{ url: "${hanging.url}" }, { url: "${healthy.url}" }]
  delivery: { timeout_ms: 300, backoff_ms: 20, max_attempts: 2 }
`);
    const alerts = dispatcher(config);
    for (let i = 0; i < 5; i++) alerts.emit(threshold({ period: `2026-0${i + 1}` }));
    // The healthy receiver gets all five while the hanging one still holds its first attempts
    // (at least once: on a busy machine an answer can miss the 300 ms and be sent again).
    await eventually(() => expect(new Set(healthy.received.map((r) => r.body.id)).size).toBe(5));
    expect(hanging.hanging()).toBeGreaterThan(0);
    await eventually(() => {
      const statuses = alerts.recent(5).map((e) => e.deliveries[0]!.status);
      expect(statuses).toEqual(['failed', 'failed', 'failed', 'failed', 'failed']);
    }, 10_000);
    const first = alerts.recent(5)[0]!.deliveries[0]!;
    expect(first.attempts).toBe(2);
    expect(first.lastError).toBe('the receiver did not answer in time');
  });

  it('bounds the queue: past queue_size the oldest waiting delivery is dropped', async () => {
    const hanging = await receiver({ mode: { kind: 'hang' } });
    const config = configWith(`  webhooks: [{ url: "${hanging.url}" }]
  delivery: { timeout_ms: 5000, queue_size: 2 }
`);
    const outcomes: string[] = [];
    const alerts = dispatcher(config, { perReceiver: 2, onDelivery: (o) => outcomes.push(o) });
    for (let i = 0; i < 6; i++) alerts.emit(threshold({ period: `2026-0${i + 1}` }));
    // Two in flight (hanging), two waiting, the two oldest waiting ones dropped.
    const statuses = alerts
      .recent(6)
      .reverse()
      .map((e) => e.deliveries[0]!.status);
    expect(statuses).toEqual(['pending', 'pending', 'dropped', 'dropped', 'pending', 'pending']);
    expect(outcomes).toEqual(['dropped', 'dropped']);
    expect(alerts.pendingDeliveries).toBe(4);
    await alerts.close();
    expect(alerts.pendingDeliveries).toBe(0);
  });
});
