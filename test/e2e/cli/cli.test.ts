/**
 * The CLI as users run it (a child process): check-config answers 0 for the reference config and 1
 * with every problem by path for broken ones; serve answers /healthz on PORT and exits 0 on SIGTERM.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { freePort } from '../../helpers/ports.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
// Each test starts Node with tsx: seconds on a loaded machine, so a generous upper bound.
vi.setConfig({ testTimeout: 90_000 });
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'llmgw-cli-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The environment of a fresh shell: no provider keys, no admin token, no PORT. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...extra };
  return env;
}

function cli(args: string[], env: NodeJS.ProcessEnv = cleanEnv()): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function collect(child: ChildProcess): {
  output: () => { stdout: string; stderr: string };
  done: Promise<Finished>;
} {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const done = new Promise<Finished>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      // Let the pipes drain.
      setImmediate(() => resolve({ code, signal, stdout, stderr }));
    });
  });
  return { output: () => ({ stdout, stderr }), done };
}

async function run(args: string[], env?: NodeJS.ProcessEnv): Promise<Finished> {
  return collect(cli(args, env)).done;
}

// Separate processes with nothing shared: run them side by side.
describe.concurrent('check-config', () => {
  it('the reference config/gateway.yaml is valid with no environment set: exit 0', async () => {
    const result = await run(['check-config', '--config', 'config/gateway.yaml']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/config\/gateway\.yaml: ok \(27 models, 1 keys, 4 budgets, store sqlite\)/);
    // Every shipped model is priced (YAML or the catalogue).
    expect(result.stdout).not.toContain('no price');
  });

  it('lists the models nobody prices (refused at request time), and still exits 0', async () => {
    const path = join(dir, 'unpriced.yaml');
    writeFileSync(
      path,
      `providers:
  openai: { kind: openai, base_url: https://api.openai.com/v1 }
models:
  gpt-5-mini: { provider: openai }
  in-house-model: { provider: openai }
`,
    );
    const result = await run(['check-config', '--config', path]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('ok (1 models');
    expect(result.stdout).toContain(
      'models with no price in the config or the price catalogue (their requests are refused): in-house-model',
    );
  });

  it('the demo config is valid too', async () => {
    const result = await run(['check-config', '--config', 'config/demo.yaml']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('config/demo.yaml: ok');
  });

  it('a file with shape errors: exit 1 and every problem listed by its path', async () => {
    const file = join(dir, 'bad-shape.yaml');
    writeFileSync(
      file,
      [
        'server: { port: "eighty" }',
        'models:',
        '  gpt-4o: { provider: openai, input: "cheap" }',
        'budgets:',
        '  - { id: ok, scope: global, limit_usd: 5 }',
        '  - { id: broken, scope: global, limit_usd: -5 }',
        'surprise: true',
        '',
      ].join('\n'),
    );
    const result = await run(['check-config', '--config', file]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    const lines = result.stderr.split('\n').filter((line) => line.startsWith('  - '));
    expect(lines).toHaveLength(4);
    expect(result.stderr).toContain(file);
    expect(result.stderr).toMatch(/ {2}- server\.port: /);
    expect(result.stderr).toMatch(/ {2}- models\.gpt-4o\.input: /);
    expect(result.stderr).toContain('  - budgets[1].limit_usd: expected a positive number');
    expect(result.stderr).toMatch(/ {2}- \(root\): .*surprise/);
  });

  it('a file with reference errors: exit 1 and every problem listed by its path', async () => {
    const file = join(dir, 'bad-refs.yaml');
    writeFileSync(
      file,
      [
        'providers:',
        '  openai: { kind: openai, base_url: "http://127.0.0.1:9/v1" }',
        'models:',
        '  m: { provider: nowhere, input: 1 }',
        'keys:',
        '  - { id: no-secret }',
        'budgets:',
        '  - { id: a, scope: global, limit_usd: 5, thresholds: [{ at: 0.8, downgrade: { m: ghost } }] }',
        '  - { id: a, scope: { team: x }, limit_usd: 5, timezone: Mars/Base }',
        '',
      ].join('\n'),
    );
    const result = await run(['check-config', '--config', file]);
    expect(result.code).toBe(1);
    for (const path of [
      'models.m.provider',
      'keys[0]',
      'budgets[0].thresholds[0].downgrade.m',
      'budgets[1].id',
      'budgets[1].timezone',
    ]) {
      expect(result.stderr).toContain(`  - ${path}: `);
    }
  });

  it('a missing environment variable is named', async () => {
    const file = join(dir, 'env.yaml');
    writeFileSync(file, `admin: { token: "\${CLI_TEST_UNSET_TOKEN}" }\n`);
    const result = await run(['check-config', '--config', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('CLI_TEST_UNSET_TOKEN');
  });
});

describe('serve', () => {
  it('serves config/gateway.yaml on PORT, answers /healthz, and exits 0 on SIGTERM', async () => {
    const storePath = join(dir, 'serve', 'gateway.db');
    const config = readFileSync(join(ROOT, 'config/gateway.yaml'), 'utf8').replace(
      'path: ./data/gateway.db',
      `path: "${storePath}"`,
    );
    expect(config).toContain(storePath);
    const file = join(dir, 'serve.yaml');
    writeFileSync(file, config);
    const port = await freePort();
    const child = cli(['serve', '--config', file], cleanEnv({ PORT: String(port) }));
    const { done, output } = collect(child);
    try {
      const health = await waitForHealth(`http://127.0.0.1:${port}/healthz`, done);
      expect(health).toEqual({ status: 'ok' });
      // The sample key of the reference config is known to it (no provider key: a clear 502).
      const models = await fetch(`http://127.0.0.1:${port}/v1/models`, {
        headers: { authorization: 'Bearer sk-gw-demo-web' },
      });
      expect(models.status).toBe(200);
      const chat = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer sk-gw-demo-web', 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: 'hi' }],
          max_tokens: 5,
        }),
      });
      expect(chat.status).toBe(502);
      expect(((await chat.json()) as { error: { code: string } }).error.code).toBe('provider_not_configured');
      child.kill('SIGTERM');
      const result = await done;
      expect(result.signal).toBeNull();
      expect(result.code).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await done.catch(() => undefined);
    }
    // Secrets never reach the log.
    expect(output().stdout + output().stderr).not.toContain('sk-gw-demo-web');
  });

  it('an invalid PORT stops start-up with exit 1', async () => {
    const result = await run(['serve', '--config', 'config/gateway.yaml'], cleanEnv({ PORT: 'eighty' }));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('PORT');
  });
});

async function waitForHealth(url: string, exited: Promise<Finished>): Promise<unknown> {
  let gone: Finished | undefined;
  void exited.then((f) => {
    gone = f;
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (gone) throw new Error(`serve exited early (${gone.code}): ${gone.stderr}`);
    try {
      const response = await fetch(url);
      if (response.ok) return await response.json();
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('serve did not answer /healthz in 60 s');
    await new Promise((r) => setTimeout(r, 100));
  }
}
