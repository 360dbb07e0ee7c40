import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseMockProviderArgs, runMockProviderCli } from './cli.js';

afterEach(() => vi.restoreAllMocks());

describe('mock-provider CLI', () => {
  it('parses every flag', () => {
    expect(
      parseMockProviderArgs([
        '--port',
        '9999',
        '--host=0.0.0.0',
        '--latency-ms',
        '5',
        '--output-tokens',
        '40',
        '--chunks',
        '4',
        '--openai-key',
        'sk-o',
        '--anthropic-key',
        'sk-a',
        '--no-record',
      ]),
    ).toEqual({
      port: 9999,
      host: '0.0.0.0',
      latencyMs: 5,
      outputTokens: 40,
      chunkCount: 4,
      openaiApiKey: 'sk-o',
      anthropicApiKey: 'sk-a',
      record: false,
    });
  });

  it('rejects bad values and unknown flags', () => {
    expect(() => parseMockProviderArgs(['--port', 'x'])).toThrow(/--port/);
    expect(() => parseMockProviderArgs(['--latency-ms'])).toThrow(/--latency-ms/);
    expect(() => parseMockProviderArgs(['--nope'])).toThrow(/unknown option '--nope'/);
  });

  it('prints the URL, serves, and shuts down on SIGTERM', async () => {
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    const done = runMockProviderCli(['--port', '0', '--output-tokens', '3']);
    await vi.waitFor(() =>
      expect(lines.join('')).toMatch(/mock provider listening on http:\/\/127\.0\.0\.1:\d+/),
    );
    const url = /(http:\/\/\S+)/.exec(lines.join(''))![1]!;
    const res = await fetch(`${url}/v1/models`);
    expect(res.status).toBe(200);
    process.emit('SIGTERM');
    await done;
    await expect(fetch(`${url}/v1/models`)).rejects.toThrow();
  });
});
