/**
 * [hardening] 9: SQLite on a full disk (a real 2 MB tmpfs, filled with a file). Requests fail with
 * 503 as before; now /readyz says so too (it used to answer 200: its probe is `SELECT 1`, which
 * needs no space), failed writes are logged, at most once per operation per 10 s, and all returns
 * to ready once space is freed and a write succeeds.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/logger.js';
import { type MockProvider, startMockProvider } from '../../src/mock/server.js';
import { ANTHROPIC_UPSTREAM_KEY, baseConfigYaml, OPENAI_UPSTREAM_KEY, TEST_KEY_2 } from '../helpers/stack.js';

const mountPoint = mkdtempSync(join(tmpdir(), 'gw-tmpfs-'));

function fill(path: string): void {
  // Chunk by chunk until the disk refuses: then nothing is left for the database to grow into.
  const chunk = Buffer.alloc(16 * 1024, 1);
  let written = 0;
  for (;;) {
    try {
      writeFileSync(path, chunk, { flag: 'a' });
      written += chunk.length;
    } catch {
      return;
    }
    if (written > 64 * 1024 * 1024) throw new Error('tmpfs did not fill');
  }
}

describe('SQLite on a full disk', () => {
  let mock: MockProvider;
  let gateway: Gateway;
  const logs: Array<Record<string, unknown>> = [];
  beforeAll(async () => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mountPoint]);
    mkdirSync(join(mountPoint, 'data'));
    mock = await startMockProvider({
      openaiApiKey: OPENAI_UPSTREAM_KEY,
      anthropicApiKey: ANTHROPIC_UPSTREAM_KEY,
    });
    const sink = new Writable({
      write(line, _enc, done) {
        for (const text of String(line).split('\n')) if (text) logs.push(JSON.parse(text));
        done();
      },
    });
    gateway = await startGateway({
      configText: baseConfigYaml(
        mock.url,
        {
          store: { type: 'sqlite', path: join(mountPoint, 'data', 'gateway.db') },
          extraYaml: 'budgets:\n  - { id: per-user, scope: { user: "*" }, limit_usd: 5, period: daily }',
        },
        mountPoint,
      ),
      env: {},
      logger: createLogger('info', sink),
    });
  });
  afterAll(async () => {
    await gateway?.close().catch(() => {});
    await mock?.close();
    execFileSync('umount', ['-l', mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  });

  let users = 0;
  // Each request under a new user: a new budget line, so the database must grow.
  const chat = async (): Promise<number> => {
    const user = `user-${++users}-${'u'.repeat(200)}`;
    const answer = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${TEST_KEY_2}`,
        'x-gateway-user': user,
      },
      body: JSON.stringify({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 5,
      }),
    });
    await answer.arrayBuffer();
    return answer.status;
  };
  const ready = async () => {
    const answer = await fetch(`${gateway.url}/readyz`);
    return { status: answer.status, body: (await answer.json()) as { status: string; reason?: string } };
  };

  it('fails readiness and logs (rate-limited) while writes fail, recovers when space returns', async () => {
    expect(await chat()).toBe(200);
    expect((await ready()).status).toBe(200);

    const filler = join(mountPoint, 'filler');
    fill(filler);
    const statuses: number[] = [];
    for (let i = 0; i < 300; i++) statuses.push(await chat());
    const failedCount = statuses.filter((s) => s === 503).length;
    const readiness = await ready();
    const errorLines = logs.filter(
      (l) => typeof l.msg === 'string' && /^budget store \w+ failed$/.test(l.msg as string),
    );
    console.log(
      `full disk: ${failedCount}/300 requests 503; /readyz ${readiness.status} ${JSON.stringify(readiness.body)}; ${errorLines.length} store error log lines: ${JSON.stringify(errorLines.slice(0, 2))}`,
    );
    expect(failedCount).toBeGreaterThan(0);
    expect(readiness.status).toBe(503);
    expect(readiness.body.status).toBe('store failing');
    expect(readiness.body.reason).toMatch(/full|disk/i);
    // Logged, but not once per request: at most one line per operation in this short window.
    expect(errorLines.length).toBeGreaterThan(0);
    expect(errorLines.length).toBeLessThanOrEqual(6);

    rmSync(filler);
    const after: number[] = [];
    for (let i = 0; i < 5; i++) after.push(await chat());
    expect(after.at(-1)).toBe(200);
    expect((await ready()).status).toBe(200);
  });
});
