/**
 * Config reload: POST /admin/config/reload, the file watch, and SIGHUP on a served process. A valid
 * file applies at once; an invalid one keeps the running config and lists its problems; requests
 * in flight finish under the config they started with; API-made budgets survive reloads (and step
 * aside, with reasons, when the file no longer fits them).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../../src/gateway.js';
import { type MockProvider, startMockProvider } from '../../src/mock/server.js';
import { pricePerMillionToPico } from '../../src/money.js';
import type { RequestRecord } from '../../src/record.js';
import type { ReloadResult } from '../../src/registry/registry.js';
import { adminCall, problemFields } from '../helpers/admin.js';
import { freePort } from '../helpers/ports.js';
import {
  ANTHROPIC_UPSTREAM_KEY,
  baseConfigYaml,
  eventually,
  OPENAI_UPSTREAM_KEY,
  TEST_KEY,
  TEST_KEY_2,
} from '../helpers/stack.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MINI_PRICES = 'gpt-4o-mini: { provider: openai, input: 0.15, output: 0.60,';

let mock: MockProvider;
beforeAll(async () => {
  mock = await startMockProvider({
    openaiApiKey: OPENAI_UPSTREAM_KEY,
    anthropicApiKey: ANTHROPIC_UPSTREAM_KEY,
  });
});
afterAll(async () => {
  await mock?.close();
});

interface FileGateway {
  gateway: Gateway;
  path: string;
  records: RequestRecord[];
  /** Every reload attempt's result, in order (file watch, SIGHUP, admin API). */
  reloads: ReloadResult[];
  /** Rewrites the config file: the stack's base config plus `extraYaml`, edited by `edit`. */
  write(extraYaml: string, edit?: (yaml: string) => string): void;
  openai(): OpenAI;
  close(): Promise<void>;
}

function configText(dir: string, extraYaml: string, edit: (yaml: string) => string = (y) => y): string {
  return edit(baseConfigYaml(mock.url, { extraYaml }, dir));
}

async function fileGateway(extraYaml: string, watchConfig = false): Promise<FileGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'llmgw-reload-'));
  const path = join(dir, 'gateway.yaml');
  writeFileSync(path, configText(dir, extraYaml));
  const records: RequestRecord[] = [];
  const reloads: ReloadResult[] = [];
  const gateway = await startGateway({
    configPath: path,
    env: {},
    watchConfig,
    onRecord: (r) => records.push(r),
    onReload: (result) => reloads.push(result),
  });
  return {
    gateway,
    path,
    records,
    reloads,
    write: (extra, edit) => writeFileSync(path, configText(dir, extra, edit)),
    openai: () => new OpenAI({ apiKey: TEST_KEY, baseURL: `${gateway.url}/v1`, maxRetries: 0 }),
    async close() {
      await gateway.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const budgetsYaml = (limit: number, extra = '') => `
budgets:
  - { id: web-monthly, scope: { team: web }, limit_usd: ${limit}, period: monthly }
${extra}`;

const limitOf = async (gateway: { url: string }, id: string) =>
  (await adminCall(gateway, 'GET', `/admin/budgets/${id}`)).body.limit_usd;

describe('POST /admin/config/reload', () => {
  let fg: FileGateway;
  beforeAll(async () => {
    fg = await fileGateway(budgetsYaml(100));
  });
  afterAll(async () => {
    await fg?.close();
  });

  it('applies a changed file at once', async () => {
    fg.write(budgetsYaml(200, '  - { id: added, scope: global, limit_usd: 7 }'));
    const answer = await adminCall(fg.gateway, 'POST', '/admin/config/reload');
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ status: 'reloaded', warnings: [] });
    expect(await limitOf(fg.gateway, 'web-monthly')).toBe(200);
    expect(await limitOf(fg.gateway, 'added')).toBe(7);
  });

  it('keeps the running config on an invalid file and lists every problem', async () => {
    fg.write(budgetsYaml(-1), (yaml) => yaml.replace('port: 0', 'port: "eighty"'));
    const answer = await adminCall(fg.gateway, 'POST', '/admin/config/reload');
    expect(answer.status).toBe(400);
    expect(problemFields(answer)).toEqual(['budgets[0].limit_usd', 'server.port']);
    expect(await limitOf(fg.gateway, 'web-monthly')).toBe(200);
    await fg
      .openai()
      .chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });

    fg.write('budgets: [ { id: broken');
    const yaml = await adminCall(fg.gateway, 'POST', '/admin/config/reload');
    expect(yaml.status).toBe(400);
    expect(new Set(problemFields(yaml))).toEqual(new Set(['yaml']));
    expect(await limitOf(fg.gateway, 'web-monthly')).toBe(200);
  });

  it('says which changes need a restart', async () => {
    fg.write(budgetsYaml(300), (yaml) =>
      yaml.replace('store: { type: sqlite, path:', 'store: { type: sqlite, timeout_ms: 900, path:'),
    );
    const answer = await adminCall(fg.gateway, 'POST', '/admin/config/reload');
    expect(answer.status).toBe(200);
    expect(answer.body.warnings).toEqual([expect.stringMatching(/^store: /)]);
    expect(await limitOf(fg.gateway, 'web-monthly')).toBe(300);
  });
});

