/**
 * Real redis-server processes for tests and benchmarks, on free ports (never 6379), with their
 * data in a temporary directory that is removed on stop.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.js';

const exec = promisify(execFile);

/** Data directories of servers still around; removed when the test process exits. */
const dirs = new Set<string>();
/** Servers still running; killed when the test process exits so none outlives it. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), name));
  dirs.add(dir);
  return dir;
}

function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

export interface StartedRedis {
  port: number;
  url: string;
  /** The server's pid (for CPU accounting in benchmarks). */
  pid(): number | undefined;
  /**
   * Shuts down saving its data to disk (SHUTDOWN SAVE), so restart() brings it back. The data
   * directory stays until close() or the end of the test process.
   */
  stop(): Promise<void>;
  /** Starts the server again on the same port and directory (loading what stop() saved). */
  restart(): Promise<void>;
  /** SIGKILL: the data is lost. */
  kill(): void;
  /** Stops the server for good and removes its directory. */
  close(): Promise<void>;
}

export interface StartedCluster {
  nodes: Array<{ host: string; port: number }>;
  stop(): Promise<void>;
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await exec('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], {
    timeout: 10_000,
  });
  return stdout;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function spawnServer(port: number, dir: string, extra: string[] = []): ChildProcess {
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--save',
      '',
      '--appendonly',
      'no',
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      ...extra,
    ],
    { stdio: 'ignore' },
  );
  child.on('error', () => {});
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function startServer(port: number, dir: string, extra: string[] = []): Promise<ChildProcess> {
  const child = spawnServer(port, dir, extra);
  await waitFor(`redis-server on port ${port}`, async () => {
    if (child.exitCode !== null) throw new Error('exited');
    return (await cli(port, 'PING')).trim() === 'PONG';
  });
  return child;
}

export async function startRedis(): Promise<StartedRedis> {
  const port = await freePort();
  if (port === 6379) throw new Error('refusing port 6379');
  const dir = tempDir('gw-redis-');
  let child: ChildProcess | undefined = await startServer(port, dir);
  const stop = async () => {
    if (!child) return;
    const c = child;
    child = undefined;
    await cli(port, 'SHUTDOWN', 'SAVE').catch(() => c.kill('SIGTERM'));
    await exited(c);
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pid: () => child?.pid,
    stop,
    async restart() {
      if (child) await stop();
      child = await startServer(port, dir);
    },
    kill() {
      child?.kill('SIGKILL');
      child = undefined;
    },
    async close() {
      if (child) {
        const c = child;
        child = undefined;
        c.kill('SIGKILL');
        await exited(c);
      }
      removeDir(dir);
    },
  };
}

/** Three masters, no replicas, all 16384 slots assigned; resolves once cluster_state is ok everywhere. */
export async function startRedisCluster(): Promise<StartedCluster> {
  const dir = tempDir('gw-redis-cluster-');
  const ports: number[] = [];
  while (ports.length < 3) {
    const p = await freePort();
    // A cluster node also listens on port + 10000 (the bus): keep both ports clear of 6379.
    if (p !== 6379 && p + 10000 < 65536 && !ports.includes(p)) ports.push(p);
  }
  const children: ChildProcess[] = [];
  const stop = async () => {
    for (const c of children) c.kill('SIGKILL');
    await Promise.all(children.map(exited));
    removeDir(dir);
  };
  try {
    for (const port of ports) {
      children.push(
        await startServer(port, dir, [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, `nodes-${port}.conf`),
          '--cluster-node-timeout',
          '2000',
        ]),
      );
    }
    await exec(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { timeout: 30_000 },
    );
    for (const port of ports) {
      await waitFor(`cluster_state:ok on ${port}`, async () =>
        (await cli(port, 'CLUSTER', 'INFO')).includes('cluster_state:ok'),
      );
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes: ports.map((port) => ({ host: '127.0.0.1', port })), stop };
}
