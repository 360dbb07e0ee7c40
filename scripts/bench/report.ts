/**
 * Turns the bench's runs into figures: added latency against the mock called directly, the ratio
 * to the bare proxy, the large prompt's effect on small requests' p99, the issue's targets (met or
 * not), and the table printed at the end.
 */

import type { MeterCostFigure } from './metering-cost.js';
import type { StoreFigure, TokenizerFigure } from './micro.js';
import type { LoadResult } from './protocol.js';
import type { Target } from './workload.js';

export type ScenarioId = 'small' | 'large-mix' | 'stream' | 'long-stream' | 'long-burst' | 'users' | 'c256';

export const SCENARIO_LABELS: Record<ScenarioId, string> = {
  small: 'small chat',
  'large-mix': 'small + 50k prompt',
  stream: 'streamed (50 chunks)',
  'long-stream': 'streamed 4k, paced',
  'long-burst': 'streamed 4k, at once',
  users: '10k distinct users',
  c256: 'small chat (RSS)',
};

export interface RunFigures {
  scenario: ScenarioId;
  concurrency: number;
  target: Target;
  load: LoadResult;
  /** CPU time of the target's server process (gateway, bare proxy or mock) per request, ms. */
  cpuMsPerRequest: number;
  /** Resident memory of the server process at the end of the run, and the highest seen during it, MB. */
  rssMb: number;
  rssPeakMb: number;
  /** The process's highest resident memory since it started (VmHWM), at the end of the run, MB. */
  rssHighWaterMb?: number;
  /** Redis store only: commands the gateway sent per request (INFO commandstats), and Redis CPU per request. */
  redis?: {
    /** Commands sent by the gateway (script calls: EVALSHA...) per request: its round trips at most. */
    commandsPerRequest: number;
    /** Commands the scripts ran inside Redis per request (no network cost). */
    insideScriptsPerRequest: number;
    byCommand: Record<string, number>;
    cpuMsPerRequest: number;
  };
  // Derived (see derive()):
  addedP50Ms?: number;
  addedP99Ms?: number;
  addedTtftP50Ms?: number;
  /** requests/s as a share of the bare proxy's in the same scenario and concurrency. */
  ofBare?: number;
  /** large-mix: small requests' p99 with the large prompt in flight minus without (the small run). */
  p99RaiseMs?: number;
}

export interface TargetCheck {
  target: string;
  limit: string;
  measured: string;
  met: boolean | null;
}

export interface BenchReport {
  startedAt: string;
  quick: boolean;
  machine: { cpus: number; node: string; loadAverage: number[] };
  settings: { warmupMs: number; durationMs: number; largePromptTokens: number; gatewayFlags: string[] };
  runs: RunFigures[];
  targets: TargetCheck[];
  tokenizer?: TokenizerFigure;
  stores?: StoreFigure[];
  /** Metering on vs off for streams on the Redis gateway (issue 17), from the runs. */
  metering?: MeteringFigure[];
  /** The output meter's own CPU per 4k-token answer, in process (no store round trips). */
  meterCost?: MeterCostFigure;
  wallSeconds: number;
}

/** One figure with metering on (`stream_slice_tokens` 1024, the default) and off (0). */
export interface OnOff {
  metered: number;
  unmetered: number;
}

export interface MeteringFigure {
  scenario: ScenarioId;
  concurrency: number;
  /** Commands the gateway sent to Redis per streamed request (reserve, extensions, settle). */
  redisCommandsPerRequest: OnOff;
  evalshaPerRequest: OnOff;
  redisCpuUsPerRequest: OnOff;
  gatewayCpuUsPerRequest: OnOff;
  p50Ms: OnOff;
  ttftP50Ms: OnOff;
  rps: OnOff;
  /** Share of measured answers cut at the output cap (finish_reason "length"). */
  cutShare: OnOff;
}