describe('API-made budgets across reloads', () => {
  let fg: FileGateway;
  beforeAll(async () => {
    fg = await fileGateway(budgetsYaml(100));
  });
  afterAll(async () => {
    await fg?.close();
  });

  it('an API budget the new file no longer fits is inactive, with why, until the file fits again', async () => {
    const created = await adminCall(fg.gateway, 'POST', '/admin/budgets', {
      id: 'gpt-4o-cap',
      scope: { model: 'gpt-4o' },
      limit_usd: 0.000001,
    });
    expect(created.status).toBe(201);
    const call = () =>
      fg
        .openai()
        .chat.completions.create({
          model: 'gpt-4o',
          messages: [{ role: 'user', content: 'hi' }],
          max_tokens: 10,
        })
        .then(
          () => 200,
          (e: { status: number }) => e.status,
        );
    expect(await call()).toBe(429);

    fg.write(budgetsYaml(100), (yaml) => yaml.replace(/^ {2}gpt-4o: .*$/m, ''));
    expect((await adminCall(fg.gateway, 'POST', '/admin/config/reload')).status).toBe(200);
    const inactive = (await adminCall(fg.gateway, 'GET', '/admin/budgets/gpt-4o-cap')).body;
    expect(inactive).toMatchObject({ active: false, problems: ['scope.model: unknown model gpt-4o'] });
    expect(await call()).toBe(404); // the model is gone; the budget does not get in the way of anything

    fg.write(budgetsYaml(100));
    expect((await adminCall(fg.gateway, 'POST', '/admin/config/reload')).status).toBe(200);
    expect((await adminCall(fg.gateway, 'GET', '/admin/budgets/gpt-4o-cap')).body.active).toBe(true);
    expect(await call()).toBe(429);
    await adminCall(fg.gateway, 'DELETE', '/admin/budgets/gpt-4o-cap');
  });

  it('a file budget of the same id takes precedence; the API one stays deletable', async () => {
    await adminCall(fg.gateway, 'POST', '/admin/budgets', { id: 'twin', scope: 'global', limit_usd: 1 });
    fg.write(budgetsYaml(100, '  - { id: twin, scope: global, limit_usd: 9 }'));
    expect((await adminCall(fg.gateway, 'POST', '/admin/config/reload')).status).toBe(200);
    const one = await adminCall(fg.gateway, 'GET', '/admin/budgets/twin');
    expect(one.body).toMatchObject({ source: 'config', limit_usd: 9 });
    const listed = (await adminCall(fg.gateway, 'GET', '/admin/budgets')).body.budgets.filter(
      (b: { id: string }) => b.id === 'twin',
    );
    expect(listed.map((b: { source: string; active: boolean }) => [b.source, b.active])).toEqual([
      ['config', true],
      ['api', false],
    ]);
    expect((await adminCall(fg.gateway, 'DELETE', '/admin/budgets/twin')).status).toBe(200);
    expect((await adminCall(fg.gateway, 'DELETE', '/admin/budgets/twin')).status).toBe(409);
  });
});

