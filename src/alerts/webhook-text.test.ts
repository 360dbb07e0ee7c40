/**
 * [hardening] 12: alert text is escaped for Slack (user ids from request bodies cannot mention
 * the channel or post links), and a "*" budget raising one alert per distinct user cannot flood
 * the receivers (alerts.per_template_per_hour).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startReceiver } from '../../test/controls/receiver.js';
import { parseConfig } from '../config/load.js';
import { AlertDispatcher } from './dispatcher.js';
import { acceptAlert, alertPayload, slackEscape } from './event.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const T0 = Date.UTC(2026, 10, 20, 12, 0, 0);
const HOUR = 3_600_000;

/** Slack's control sequences: <!here>, <@U123>, <#C1>, <url|label>. */
const SLACK_CONTROL = /<[!@#]|<https?:|<mailto:/;

describe('webhook text for Slack', () => {
  it.each([
    '<!channel>',
    '<!here>',
    '<@U024BE7LH>',
    '<https://evil.example|click here>',
    '<mailto:a@b.c|mail>',
  ])('turns the control sequence in %j into text', (user) => {
    const payload = alertPayload(
      acceptAlert({ type: 'exhausted', budgetId: 'per-user', instance: `per-user:${user}`, timeMs: T0 }),
    );
    const text = payload.text as string;
    expect(text).not.toMatch(SLACK_CONTROL);
    expect(text).not.toMatch(/<|>/);
    // The structured fields stay exact for receivers that read JSON.
    expect(payload.instance).toBe(`per-user:${user}`);
    expect(payload.message).toContain(user);
  });

  it('breaks plain mentions and bare links, keeps & readable', () => {
    const text = slackEscape('@channel @here @everyone see https://evil.example and www.evil.example & co');
    expect(text).not.toMatch(/@(channel|here|everyone)\b/);
    expect(text).not.toContain('https://');
    expect(text).not.toMatch(/\bwww\./);
    expect(text).toContain('&amp; co');
    // Only invisible characters were added: what a person reads is unchanged.
    expect(text.replaceAll('\u2060', '').replaceAll('&amp;', '&')).toBe(
      '@channel @here @everyone see https://evil.example and www.evil.example & co',
    );
  });
});

describe('alerts per "*" budget', () => {
  it('sends at most per_template_per_hour per hour and type, counts the rest, leaves fixed budgets alone', async () => {
    const receiver = await startReceiver();
    cleanups.push(() => receiver.close());
    const config = parseConfig(
      `alerts:\n  per_template_per_hour: 5\n  webhooks:\n    - { url: "${receiver.url}" }\n`,
      'test.yaml',
      {},
    );
    const suppressed: string[] = [];
    const alerts = new AlertDispatcher({ config: () => config, onSuppressed: (a) => suppressed.push(a.id) });
    cleanups.push(() => alerts.close());

    const users = Array.from({ length: 200 }, (_, i) => `user-${i}`);
    for (const user of users)
      alerts.emit({
        type: 'exhausted',
        budgetId: 'per-user',
        instance: `per-user:${user}`,
        period: 'p1',
        timeMs: T0,
      });
    for (const user of users.slice(0, 3))
      alerts.emit({
        type: 'threshold',
        budgetId: 'per-user',
        instance: `per-user:${user}`,
        period: 'p1',
        at: 0.5,
        timeMs: T0,
      });
    alerts.emit({
      type: 'exhausted',
      budgetId: 'web-monthly',
      instance: 'web-monthly',
      period: 'p1',
      timeMs: T0,
    });
    await alerts.idle();

    const sent = receiver.received.map((r) => `${r.body.type}:${r.body.instance}`);
    expect(sent.filter((s) => s.startsWith('exhausted:per-user:'))).toHaveLength(5);
    expect(sent.filter((s) => s.startsWith('threshold:per-user:'))).toHaveLength(3);
    expect(sent).toContain('exhausted:web-monthly');
    expect(suppressed).toHaveLength(195);

    // The next hour has its own allowance.
    alerts.emit({
      type: 'exhausted',
      budgetId: 'per-user',
      instance: 'per-user:late',
      period: 'p1',
      timeMs: T0 + HOUR,
    });
    await alerts.idle();
    expect(receiver.received.map((r) => r.body.instance)).toContain('per-user:late');
  });
});
