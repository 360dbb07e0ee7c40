/**
 * What the gateway asks of Redis during a run: calls per command from `INFO commandstats` before
 * and after the measured window, divided by the requests served. The counters are the server's,
 * so they include whatever the other gateways on the same redis-server sent meanwhile (lease
 * renewals every few seconds: noise well below one call per request).
 */
import type { Redis } from 'ioredis';
import type { RunFigures } from './report.js';

/**
 * Commands the gateway's Redis client sends itself. INFO commandstats also counts the commands a
 * script runs (HINCRBY, ZADD, PUBLISH, ...); those are no round trips, so they are reported apart.
 */
const TOP_LEVEL_COMMANDS = new Set([
  'evalsha',
  'eval',
  'evalsha_ro',
  'eval_ro',
  'script',
  'ping',
  'smembers',
  'subscribe',
]);

/** Calls per command from INFO commandstats (the INFO calls themselves left out). */
export async function commandCalls(redis: Redis): Promise<Map<string, number>> {
  const text = await redis.info('commandstats');
  const calls = new Map<string, number>();
  for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (match[1] !== 'info') calls.set(match[1]!, Number(match[2]));
  }
  return calls;
}

/** The per-request Redis figures of one run from the counters at the window's two edges. */
export function redisFigures(
  before: Map<string, number>,
  after: Map<string, number>,
  requests: number,
  redisCpuSeconds: number,
): NonNullable<RunFigures['redis']> {
  const byCommand: Record<string, number> = {};
  let total = 0;
  let inside = 0;
  for (const [name, calls] of after) {
    const delta = calls - (before.get(name) ?? 0);
    if (delta <= 0) continue;
    if (TOP_LEVEL_COMMANDS.has(name)) {
      byCommand[name] = delta / requests;
      total += delta;
    } else inside += delta;
  }
  return {
    commandsPerRequest: total / requests,
    insideScriptsPerRequest: inside / requests,
    byCommand,
    cpuMsPerRequest: (redisCpuSeconds * 1000) / requests,
  };
}
