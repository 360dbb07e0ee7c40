/**
 * Provider base URLs and webhook URLs: only http(s), never link-local, refused at load with the
 * field named ([hardening] 13).
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from './load.js';

function problemsOf(text: string): string[] {
  try {
    parseConfig(text, 'test.yaml', {});
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

const withProvider = (url: string) => `
providers:
  openai: { kind: openai, base_url: "${url}", api_key: k }
models:
  gpt-4o-mini: { provider: openai, input: 0.15, output: 0.6 }
`;

const withWebhook = (url: string) => `${withProvider('https://api.openai.com/v1')}
alerts:
  webhooks: [{ url: "${url}" }]
`;

describe('outbound URLs at config load', () => {
  it.each([
    'file:///etc/passwd',
    'gopher://127.0.0.1:6379/_FLUSHALL',
    'ftp://example.com/',
    'http://169.254.169.254/latest/meta-data',
    'http://2852039166/',
    'http://0xa9.254.169.254/',
    'http://[fe80::1]/v1',
    'http://[febf::1]/v1',
    'http://[::ffff:169.254.169.254]/',
  ])('refuses the provider base_url %s', (url) => {
    const problems = problemsOf(withProvider(url));
    expect(problems.some((p) => p.startsWith('providers.openai.base_url:'))).toBe(true);
  });

  it.each(['file:///tmp/x', 'http://169.254.170.2/hook', 'http://[fe80::abcd]:8080/hook'])(
    'refuses the webhook url %s',
    (url) => {
      const problems = problemsOf(withWebhook(url));
      expect(problems.some((p) => p.startsWith('alerts.webhooks[0].url:'))).toBe(true);
    },
  );

  it.each([
    'https://api.openai.com/v1',
    'http://127.0.0.1:9/v1',
    'http://[::1]:8080/v1',
    'http://10.0.0.5/v1',
    'http://169.253.1.1/',
    'http://[fec0::1]/',
  ])('accepts %s', (url) => {
    expect(problemsOf(withProvider(url))).toEqual([]);
    expect(problemsOf(withWebhook(url))).toEqual([]);
  });

  it('names the scheme it refused', () => {
    expect(problemsOf(withProvider('gopher://x/'))).toContain(
      'providers.openai.base_url: expected an http(s) URL, got the gopher: scheme',
    );
  });
});
