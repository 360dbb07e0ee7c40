/**
 * Real PostgreSQL servers for tests and benchmarks (Debian's `postgresql` package), on free ports
 * (never 5432), as the `postgres` user when the tests run as root (postgres refuses to run as
 * root), with the data directory and the unix socket in a temporary directory removed on close.
 * Trust authentication on 127.0.0.1 only: the server lives as long as the test.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './ports.js';

const exec = promisify(execFile);

const dirs = new Set<string>();
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The newest installed server's bin directory (/usr/lib/postgresql/<major>/bin), or undefined. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((name) => existsSync(join(root, name, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] === undefined ? undefined : join(root, majors[0], 'bin');
}

/** The account the server runs as: postgres refuses root, so root runs it as `postgres`. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => {
    const out = execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim();
    if (!/^\d+$/.test(out)) throw new Error('no "postgres" account: install the postgresql package');
    return Number(out);
  };
  return { uid: id('-u'), gid: id('-g') };
}

export interface StartedPostgres {
  port: number;
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  /** A fresh, empty database on this server; resolves with its URL. */
  createDatabase(name?: string): Promise<string>;
  pid(): number | undefined;
  /** Fast shutdown (SIGINT); the data directory stays, so start() brings the data back. */
  stop(): Promise<void>;
  /** Starts the server again on the same port and data directory. */
  start(): Promise<void>;
  /** SIGKILL (crash); start() recovers from the WAL. */
  kill(): void;
  /** Stops for good and removes the data directory. */
  close(): Promise<void>;
}

let databases = 0;

export async function startPostgres(): Promise<StartedPostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL is not installed (Debian package postgresql; .ci/run installs it)');
  const port = await freePort();
  if (port === 5432) throw new Error('refusing port 5432');
  const dir = mkdtempSync(join(tmpdir(), 'gw-pg-'));
  dirs.add(dir);
  const data = join(dir, 'data');
  const user = serverUser();
  chmodSync(dir, 0o700);
  if (user) chownSync(dir, user.uid, user.gid);
  await exec(
    join(bin, 'initdb'),
    ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'],
    { uid: user?.uid, gid: user?.gid, timeout: 60_000 },
  );
  let child: ChildProcess | undefined;
  const spawnServer = () => {
    const c = spawn(
      join(bin, 'postgres'),
      [
        '-D',
        data,
        '-p',
        String(port),
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        `unix_socket_directories=${dir}`,
        // A test server: durability is not what is tested, speed on a shared 2-core machine is.
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
        '-c',
        'shared_buffers=32MB',
        '-c',
        'max_connections=100',
      ],
      { uid: user?.uid, gid: user?.gid, stdio: 'ignore' },
    );
    c.on('error', () => {});
    running.add(c);
    c.once('exit', () => running.delete(c));
    return c;
  };
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const ready = async () => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child?.exitCode !== null && child?.exitCode !== undefined) throw new Error('postgres exited');
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
      try {
        await client.connect();
        await client.query('SELECT 1');
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`timed out waiting for postgres on port ${port}`);
        await new Promise((r) => setTimeout(r, 100));
      } finally {
        await client.end().catch(() => {});
      }
    }
  };
  const exited = (c: ChildProcess) =>
    c.exitCode !== null || c.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((resolve) => c.once('exit', () => resolve()));
  const start = async () => {
    if (child) return;
    child = spawnServer();
    await ready();
  };
  const stop = async () => {
    const c = child;
    if (!c) return;
    child = undefined;
    c.kill('SIGINT'); // fast shutdown: connections are cut, data is kept
    await exited(c);
  };
  await start();
  return {
    port,
    url,
    async createDatabase(name = `t${process.pid}_${++databases}_${Date.now() % 1e6}`) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${name}"`);
      } finally {
        await client.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    pid: () => child?.pid,
    stop,
    start,
    kill() {
      child?.kill('SIGKILL');
      child = undefined;
    },
    async close() {
      const c = child;
      child = undefined;
      if (c) {
        c.kill('SIGKILL');
        await exited(c);
      }
      rmSync(dir, { recursive: true, force: true });
      dirs.delete(dir);
    },
  };
}
