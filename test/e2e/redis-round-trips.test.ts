/**
 * Round trips to Redis per proxied request: a non-streaming request costs exactly two script calls
 * (reserve, settle) and nothing else. Counted by Redis itself (INFO commandstats); the background
 * instance's background work (lease reaper and heartbeat, metadata poll, batched usage history)
 * may run meanwhile, so every command is told apart (MONITOR) and theirs are set aside.
 * The INFO snapshots appear in MONITOR as well, which pins exactly which calls fell between them.
 */
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scripts } from '../../src/store/redis/scripts.js';
import { type StartedRedis, startRedis } from '../helpers/redis.js';
import { eventually, type Stack, startStack, TEST_KEY } from '../helpers/stack.js';

const N = 60;

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');

/** calls per command from INFO commandstats (`cmdstat_evalsha:calls=12,...`). */
function commandCalls(info: string): Map<string, number> {
  const calls = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1]!, Number(match[2]));
  return calls;
}

/**
 * `redis-cli monitor`, one callback per command Redis runs: its source ("lua" for commands a script
 * runs, else the client's address) and its arguments. Resolves once the monitor is attached.
 */
function startMonitor(port: number, onCommand: (source: string, args: string[]) => void) {
  const child = spawn('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'monitor'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const lines = createInterface({ input: child.stdout });
  return new Promise<{ kill(): void }>((resolve, reject) => {
    child.once('error', reject);
    lines.on('line', (line) => {
      if (line === 'OK') return resolve({ kill: () => child.kill() });
      // 1795912354.100191 [0 127.0.0.1:37814] "evalsha" "3f2a..." "2" ...
      const match = /^\S+ \[\d+ ([^\]]+)\] (.*)$/.exec(line);
      if (!match) return;
      const args = [...(match[2] ?? '').matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1] ?? '');
      onCommand(match[1] ?? '', args);
    });
  });
}

describe('Redis round trips per proxied request', () => {
  let redis: StartedRedis;
  let stack: Stack;
  const prefix = `rt-${randomUUID()}`;
  const tag = `{${prefix}}`;
  beforeAll(async () => {
    redis = await startRedis();
    stack = await startStack({
      store: { type: 'redis', url: redis.url, prefix },
      storeExtra: ', timeout_ms: 5000',
      extraYaml: `
budgets:
  - { id: team-web, scope: { team: web }, limit_usd: 100, period: monthly }
  - { id: per-user, scope: { user: "*" }, limit_usd: 10, period: daily }
  - { id: everything, scope: global, limit_usd: 1000, period: monthly }
`,
    });
  });
  afterAll(async () => {
    await stack?.close();
    await redis?.close();
  });

  it(`${N} non-streaming requests on three budgets make exactly ${2 * N} script calls`, async () => {
    const client = stack.openai(TEST_KEY);
    const ask = () =>
      client.chat.completions.create({
        model: 'gpt-4o-mini',
        max_tokens: 64,
        messages: [{ role: 'user', content: 'count my round trips' }],
      });
    // Load every script once (EVALSHA, NOSCRIPT, EVAL), so what follows is one EVALSHA each.
    await ask();
    await stack.gateway.engine.reapNow();

    const admin = new Redis(redis.url);
    await admin.ping();
    /** Commands that crossed the network, in order: the command name and its arguments. */
    const seen: Array<{ command: string; arg?: string; args: string[] }> = [];
    const monitor = await startMonitor(redis.port, (source, args) => {
      // Commands a script runs show with source "lua"; they are not round trips.
      if (source === 'lua') return;
      const command = (args[0] ?? '').toLowerCase();
      seen.push({ command, arg: args[1], args: args.slice(1) });
    });
    try {
      // Two INFO snapshots bracket the traffic, in Redis's own order, seen by MONITOR too.
      const before = commandCalls(await admin.info('commandstats'));
      // Ten at a time: auto-pipelining may batch them; it must not add calls.
      for (let i = 0; i < N; i += 10) await Promise.all(Array.from({ length: 10 }, ask));
      const after = commandCalls(await admin.info('commandstats'));
      await eventually(() => expect(seen.filter((c) => c.command === 'info')).toHaveLength(2));

      const first = seen.findIndex((c) => c.command === 'info');
      const between = seen.slice(
        first + 1,
        seen.findIndex((c, i) => i > first && c.command === 'info'),
      );
      const reserve = between.filter((c) => c.command === 'evalsha' && c.arg === sha1(scripts().reserve.lua));
      const settle = between.filter((c) => c.command === 'evalsha' && c.arg === sha1(scripts().settle.lua));
      // Work that is not on any request's path: the lease reaper and the lease heartbeat (one call
      // per instance every 5 s, whatever the number of requests in flight), the poll of API-made
      // budgets and keys ({p}:meta:*), and usage history written in batches ({p}:hist:*).
      const background = between.filter(
        (c) =>
          (c.command === 'evalsha' && c.arg === sha1(scripts().reap.lua)) ||
          (c.command === 'evalsha' && c.arg === sha1(scripts().renew.lua)) ||
          c.args.some((a) => a.startsWith(`${tag}:meta:`) || a.startsWith(`${tag}:hist:`)),
      );
      expect(reserve).toHaveLength(N);
      expect(settle).toHaveLength(N);
      // Nothing else crossed: no reads, no EVAL fallbacks, no extra writes on the request path.
      const unexplained = between.filter(
        (c) => !reserve.includes(c) && !settle.includes(c) && !background.includes(c),
      );
      expect(unexplained.map((c) => [c.command, ...c.args].join(' ').slice(0, 120))).toEqual([]);
      // Redis's own count agrees with what MONITOR showed.
      const delta = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
      const backgroundOf = (command: string) => background.filter((c) => c.command === command).length;
      expect(delta('evalsha')).toBe(2 * N + backgroundOf('evalsha'));
      expect(delta('eval')).toBe(backgroundOf('eval'));
      console.log(
        `round trips: ${N} requests, ${delta('evalsha')} EVALSHA (${backgroundOf('evalsha')} of them background), ` +
          `${background.length - backgroundOf('evalsha')} other background commands`,
      );
    } finally {
      monitor.kill();
      admin.disconnect();
    }
  });
});
