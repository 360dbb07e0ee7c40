/**
 * The processes a bench run starts (mock provider, gateways, bare proxy, load generator), how to
 * wait for them, stop them, and read their CPU time and memory from /proc (Linux).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on Linux). */
const TICKS_PER_SECOND = 100;

export interface Started {
  name: string;
  child: ChildProcess;
  pid: number;
  url: string;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export function track(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** SIGTERM, then SIGKILL after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited(child);
  clearTimeout(timer);
}

/**
 * Spawns `node <args>` with its output going to `logFile`, and resolves once `ready()` says so
 * (polled), failing early if the process exits.
 */
export async function startNode(options: {
  name: string;
  args: string[];
  execArgv?: string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  ready: () => Promise<string | undefined>;
  timeoutMs?: number;
}): Promise<Started> {
  const log = openSync(options.logFile, 'a');
  const child = spawn(process.execPath, [...(options.execArgv ?? []), ...options.args], {
    stdio: ['ignore', log, log],
    env: options.env ?? process.env,
  });
  track(child);
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${options.name} exited during start-up; see ${options.logFile}`);
    }
    const url = await options.ready().catch(() => undefined);
    if (url) {
      return { name: options.name, child, pid: child.pid!, url, stop: () => stopChild(child) };
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${options.name} did not come up in time; see ${options.logFile}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The first `http://...` URL printed in a log file after `marker`, if any yet. */
export function urlInLog(logFile: string, marker: string): string | undefined {
  const text = readFileSync(logFile, 'utf8');
  const at = text.indexOf(marker);
  if (at < 0) return undefined;
  return /http:\/\/[^\s"]+/.exec(text.slice(at))?.[0];
}

/** True once GET url answers 200. */
export async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

/** utime + stime of a process (all its threads), seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the name: state is field 3 of the man page; utime and stime are fields 14 and 15.
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Resident memory now (VmRSS) and at its peak so far (VmHWM), MB. */
export function memoryMb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}
