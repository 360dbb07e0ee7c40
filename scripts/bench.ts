/**
 * `npm run bench [-- --quick] [--profile] [--only small,stream] [--gateway-flags="--max-old-space-size=128"]`:
 * the performance benchmark.
 *
 * Starts, as separate processes on loopback: the mock provider, the gateway once per store
 * (SQLite in a temp dir; Redis on a redis-server of its own on a free port), a bare pass-through
 * proxy (the same HTTP stack without budget logic) and a load generator. Each scenario runs at
 * concurrency 1 and 64 against the mock directly (the ceiling), the bare proxy and both gateways,
 * back to back, so the figures compare as ratios within one run on a noisy machine. Prints a
 * progress line per run, then a table, the targets of the performance issue, and the figures the
 * core and budget issues ask for; writes everything as JSON to bench-results/.
 *
 * --profile runs the gateways under `node --cpu-prof` and prints their top self-time functions.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { countTokens } from '../src/tokens/encoding.js';
import { postgresBinDir, type StartedPostgres, startPostgres } from '../test/helpers/postgres.js';
import { type StartedRedis, startRedis } from '../test/helpers/redis.js';
import { LoadGenerator } from './bench/load-client.js';
import { meterCost } from './bench/metering-cost.js';
import { storeLatencies, tokenizerThroughput } from './bench/micro.js';
import { type OtlpSink, startOtlpSink } from './bench/otlp-sink.js';
import { cpuSeconds, memoryMb } from './bench/procs.js';
import { formatCpuByPart, formatTopSelfTime } from './bench/profile.js';
import type { LoadSpec, RequestShape } from './bench/protocol.js';
import { commandCalls, redisFigures } from './bench/redis-calls.js';
import {
  type BenchReport,
  checkTargets,
  derive,
  formatIssueFigures,
  formatTable,
  formatTargets,
  meteringFigures,
  type RunFigures,
  SCENARIO_LABELS,
  type ScenarioId,
} from './bench/report.js';
import { startServers, type Targets } from './bench/servers.js';
import { tracingCost } from './bench/tracing-cost.js';
import {
  benchText,
  LARGE_PROMPT_CHARS,
  largeChat,
  longStream,
  smallChat,
  streamedChat,
  type Target,
} from './bench/workload.js';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const MAIN_JS = join(ROOT, 'dist', 'src', 'main.js');

interface Options {
  quick: boolean;
  profile: boolean;
  only: Set<ScenarioId> | null;
  keep: boolean;
  /** Extra node flags for the gateway processes (e.g. --max-old-space-size=128), space-separated. */
  gatewayFlags: string[];
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      only: { type: 'string' },
      'gateway-flags': { type: 'string' },
    },
    strict: true,
  });
  const only = values.only ? (values.only.split(',') as ScenarioId[]) : null;
  for (const id of only ?? []) {
    if (!(id in SCENARIO_LABELS))
      throw new Error(`bench: --only ${id}: expected some of ${Object.keys(SCENARIO_LABELS).join(', ')}`);
  }
  return {
    quick: values.quick,
    profile: values.profile,
    keep: values.keep,
    only: only ? new Set(only) : null,
    gatewayFlags: values['gateway-flags']?.split(/\s+/).filter(Boolean) ?? [],
  };
}

const log = (line: string) => process.stdout.write(`${line}\n`);

/** One scenario run: what to send, at what concurrency, to which target. */
interface Step {
  scenario: ScenarioId;
  concurrency: number;
  target: Target;
}

/**
 * The runs, in order. The quick mode (CI) keeps every scenario but runs the secondary ones on the
 * Redis gateway only, where the issue's targets are.
 */
