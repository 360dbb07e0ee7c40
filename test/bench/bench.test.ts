/**
 * The benchmark's pieces work: the bare proxy and the load generator run as their own processes
 * (from the TypeScript sources, through tsx) against the real mock provider, the generated gateway
 * config is valid and enforces every kind of budget, the figures derive from the runs, the profile
 * summary reads a real V8 profile, and the k6 scripts parse.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoadGenerator } from '../../scripts/bench/load-client.js';
import { meterCost } from '../../scripts/bench/metering-cost.js';
import { type Started, startNode, stopChild, urlInLog } from '../../scripts/bench/procs.js';
import { cpuByPart, topSelfTime } from '../../scripts/bench/profile.js';
import type { LoadResult, LoadSpec } from '../../scripts/bench/protocol.js';
import { siblingModule } from '../../scripts/bench/protocol.js';
import { derive, formatIssueFigures, meteringFigures, type RunFigures } from '../../scripts/bench/report.js';
import { summarize } from '../../scripts/bench/stats.js';
import {
  BENCH_KEY,
  gatewayConfigYaml,
  longStream,
  smallChat,
  streamedChat,
} from '../../scripts/bench/workload.js';
import { parseConfig } from '../../src/config/load.js';
import { type MockProvider, startMockProvider } from '../../src/mock/server.js';

let dir: string;
let mock: MockProvider;
let bare: Started;
let load: LoadGenerator;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'llmgw-bench-test-'));
  mock = await startMockProvider();
  const module = siblingModule('bare-proxy');
  const logFile = join(dir, 'bare.log');
  bare = await startNode({
    name: 'bare proxy',
    args: [module.path, '--port', '0', '--upstream', mock.url],
    execArgv: module.execArgv,
    logFile,
    ready: async () => urlInLog(logFile, 'listening on'),
  });
  load = new LoadGenerator();
  // A cold start (the load process, its connections, the proxy's first requests) is not what the
  // tests measure: one short run first, so a busy machine still completes requests in each window.
  await load.run(
    { origin: bare.url, request: smallChat('bare'), concurrency: 1, warmupMs: 0, durationMs: 200 },
    () => {},
  );
});

afterAll(async () => {
  await load?.close();
  if (bare) await stopChild(bare.child);
  await mock?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function run(spec: LoadSpec): Promise<{ result: LoadResult; edges: string[] }> {
  const edges: string[] = [];
  const result = await load.run(spec, (edge) => edges.push(edge));
  return { result, edges };
}

describe('bare proxy + load generator (a one-second run)', () => {
  it('relays every request to the mock and measures each one', async () => {
    mock.reset();
    const { result, edges } = await run({
      origin: bare.url,
      request: smallChat('bare'),
      concurrency: 4,
      warmupMs: 200,
      durationMs: 800,
    });
    expect(edges).toEqual(['start', 'end']);
    expect(result.errors).toBe(0);
    // How many fit in the window depends on the machine: the run must measure some, not many.
    expect(result.requests).toBeGreaterThan(0);
    expect(result.rps).toBeCloseTo(result.requests / 0.8, 6);
    expect(result.latency.count).toBeGreaterThan(0);
    expect(result.latency.p50).toBeGreaterThan(0);
    expect(result.latency.p99).toBeGreaterThanOrEqual(result.latency.p50);
    // Warm-up requests went through too: the mock saw at least every measured one.
    expect(mock.served.length).toBeGreaterThanOrEqual(result.requests);
    const served = mock.served.filter((r) => r.completed && r.status === 200);
    expect(served.length).toBe(mock.served.length);
    // {{seq}} makes each prompt distinct, so nothing downstream can answer from a prompt cache.
    const prompts = new Set(served.map((r) => JSON.stringify((r.body as { messages: unknown }).messages)));
    expect(prompts.size).toBe(served.length);
  });

  it('times the first chunk of a stream and sends one user per request when asked', async () => {
    mock.reset();
    const { result } = await run({
      origin: bare.url,
      request: streamedChat('bare'),
      concurrency: 2,
      warmupMs: 100,
      durationMs: 500,
      distinctUsers: 3,
    });
    expect(result.errors).toBe(0);
    expect(result.ttfb?.count).toBe(result.latency.count);
    expect(result.ttfb!.p50).toBeLessThanOrEqual(result.latency.p50);
    const streamed = mock.served.filter((r) => r.stream);
    expect(streamed.length).toBe(mock.served.length);
    expect(streamed.every((r) => r.outputTokensSent === 50)).toBe(true);
    // Users go round u0, u1, u2: as many of them as there were requests, up to three.
    const users = new Set(mock.served.map((r) => r.headers['x-gateway-user']));
    const expected = ['u0', 'u1', 'u2'].slice(0, Math.min(3, mock.served.length));
    expect(users).toEqual(new Set(expected));
  });

  it('counts failures instead of timing them', async () => {
    const request = smallChat('bare');
    const { result } = await run({
      origin: bare.url,
      request: { ...request, headers: { ...request.headers, 'x-mock-fail': 'status:500' } },
      concurrency: 2,
      warmupMs: 0,
      durationMs: 300,
    });
    expect(result.errors).toBeGreaterThan(0);
    expect(result.requests).toBe(0);
    expect(result.latency.count).toBe(0);
    expect(result.errorSamples[0]).toMatch(/^500 /);
  });
});

describe('gateway config of the bench', () => {
  it('is valid and puts key, team, per-user and global budgets on every request', () => {
    const config = parseConfig(
      gatewayConfigYaml({ mockUrl: mock.url, store: { type: 'sqlite', path: join(dir, 'g.db') } }),
      'bench',
    );
    const scopes = config.budgets.map((b) => b.id).sort();
    expect(scopes).toEqual(['bench-key', 'bench-team', 'everything', 'per-user']);
    expect([...config.keysByHash.values()].map((k) => k.id)).toEqual(['bench']);
    expect(smallChat('gateway-redis').headers.authorization).toBe(`Bearer ${BENCH_KEY}`);
    const redis = parseConfig(
      gatewayConfigYaml({
        mockUrl: mock.url,
        store: { type: 'redis', url: 'redis://127.0.0.1:1', prefix: 'b' },
      }),
      'bench',
    );
    expect(redis.store.type).toBe('redis');
    expect(redis.telemetry.otlp).toBeUndefined();
    const traced = parseConfig(
      gatewayConfigYaml({
        mockUrl: mock.url,
        store: { type: 'redis', url: 'redis://127.0.0.1:1', prefix: 'b' },
        otlpEndpoint: 'http://127.0.0.1:4318',
      }),
      'bench',
    );
    expect(traced.telemetry.otlp).toMatchObject({
      url: 'http://127.0.0.1:4318/v1/traces',
      protocol: 'http/protobuf',
    });
    expect(redis.history.store.type).toBe('same');
    // The Postgres history variant (gateway-redis-pghist): same budgets, history in Postgres.
    const pghist = parseConfig(
      gatewayConfigYaml({
        mockUrl: mock.url,
        store: { type: 'redis', url: 'redis://127.0.0.1:1', prefix: 'b' },
        historyUrl: 'postgres://postgres@127.0.0.1:1/bench',
      }),
      'bench',
    );
    expect(pghist.history.store).toMatchObject({
      type: 'postgres',
      url: 'postgres://postgres@127.0.0.1:1/bench',
    });
    expect(pghist.budgets.map((b) => b.id).sort()).toEqual(scopes);
    // The unmetered twin (gateway-redis-unmetered): metering off, everything else the same.
    expect(redis.budgeting.sliceTokens).toBe(1024);
    const unmetered = parseConfig(
      gatewayConfigYaml({
        mockUrl: mock.url,
        store: { type: 'redis', url: 'redis://127.0.0.1:1', prefix: 'b' },
        unmetered: true,
      }),
      'bench',
    );
    expect(unmetered.budgeting.sliceTokens).toBe(0);
    expect(unmetered.budgets.map((b) => b.id).sort()).toEqual(scopes);
  });
});

describe('long streams', () => {
  it('ask the mock for 4,000 tokens under a 16,000 cap, paced or at once, and count cut answers', async () => {
    for (const paced of [true, false]) {
      mock.reset();
      const request = longStream('bare', paced);
      expect(JSON.parse(request.body)).toMatchObject({ max_tokens: 16000, stream: true });
      const { result } = await run({
        origin: bare.url,
        request,
        concurrency: 1,
        warmupMs: 0,
        durationMs: 300,
      });
      expect(result.errors).toBe(0);
      expect(result.cut).toBe(0);
      expect(mock.served.length).toBeGreaterThan(0);
      expect(mock.served.every((r) => r.outputTokensSent === 4000)).toBe(true);
    }
    // An answer that ends at its cap is counted as cut short: the mock ends it so at max_tokens 100.
    mock.reset();
    const long = longStream('bare', false);
    const capped = { ...long, body: long.body.replace('"max_tokens":16000', '"max_tokens":100') };
    const { result } = await run({
      origin: bare.url,
      request: capped,
      concurrency: 1,
      warmupMs: 0,
      durationMs: 200,
    });
    expect(result.errors).toBe(0);
    expect(result.latency.count).toBeGreaterThan(0);
    expect(result.cut).toBe(result.latency.count);
  });
});

describe('figures', () => {
  const result = (p50: number, p99: number, rps: number, ttft?: number): LoadResult => ({
    requests: rps,
    seconds: 1,
    rps,
    errors: 0,
    errorSamples: [],
    latency: { ...summarize([p50]), p50, p99 },
    ...(ttft === undefined ? {} : { ttfb: { ...summarize([ttft]), p50: ttft } }),
  });
  const figure = (
    scenario: RunFigures['scenario'],
    target: RunFigures['target'],
    load: LoadResult,
  ): RunFigures => ({ scenario, concurrency: 1, target, load, cpuMsPerRequest: 0, rssMb: 0, rssPeakMb: 0 });

  it('compares each run with the mock direct, the bare proxy and the run without the large prompt', () => {
    const runs = [
      figure('small', 'direct', result(0.3, 1, 3000)),
      figure('small', 'bare', result(0.5, 2, 2000)),
      figure('small', 'gateway-redis', result(0.9, 4, 1500)),
      figure('large-mix', 'gateway-redis', result(1.0, 7, 1400)),
      figure('stream', 'direct', result(0.6, 2, 1000, 0.4)),
      figure('stream', 'gateway-redis', result(1.2, 3, 700, 0.9)),
    ];
    derive(runs);
    const [, bareRun, gateway, mixed, , stream] = runs;
    expect(bareRun!.addedP50Ms).toBeCloseTo(0.2, 9);
    expect(gateway!.addedP50Ms).toBeCloseTo(0.6, 9);
    expect(gateway!.addedP99Ms).toBeCloseTo(3, 9);
    expect(gateway!.ofBare).toBeCloseTo(0.75, 9);
    expect(mixed!.p99RaiseMs).toBeCloseTo(3, 9);
    expect(stream!.addedTtftP50Ms).toBeCloseTo(0.5, 9);
  });

  it('puts the metered Redis gateway beside its unmetered twin, run by run', () => {
    const redis = (commands: number) => ({
      commandsPerRequest: commands,
      insideScriptsPerRequest: 10,
      byCommand: { evalsha: commands },
      cpuMsPerRequest: 0.1,
    });
    const on = {
      ...figure('long-stream', 'gateway-redis', { ...result(130, 140, 30, 9), cut: 0 }),
      cpuMsPerRequest: 2,
      redis: redis(6.5),
    };
    const off = {
      ...figure('long-stream', 'gateway-redis-unmetered', { ...result(128, 139, 31, 8), cut: 1 }),
      cpuMsPerRequest: 1.5,
      redis: redis(2),
    };
    const lone = figure('stream', 'gateway-redis', result(1, 2, 700, 0.9));
    const figures = meteringFigures([lone, on, off]);
    expect(figures).toHaveLength(1);
    expect(figures[0]).toMatchObject({
      scenario: 'long-stream',
      redisCommandsPerRequest: { metered: 6.5, unmetered: 2 },
      evalshaPerRequest: { metered: 6.5, unmetered: 2 },
      gatewayCpuUsPerRequest: { metered: 2000, unmetered: 1500 },
      p50Ms: { metered: 130, unmetered: 128 },
      ttftP50Ms: { metered: 9, unmetered: 8 },
      cutShare: { metered: 0, unmetered: 1 },
    });
    const text = formatIssueFigures({
      startedAt: '',
      quick: true,
      machine: { cpus: 2, node: 'v20', loadAverage: [] },
      settings: { warmupMs: 0, durationMs: 0, largePromptTokens: 0, gatewayFlags: [] },
      runs: [lone, on, off],
      targets: [],
      metering: figures,
      wallSeconds: 0,
    });
    expect(text).toContain('Issue 17');
    expect(text).toContain('Redis commands 6.50 vs 2.00 per request');
    expect(text).toContain('ttft p50 9.00 vs 8.00 ms');
  });
});

describe('output meter cost', () => {
  it('relays each 4k-token answer whole through the meter: three extensions after the first slice', async () => {
    const figure = await meterCost(3);
    expect(figure.answers).toBe(3);
    // 1,024 held, asked half a slice ahead: at 512, 1,536 and 2,560 relayed tokens.
    expect(figure.extensionsPerAnswer).toBe(3);
    expect(Number.isFinite(figure.addedCpuUs)).toBe(true);
  });
});

describe('profile summary', () => {
  it('lists the busiest functions of a real V8 CPU profile', () => {
    const profileDir = join(dir, 'prof');
    execFileSync(process.execPath, [
      '--cpu-prof',
      `--cpu-prof-dir=${profileDir}`,
      '-e',
      'function spin(){let x=0;for(let i=0;i<3e7;i++)x+=i%7;return x}spin();spin();',
    ]);
    const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'))!;
    const summary = topSelfTime(join(profileDir, file), 5);
    expect(summary.functions.length).toBeGreaterThan(0);
    expect(summary.functions[0]!.name).toBe('spin');
    const shares = summary.functions.reduce((sum, f) => sum + f.share, 0);
    expect(shares).toBeLessThanOrEqual(1.000001);
    const parts = cpuByPart(join(profileDir, file));
    expect(parts.reduce((sum, p) => sum + p.share, 0)).toBeCloseTo(1, 6);
  });
});

describe('k6 scripts', () => {
  it('all parse', () => {
    const loadDir = join(import.meta.dirname, '..', '..', 'load');
    const scripts = readdirSync(loadDir).filter((f) => f.endsWith('.js'));
    expect(scripts).toEqual(
      expect.arrayContaining(['smoke.js', 'sustained.js', 'budget-burn.js', 'streaming.js']),
    );
    for (const script of scripts) execFileSync(process.execPath, ['--check', join(loadDir, script)]);
  });
});