/** The metered Redis gateway's runs beside its unmetered twin's, where both ran. */
export function meteringFigures(runs: RunFigures[]): MeteringFigure[] {
  const figures: MeteringFigure[] = [];
  for (const on of runs) {
    if (on.target !== 'gateway-redis') continue;
    const off = find(runs, on.scenario, on.concurrency, 'gateway-redis-unmetered');
    if (!off) continue;
    const pair = (value: (r: RunFigures) => number | undefined): OnOff => ({
      metered: value(on) ?? Number.NaN,
      unmetered: value(off) ?? Number.NaN,
    });
    figures.push({
      scenario: on.scenario,
      concurrency: on.concurrency,
      redisCommandsPerRequest: pair((r) => r.redis?.commandsPerRequest),
      evalshaPerRequest: pair((r) => r.redis && (r.redis.byCommand.evalsha ?? 0)),
      redisCpuUsPerRequest: pair((r) => r.redis && r.redis.cpuMsPerRequest * 1000),
      gatewayCpuUsPerRequest: pair((r) => r.cpuMsPerRequest * 1000),
      p50Ms: pair((r) => r.load.latency.p50),
      ttftP50Ms: pair((r) => r.load.ttfb?.p50),
      rps: pair((r) => r.load.rps),
      cutShare: pair((r) => (r.load.cut ?? 0) / Math.max(1, r.load.latency.count)),
    });
  }
  return figures;
}

function find(runs: RunFigures[], scenario: ScenarioId, concurrency: number, target: Target) {
  return runs.find((r) => r.scenario === scenario && r.concurrency === concurrency && r.target === target);
}

/** Fills the comparisons of each run with its references from the same bench run. */
export function derive(runs: RunFigures[]): void {
  for (const run of runs) {
    const direct = find(runs, run.scenario === 'users' ? 'small' : run.scenario, run.concurrency, 'direct');
    if (direct && run.target !== 'direct') {
      run.addedP50Ms = run.load.latency.p50 - direct.load.latency.p50;
      run.addedP99Ms = run.load.latency.p99 - direct.load.latency.p99;
      if (run.load.ttfb && direct.load.ttfb) run.addedTtftP50Ms = run.load.ttfb.p50 - direct.load.ttfb.p50;
    }
    const bare = find(runs, run.scenario === 'users' ? 'small' : run.scenario, run.concurrency, 'bare');
    if (bare && run.target !== 'bare' && run.target !== 'direct' && bare.load.rps > 0) {
      run.ofBare = run.load.rps / bare.load.rps;
    }
    if (run.scenario === 'large-mix') {
      const alone = find(runs, 'small', run.concurrency, run.target);
      if (alone) run.p99RaiseMs = run.load.latency.p99 - alone.load.latency.p99;
    }
  }
}

const ms = (v: number | undefined, digits = 2) =>
  v === undefined || Number.isNaN(v) ? '-' : v.toFixed(digits);
const signed = (v: number | undefined, digits = 2) =>
  v === undefined || Number.isNaN(v) ? '-' : `${v >= 0 ? '+' : ''}${v.toFixed(digits)}`;