function plan(only: Set<ScenarioId> | null, quick: boolean, pghist: boolean): Step[] {
  const all: Target[] = ['direct', 'bare', 'gateway-sqlite', 'gateway-redis'];
  const gateways: Target[] = quick ? ['gateway-redis'] : ['gateway-sqlite', 'gateway-redis'];
  const mixed: Target[] = quick ? ['direct', 'bare', 'gateway-redis'] : all;
  const steps: Step[] = [];
  const add = (scenario: ScenarioId, concurrency: number, targets: Target[]) => {
    if (!only || only.has(scenario))
      for (const target of targets) steps.push({ scenario, concurrency, target });
  };
  // Postgres history on vs off: the Redis gateway with its history in Postgres, right after the
  // Redis gateway with its history in Redis (small and streamed, c=1 and c=64).
  const withHistory = (targets: Target[]) =>
    pghist
      ? targets.flatMap((t) => (t === 'gateway-redis' ? [t, 'gateway-redis-pghist' as const] : [t]))
      : targets;
  for (const c of [1, 64]) {
    add('small', c, withHistory(all));
    // Right after the same concurrency without it, so "p99 with vs without" compares neighbours.
    add('large-mix', c, mixed);
  }
  add('stream', 1, withHistory(all));
  add('stream', 64, withHistory(all));
  add('users', 1, gateways);
  add('users', 64, gateways);
  add('c256', 256, quick ? gateways : ['bare', ...gateways]);
  // Metering on vs off: an answer of several slices, back to back on the metered Redis gateway and
  // its unmetered twin (c=4 only in quick mode: two runs, about two seconds). At c=16 the gateway
  // falls behind the paced provider and reads many chunks at once, as it does a provider sending
  // all at once: the figures show what that does to metered answers.
  const twins: Target[] = ['gateway-redis', 'gateway-redis-unmetered'];
  for (const c of quick ? [4] : [1, 4, 16]) add('long-stream', c, quick ? twins : ['direct', ...twins]);
  if (!quick) add('long-burst', 4, ['direct', ...twins]);
  return withUnmeteredTwins(withTracedTwins(steps), quick);
}

/** Full runs: the short streams of the Redis gateway are followed by the unmetered twin's too. */
function withUnmeteredTwins(steps: Step[], quick: boolean): Step[] {
  if (quick) return steps;
  return steps.flatMap((step) =>
    step.target === 'gateway-redis' && step.scenario === 'stream'
      ? [step, { ...step, target: 'gateway-redis-unmetered' as const }]
      : [step],
  );
}

/** The targets whose runs sample Redis (commands sent, redis-server CPU). */
const REDIS_SAMPLED = new Set<Target>(['gateway-redis', 'gateway-redis-unmetered']);

/** Tracing on vs off: each small and streamed run of the Redis gateway is followed by the traced one. */
function withTracedTwins(steps: Step[]): Step[] {
  return steps.flatMap((step) =>
    step.target === 'gateway-redis' && (step.scenario === 'small' || step.scenario === 'stream')
      ? [step, { ...step, target: 'gateway-redis-traced' as const }]
      : [step],
  );
}

