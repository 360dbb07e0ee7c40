/**
 * Gateways as child processes (`node --import tsx src/main.ts serve --config FILE`), for tests
 * that need several instances, a SIGKILL or a restart: what a deployment does, not an in-process
 * stand-in. Each child gets a free PORT; its output is kept and printed only when the test fails.
 * Children still running when the test ends are killed, and every one is killed if the test
 * process exits.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onTestFailed, onTestFinished } from 'vitest';
import { freePort } from './ports.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Enough of a child's output to explain a failure. */
const OUTPUT_LIMIT = 64 * 1024;
// Generous: a busy 2-core machine running several suites at once can take long to boot tsx.
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

export interface GatewayProcess {
  /** e.g. http://127.0.0.1:41234 (OpenAI base URL is `${url}/v1`). */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Sends a signal (default SIGTERM) without waiting. */
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM, then waits for the exit (SIGKILL past a deadline); resolves with the exit code. */
  stop(): Promise<number | null>;
  /** Resolves with the exit code (null when a signal ended it) once the process is gone. */
  readonly exited: Promise<number | null>;
  /** What the child wrote to stdout and stderr so far (the tail, when long). */
  output(): string;
}

const alive = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of alive) child.kill('SIGKILL');
});

/**
 * Writes `configText` to a temp file and serves it from a child process on a free port; resolves
 * once GET /healthz answers. `env` is added to the test process's environment (PORT is set here).
 */
export async function spawnGateway(
  configText: string,
  env: Record<string, string> = {},
): Promise<GatewayProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'gw-proc-'));
  const configPath = join(dir, 'gateway.yaml');
  writeFileSync(configPath, configText);
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve', '--config', configPath], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  alive.add(child);
  let output = '';
  const keep = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    if (output.length > OUTPUT_LIMIT) output = output.slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      alive.delete(child);
      rmSync(dir, { recursive: true, force: true });
      resolve(code);
    });
    child.once('error', () => resolve(null));
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn the gateway process');

  const url = `http://127.0.0.1:${port}`;
  const gateway: GatewayProcess = {
    url,
    port,
    pid,
    exited,
    output: () => output,
    kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    async stop() {
      gateway.kill('SIGTERM');
      const timer = setTimeout(() => gateway.kill('SIGKILL'), STOP_TIMEOUT_MS);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  registerCleanup(gateway);

  try {
    await waitForHealth(url, exited);
  } catch (error) {
    gateway.kill('SIGKILL');
    await exited;
    throw new Error(`${(error as Error).message}\n--- gateway output ---\n${output}`);
  }
  return gateway;
}

/** Inside a test: print the output when it fails, and stop the child when it ends. */
function registerCleanup(gateway: GatewayProcess): void {
  try {
    onTestFailed(() => {
      process.stderr.write(
        `\n--- gateway pid ${gateway.pid} (${gateway.url}) output ---\n${gateway.output()}\n`,
      );
    });
    onTestFinished(async () => {
      await gateway.stop();
    });
  } catch {
    // Called from a hook rather than a test: the caller stops it (and process exit kills it).
  }
}

async function waitForHealth(url: string, exited: Promise<number | null>): Promise<void> {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (gone) throw new Error('the gateway process exited during start-up');
    try {
      const response = await fetch(`${url}/healthz`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the gateway at ${url} did not become healthy in time`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