describe('file watch', () => {
  it('reloads when the file changes, and ignores an invalid version of it', async () => {
    const fg = await fileGateway(budgetsYaml(100), true);
    try {
      fg.write(budgetsYaml(150));
      await eventually(async () => expect(await limitOf(fg.gateway, 'web-monthly')).toBe(150));
      fg.write(budgetsYaml(-5));
      fg.write(budgetsYaml(175)); // a burst: only the content after it counts
      await eventually(async () => expect(await limitOf(fg.gateway, 'web-monthly')).toBe(175));
      const refusedBefore = fg.reloads.filter((r) => !r.ok).length;
      fg.write(budgetsYaml(-5));
      // The watch tries the invalid file (a refused reload), and the running config stays.
      await eventually(() => expect(fg.reloads.filter((r) => !r.ok).length).toBe(refusedBefore + 1));
      expect(await limitOf(fg.gateway, 'web-monthly')).toBe(175);
    } finally {
      await fg.close();
    }
  });
});

/** The child logs at info, so the test reads what each reload did from its output. */
const loggedAtInfo = (yaml: string) => yaml.replace('log_level: silent', 'log_level: info');

describe('SIGHUP', () => {
  it('reloads a served gateway (file watch off)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmgw-sighup-'));
    const path = join(dir, 'gateway.yaml');
    writeFileSync(path, configText(dir, budgetsYaml(100), loggedAtInfo));
    const port = await freePort();
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/main.ts', 'serve', '--config', path, '--no-watch'],
      {
        cwd: ROOT,
        env: { ...process.env, PORT: String(port) },
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    // The child's log lines (JSON): a reload says what it did, so the test waits on that, not a timer.
    const logged: string[] = [];
    let partial = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        const msg = (JSON.parse(line) as { msg?: string }).msg;
        if (msg) logged.push(msg);
      }
    });
    const reloadsLogged = () => logged.filter((m) => m.startsWith('config reload'));
    const gateway = { url: `http://127.0.0.1:${port}` };
    try {
      await eventually(async () => expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200), 30_000);
      writeFileSync(path, configText(dir, budgetsYaml(250), loggedAtInfo));
      // Without the watch, nothing changes until the signal: the write itself reloads nothing.
      expect(await limitOf(gateway, 'web-monthly')).toBe(100);
      child.kill('SIGHUP');
      await eventually(async () => expect(await limitOf(gateway, 'web-monthly')).toBe(250));
      // Exactly one reload, the signal's: no watcher saw the write. (The log line travels through
      // a pipe, so it may arrive just after the admin API shows the new limit.)
      await eventually(() => expect(reloadsLogged()).toEqual(['config reloaded']));
      // An invalid file on SIGHUP: the process keeps serving the old config.
      writeFileSync(path, configText(dir, budgetsYaml(-1), loggedAtInfo));
      child.kill('SIGHUP');
      await eventually(() => expect(reloadsLogged()).toHaveLength(2));
      expect(reloadsLogged()[1]).toMatch(/^config reload failed/);
      expect(await limitOf(gateway, 'web-monthly')).toBe(250);
      expect(child.exitCode).toBeNull();
    } finally {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('reload under load', () => {
  it('changes prices and budgets with requests in flight: none fails; each is priced by the config it started under', async () => {
    const fg = await fileGateway(
      budgetsYaml(100, '  - { id: load-global, scope: global, limit_usd: 1000, period: none }'),
    );
    try {
      const failures: unknown[] = [];
      const call = (client: OpenAI) =>
        client.chat.completions
          .create({
            model: 'gpt-4o-mini',
            messages: [{ role: 'user', content: 'count to three' }],
            max_tokens: 40,
          })
          .catch((error: unknown) => failures.push(error));
      const sdk = (key: string, headers: Record<string, string>) =>
        new OpenAI({ apiKey: key, baseURL: `${fg.gateway.url}/v1`, maxRetries: 0, defaultHeaders: headers });

      // Steady traffic on key alpha: eight loops of short requests.
      const fast = sdk(TEST_KEY, { 'x-mock-latency-ms': '30', 'x-mock-output-tokens': '12' });
      let stop = false;
      const workers = Array.from({ length: 8 }, async () => {
        while (!stop) await call(fast);
      });
      // Reload once traffic flows (the first requests also warm the tokenizer up).
      await eventually(() => expect(fg.records.length).toBeGreaterThanOrEqual(24), 20_000);

      // Slow requests on key bravo, upstream (so admitted under the old config) when the reload runs.
      const slowId = randomUUID();
      const slowCalls = Array.from({ length: 4 }, () =>
        call(
          sdk(TEST_KEY_2, {
            'x-mock-latency-ms': '1500',
            'x-mock-output-tokens': '12',
            'x-mock-test-slow': slowId,
          }),
        ),
      );
      await eventually(() =>
        expect(mock.served.filter((r) => r.headers['x-mock-test-slow'] === slowId)).toHaveLength(4),
      );

      // Ten times the prices, a higher limit, and a new budget.
      fg.write(
        budgetsYaml(
          100,
          '  - { id: load-global, scope: global, limit_usd: 2000, period: none }\n  - { id: after-reload, scope: global, limit_usd: 1000, period: none }',
        ),
        (yaml) => yaml.replace(MINI_PRICES, 'gpt-4o-mini: { provider: openai, input: 1.50, output: 6.00,'),
      );
      const reloadStart = Date.now();
      const answer = await adminCall(fg.gateway, 'POST', '/admin/config/reload');
      const reloadEnd = Date.now();
      expect(answer.status).toBe(200);
      await eventually(
        () => expect(fg.records.filter((r) => r.timeMs > reloadEnd).length).toBeGreaterThanOrEqual(24),
        20_000,
      );
      stop = true;
      await Promise.all([...workers, ...slowCalls]);

      expect(failures).toEqual([]);
      const records = fg.records.filter((r) => r.endpoint === '/v1/chat/completions');
      expect(records.every((r) => r.status === 200)).toBe(true);
      const costAt = (r: RequestRecord, input: number, output: number) =>
        Math.ceil(
          (r.inputTokens * pricePerMillionToPico(input) + r.outputTokens * pricePerMillionToPico(output)) /
            1000,
        );
      const before = records.filter((r) => r.timeMs < reloadStart);
      const after = records.filter((r) => r.timeMs > reloadEnd);
      const unsure = records.filter((r) => r.timeMs >= reloadStart && r.timeMs <= reloadEnd);
      const slow = records.filter((r) => r.keyId === 'bravo');
      expect(before.length).toBeGreaterThanOrEqual(24);
      expect(after.length).toBeGreaterThanOrEqual(24);
      for (const r of before) expect(r.costNano).toBe(costAt(r, 0.15, 0.6));
      for (const r of after) expect(r.costNano).toBe(costAt(r, 1.5, 6));
      for (const r of unsure) expect([costAt(r, 0.15, 0.6), costAt(r, 1.5, 6)]).toContain(r.costNano);
      // In flight across the whole reload: finished under the config they started with.
      expect(slow).toHaveLength(4);
      for (const r of slow) {
        expect(r.timeMs).toBeLessThan(reloadStart);
        expect(r.timeMs + r.latencyMs).toBeGreaterThan(reloadEnd);
        expect(r.costNano).toBe(costAt(r, 0.15, 0.6));
      }

      // The new budget counts exactly the requests admitted under the new config.
      const sum = (rs: RequestRecord[]) => rs.reduce((total, r) => total + r.costNano, 0);
      const added = (await adminCall(fg.gateway, 'GET', '/admin/budgets/after-reload')).body.balance;
      expect(added.spent_usd * 1e9).toBeGreaterThanOrEqual(sum(after) - 1);
      expect(added.spent_usd * 1e9).toBeLessThanOrEqual(sum(after) + sum(unsure) + 1);
      expect(added.reserved_usd).toBe(0);
      const global = (await adminCall(fg.gateway, 'GET', '/admin/budgets/load-global')).body;
      expect(global.limit_usd).toBe(2000);
      expect(global.balance.spent_usd * 1e9).toBeCloseTo(sum(records), -1);
    } finally {
      await fg.close();
    }
  }, 60_000);
});