export function checkTargets(runs: RunFigures[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const add = (
    target: string,
    limit: string,
    value: number | undefined,
    ok: (v: number) => boolean,
    show: string,
  ) =>
    checks.push({
      target,
      limit,
      measured: value === undefined || Number.isNaN(value) ? 'not measured' : show,
      met: value === undefined || Number.isNaN(value) ? null : ok(value),
    });
  const g = 'gateway-redis' as const;
  const c64 = find(runs, 'small', 64, g);
  add(
    'small chat c=64: share of bare proxy req/s',
    '>= 70%',
    c64?.ofBare,
    (v) => v >= 0.7,
    `${((c64?.ofBare ?? 0) * 100).toFixed(0)}%`,
  );
  const c1 = find(runs, 'small', 1, g);
  add(
    'small chat c=1: added p50 vs mock direct',
    '<= 0.5 ms',
    c1?.addedP50Ms,
    (v) => v <= 0.5,
    `${signed(c1?.addedP50Ms, 3)} ms`,
  );
  const s1 = find(runs, 'stream', 1, g);
  add(
    'streamed c=1: added time to first token (p50)',
    '<= 1 ms',
    s1?.addedTtftP50Ms,
    (v) => v <= 1,
    `${signed(s1?.addedTtftP50Ms, 3)} ms`,
  );
  for (const c of [1, 64]) {
    const mix = find(runs, 'large-mix', c, g);
    add(
      `50k prompt in flight: small requests' p99 raise, c=${c}`,
      '< 5 ms',
      mix?.p99RaiseMs,
      (v) => v < 5,
      `${signed(mix?.p99RaiseMs)} ms`,
    );
  }
  const rss = find(runs, 'c256', 256, g);
  const lifetime =
    rss?.rssHighWaterMb === undefined ? '' : `; highest since start: ${ms(rss.rssHighWaterMb, 0)} MB`;
  add(
    'RSS at c=256 (peak during the run)',
    '< 250 MB',
    rss?.rssPeakMb,
    (v) => v < 250,
    `${ms(rss?.rssPeakMb, 0)} MB${lifetime}`,
  );
  return checks;
}

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

export function formatTable(runs: RunFigures[]): string {
  const header = [
    ['scenario', 22],
    ['c', 4],
    ['target', 20],
    ['req/s', 8],
    ['p50 ms', 8],
    ['p99 ms', 8],
    ['+p50 ms', 8],
    ['ttft p50', 9],
    ['+ttft', 7],
    ['cpu/req', 8],
    ['rss MB', 7],
    ['notes', 0],
  ] as const;
  const lines = [header.map(([name, width], i) => pad(name, width, i >= 3 && i <= 10)).join(' ')];
  lines.push('-'.repeat(130));
  let lastGroup = '';
  for (const run of runs) {
    const group = `${run.scenario}/${run.concurrency}`;
    const first = group !== lastGroup;
    lastGroup = group;
    const notes: string[] = [];
    if (run.ofBare !== undefined) notes.push(`${(run.ofBare * 100).toFixed(0)}% of bare`);
    if (run.p99RaiseMs !== undefined) notes.push(`p99 ${signed(run.p99RaiseMs)} ms vs alone`);
    if (run.redis) notes.push(`redis ${run.redis.commandsPerRequest.toFixed(2)} cmd/req`);
    if (run.load.background)
      notes.push(
        `50k: ${run.load.background.requests} done, p50 ${ms(run.load.background.latency.p50, 0)} ms`,
      );
    if (run.load.cut) notes.push(`${run.load.cut} cut short`);
    if (run.load.errors > 0) notes.push(`${run.load.errors} ERRORS`);
    const cells = [
      pad(first ? SCENARIO_LABELS[run.scenario] : '', 22),
      pad(first ? String(run.concurrency) : '', 4),
      pad(run.target, 20),
      pad(run.load.rps.toFixed(0), 8, true),
      pad(ms(run.load.latency.p50), 8, true),
      pad(ms(run.load.latency.p99), 8, true),
      pad(signed(run.addedP50Ms), 8, true),
      pad(ms(run.load.ttfb?.p50), 9, true),
      pad(signed(run.addedTtftP50Ms), 7, true),
      pad(`${(run.cpuMsPerRequest * 1000).toFixed(0)}µs`, 8, true),
      pad(ms(run.rssPeakMb, 0), 7, true),
      notes.join('; '),
    ];
    if (first && runs[0] !== run) lines.push('');
    lines.push(cells.join(' '));
  }
  return lines.join('\n');
}

export function formatTargets(checks: TargetCheck[]): string {
  return checks
    .map(
      (c) =>
        `  ${c.met === null ? '  ?  ' : c.met ? ' MET ' : 'MISSED'}  ${c.target}: ${c.measured} (target ${c.limit})`,
    )
    .join('\n');
}

export function formatIssueFigures(report: BenchReport): string {
  const out: string[] = [];
  const run = (s: ScenarioId, c: number, t: Target) => find(report.runs, s, c, t);
  out.push('Issue 2 (core):');
  for (const t of ['gateway-sqlite', 'gateway-redis'] as const) {
    const r = run('small', 1, t);
    const d = run('small', 1, 'direct');
    if (r && d)
      out.push(
        `  added latency p50, small non-streamed chat, c=1, ${t}: ${signed(r.addedP50Ms, 3)} ms (${ms(r.load.latency.p50, 3)} ms vs mock direct ${ms(d.load.latency.p50, 3)} ms)`,
      );
  }
  if (report.tokenizer)
    out.push(
      `  o200k_base tokenizer: ${report.tokenizer.tokensPerSecond.toLocaleString('en-US')} tokens/s (${report.tokenizer.tokens.toLocaleString('en-US')} tokens, ${report.tokenizer.chars.toLocaleString('en-US')} chars of English + code)`,
    );
  out.push('Issue 3 (budgets):');
  for (const s of report.stores ?? []) {
    out.push(
      `  ${s.store} reserve+settle (${s.lines} lines): sequential p50 ${ms(s.sequential.p50, 3)} ms p99 ${ms(s.sequential.p99, 3)} ms; c=64 p50 ${ms(s.concurrent.p50, 3)} ms p99 ${ms(s.concurrent.p99, 3)} ms (${s.pairsPerSecond} pairs/s)`,
    );
  }
  for (const [s, c] of [
    ['small', 64],
    ['stream', 64],
    ['users', 64],
  ] as const) {
    const r = run(s, c, 'gateway-redis');
    if (r?.redis) {
      const detail = Object.entries(r.redis.byCommand)
        .map(([name, n]) => `${name} ${n.toFixed(2)}`)
        .join(', ');
      out.push(
        `  Redis round trips (commands sent) per proxied request, ${SCENARIO_LABELS[s]} c=${c}: ${r.redis.commandsPerRequest.toFixed(2)} (${detail}; ${r.redis.insideScriptsPerRequest.toFixed(1)} more run inside the scripts); redis-server CPU ${(r.redis.cpuMsPerRequest * 1000).toFixed(0)} µs/request`,
      );
    }
  }
  out.push(...tracingFigures(run));
  out.push(...formatMetering(report.metering ?? [], report.meterCost));
  const pg = (['small', 'stream'] as const).flatMap((s) =>
    [1, 64].map((c) => [s, c, run(s, c, 'gateway-redis'), run(s, c, 'gateway-redis-pghist')] as const),
  );
  if (pg.some(([, , off, on]) => off && on))
    out.push('Issue 18 (Postgres history, on vs off; budgets on Redis):');
  for (const [s, c, off, on] of pg) {
    if (!off || !on) continue;
    out.push(
      `  ${SCENARIO_LABELS[s]} c=${c}: gateway CPU ${(on.cpuMsPerRequest * 1000).toFixed(0)} vs ${(off.cpuMsPerRequest * 1000).toFixed(0)} µs/request, p50 ${ms(on.load.latency.p50, 3)} vs ${ms(off.load.latency.p50, 3)} ms (history in Postgres vs in Redis)`,
    );
  }
  return out.join('\n');
}

/** Issue 18: the same runs with tracing on (OTLP/HTTP protobuf to a local receiver) and off. */
function tracingFigures(run: (s: ScenarioId, c: number, t: Target) => RunFigures | undefined): string[] {
  const out: string[] = [];
  for (const [s, c] of [
    ['small', 1],
    ['small', 64],
    ['stream', 1],
    ['stream', 64],
  ] as const) {
    const off = run(s, c, 'gateway-redis');
    const on = run(s, c, 'gateway-redis-traced');
    if (!off || !on) continue;
    const cpu = (r: RunFigures) => (r.cpuMsPerRequest * 1000).toFixed(0);
    out.push(
      `  tracing on vs off, ${SCENARIO_LABELS[s]} c=${c}: p50 ${ms(on.load.latency.p50, 3)} vs ${ms(off.load.latency.p50, 3)} ms, cpu ${cpu(on)} vs ${cpu(off)} µs/request, ${on.load.rps.toFixed(0)} vs ${off.load.rps.toFixed(0)} req/s`,
    );
  }
  return out.length > 0 ? ['Issue 18 (telemetry, gateway on Redis):', ...out] : [];
}

/** Issue 17: what metering costs a stream, metered (default slice) vs `stream_slice_tokens: 0`. */
function formatMetering(figures: MeteringFigure[], cost: MeterCostFigure | undefined): string[] {
  if (figures.length === 0 && !cost) return [];
  const out = ['Issue 17 (metered streams, metered vs unmetered; gateway on Redis):'];
  if (cost)
    out.push(
      `  output meter in process: +${cost.addedCpuUs.toFixed(0)} µs CPU per 4k-token answer in 100 chunks (${cost.extensionsPerAnswer} extensions, the store answering at once; ${cost.answers} answers)`,
    );
  const both = (v: OnOff, digits: number, unit: string) =>
    `${ms(v.metered, digits)} vs ${ms(v.unmetered, digits)}${unit}`;
  for (const f of figures) {
    out.push(
      `  ${SCENARIO_LABELS[f.scenario]} c=${f.concurrency}: Redis commands ${both(f.redisCommandsPerRequest, 2, '')} per request (EVALSHA ${both(f.evalshaPerRequest, 2, '')}), ` +
        `gateway CPU ${both(f.gatewayCpuUsPerRequest, 0, ' µs')}, redis-server CPU ${both(f.redisCpuUsPerRequest, 0, ' µs')}, ` +
        `p50 ${both(f.p50Ms, 2, ' ms')}, ttft p50 ${both(f.ttftP50Ms, 2, ' ms')}, ${both(f.rps, 0, ' req/s')}, ` +
        `cut short ${(f.cutShare.metered * 100).toFixed(0)}% vs ${(f.cutShare.unmetered * 100).toFixed(0)}%`,
    );
  }
  return out;
}