function requestFor(scenario: ScenarioId, target: Target): RequestShape {
  if (scenario === 'long-stream' || scenario === 'long-burst')
    return longStream(target, scenario === 'long-stream');
  return scenario === 'stream' ? streamedChat(target) : smallChat(target);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const wallStarted = performance.now();
  const warmupMs = options.quick ? 250 : 600;
  const durationMs = options.quick ? 600 : 2_500;
  const dir = mkdtempSync(join(tmpdir(), 'llmgw-bench-'));
  const startedAt = new Date();
  log(
    `bench: ${options.quick ? 'quick' : 'full'} run, ${warmupMs} ms warm-up + ${durationMs} ms measured per run; ${availableParallelism()} CPUs, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}${options.gatewayFlags.length ? `; gateway flags ${options.gatewayFlags.join(' ')}` : ''}`,
  );

  let redis: StartedRedis | undefined;
  let postgres: StartedPostgres | undefined;
  let targets: Targets | undefined;
  let load: LoadGenerator | undefined;
  let redisClient: Redis | undefined;
  let sink: OtlpSink | undefined;
  try {
    redis = await startRedis();
    log(`bench: redis-server on port ${redis.port}`);

    const tokenizer = tokenizerThroughput(options.quick ? 200_000 : 1_000_000);
    log(`bench: o200k_base ${tokenizer.tokensPerSecond.toLocaleString('en-US')} tokens/s`);
    const stores = await storeLatencies(dir, redis.url, options.quick ? 300 : 2_000);
    for (const s of stores)
      log(
        `bench: ${s.store} reserve+settle p50 ${s.sequential.p50.toFixed(3)} ms p99 ${s.sequential.p99.toFixed(3)} ms`,
      );

    sink = await startOtlpSink();
    const tracing = await tracingCost(sink.url, options.quick ? 5_000 : 20_000);
    log(
      `bench: tracing in process: +${tracing.addedCpuUs.toFixed(1)} µs CPU per request (${tracing.onCpuUs.toFixed(1)} on vs ${tracing.offCpuUs.toFixed(1)} off, export included; ${tracing.droppedSpans} spans dropped)`,
    );
    const meter = await meterCost(options.quick ? 50 : 400);
    log(
      `bench: output meter in process: +${meter.addedCpuUs.toFixed(0)} µs CPU per 4k-token answer (${meter.extensionsPerAnswer} extensions each, store answering at once)`,
    );
    // Postgres history variant only where PostgreSQL is installed (CI installs it; a laptop may not).
    let historyUrl: string | undefined;
    if (postgresBinDir()) {
      postgres = await startPostgres();
      historyUrl = await postgres.createDatabase('bench');
      log(`bench: postgres on port ${postgres.port} (history for gateway-redis-pghist)`);
    } else log('bench: PostgreSQL not installed; skipping the Postgres history variant');
    const steps = plan(options.only, options.quick, historyUrl !== undefined);
    const unmetered = steps.some((step) => step.target === 'gateway-redis-unmetered');
    targets = await startServers(MAIN_JS, dir, redis, options, sink.url, historyUrl, unmetered);
    for (const [target, server] of targets.servers)
      log(`bench: ${target} at ${server.url} (pid ${server.pid})`);
    load = new LoadGenerator();
    redisClient = new Redis(redis.url, { lazyConnect: false });

    // Every server gets traffic of each kind first, so the first measured run does not pay for
    // JIT compilation and cold pools (steady state is what the figures are about).
    const warmMs = options.quick ? 300 : 1_000;
    for (const [target, origin] of targets.origins) {
      // The unmetered twin runs only streams; in quick mode only long ones, whose own warm-up of
      // 250 ms suffices (a couple of seconds at most for the metering figures in CI).
      const warming =
        target !== 'gateway-redis-unmetered'
          ? [smallChat(target), streamedChat(target)]
          : options.quick
            ? []
            : [streamedChat(target), longStream(target, true)];
      for (const request of warming) {
        const warm = await load.run(
          { origin, request, concurrency: 16, warmupMs: 0, durationMs: warmMs },
          () => {},
        );
        if (warm.errors > 0) throw new Error(`${target} failed while warming up: ${warm.errorSamples[0]}`);
      }
      log(`bench: warmed up ${target}`);
    }

    const largeText = benchText(LARGE_PROMPT_CHARS);
    const largePromptTokens = countTokens(largeText, 'o200k_base');
    const runs: RunFigures[] = [];
    for (const [i, step] of steps.entries()) {
      const server = targets.servers.get(step.target)!;
      const origin = targets.origins.get(step.target)!;
      const spec: LoadSpec = {
        origin,
        request: requestFor(step.scenario, step.target),
        concurrency: step.concurrency,
        warmupMs,
        durationMs,
        ...(step.scenario === 'users' ? { distinctUsers: 10_000 } : {}),
        ...(step.scenario === 'large-mix'
          ? { background: { request: largeChat(step.target, largeText), concurrency: 1 } }
          : {}),
      };
      const redisPid = redis.pid();
      const sampling = REDIS_SAMPLED.has(step.target) && redisPid !== undefined;
      let cpuStart = 0;
      let redisCpuStart = 0;
      let callsStart: Promise<Map<string, number>> | undefined;
      let cpuEnd = 0;
      let redisCpuEnd = 0;
      let callsEnd: Promise<Map<string, number>> | undefined;
      let rssPeak = 0;
      const sampler = setInterval(() => {
        rssPeak = Math.max(rssPeak, memoryMb(server.pid).rss);
      }, 100);
      const result = await load.run(spec, (edge) => {
        if (edge === 'start') {
          cpuStart = cpuSeconds(server.pid);
          if (sampling) {
            redisCpuStart = cpuSeconds(redisPid);
            callsStart = commandCalls(redisClient!);
          }
        } else {
          cpuEnd = cpuSeconds(server.pid);
          if (sampling) {
            redisCpuEnd = cpuSeconds(redisPid);
            callsEnd = commandCalls(redisClient!);
          }
        }
      });
      clearInterval(sampler);
      const memory = memoryMb(server.pid);
      rssPeak = Math.max(rssPeak, memory.rss);
      const requests = Math.max(1, result.requests + (result.background?.requests ?? 0));
      const figures: RunFigures = {
        ...step,
        load: result,
        cpuMsPerRequest: ((cpuEnd - cpuStart) * 1000) / requests,
        rssMb: memory.rss,
        rssPeakMb: rssPeak,
        rssHighWaterMb: memory.peak,
      };
      if (sampling && callsStart && callsEnd)
        figures.redis = redisFigures(await callsStart, await callsEnd, requests, redisCpuEnd - redisCpuStart);
      runs.push(figures);
      const ttft = result.ttfb ? ` ttft p50 ${result.ttfb.p50.toFixed(2)} ms` : '';
      const errors = result.errors ? `  ${result.errors} errors: ${result.errorSamples[0] ?? ''}` : '';
      log(
        `[${String(i + 1).padStart(2)}/${steps.length}] ${SCENARIO_LABELS[step.scenario]} c=${step.concurrency} ${step.target}: ` +
          `${result.rps.toFixed(0)} req/s, p50 ${result.latency.p50.toFixed(2)} ms, p99 ${result.latency.p99.toFixed(2)} ms${ttft}, ` +
          `cpu ${(figures.cpuMsPerRequest * 1000).toFixed(0)} µs/req, rss ${rssPeak.toFixed(0)} MB${errors}`,
      );
    }

    derive(runs);
    const report: BenchReport = {
      startedAt: startedAt.toISOString(),
      quick: options.quick,
      machine: { cpus: availableParallelism(), node: process.version, loadAverage: loadavg() },
      settings: { warmupMs, durationMs, largePromptTokens, gatewayFlags: options.gatewayFlags },
      runs,
      targets: checkTargets(runs),
      tokenizer,
      stores,
      metering: meteringFigures(runs),
      meterCost: meter,
      wallSeconds: 0,
    };

    await load.close();
    load = undefined;
    for (const server of targets.servers.values()) await server.stop();
    report.wallSeconds = (performance.now() - wallStarted) / 1000;

    log('');
    log(
      `Results (${options.quick ? 'quick' : 'full'} run; latencies in ms as the client sees them; +p50/+ttft: over the mock called directly; cpu/req: the server process's CPU time per request; rss: peak during the run; large prompt ${largePromptTokens.toLocaleString('en-US')} tokens)`,
    );
    log(formatTable(runs));
    log('');
    log('Targets (gateway with the Redis store):');
    log(formatTargets(report.targets));
    log('');
    log(formatIssueFigures(report));
    if (sink) log(`  OTLP receiver got ${sink.exports()} exports, ${(sink.bytes() / 1024).toFixed(0)} KiB`);

    const outDir = join(ROOT, 'bench-results');
    mkdirSync(outDir, { recursive: true });
    const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
    const outFile = join(outDir, `bench-${stamp}.json`);
    writeFileSync(outFile, `${JSON.stringify(report, null, 2)}\n`);

    if (options.profile) {
      for (const target of ['gateway-sqlite', 'gateway-redis']) {
        const profileDir = join(dir, 'profiles', target);
        for (const file of readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'))) {
          const kept = join(outDir, `profile-${stamp}-${target}.cpuprofile`);
          copyFileSync(join(profileDir, file), kept);
          log('');
          log(`CPU profile of ${target} (top self time), kept as ${kept}:`);
          log(formatTopSelfTime(kept, 25));
          log('By part of the gateway:');
          log(formatCpuByPart(kept));
        }
      }
    }
    log('');
    log(`bench: wrote ${outFile} (${report.wallSeconds.toFixed(0)} s)`);
  } finally {
    await load?.close().catch(() => {});
    if (targets) for (const server of targets.servers.values()) await server.stop().catch(() => {});
    redisClient?.disconnect();
    await redis?.close().catch(() => {});
    await sink?.close();
    await postgres?.close().catch(() => {});
    if (options.keep) log(`bench: kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
