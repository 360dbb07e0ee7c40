/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and lists the functions with the most self time: where
 * the gateway's CPU goes under load.
 *
 *   node dist/scripts/bench/profile.js FILE.cpuprofile [TOP]
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  where: string;
  ms: number;
  share: number;
}

/** Self time per function (same name and location merged), most first. */
export function topSelfTime(
  file: string,
  top = 25,
): { totalMs: number; idleMs: number; functions: SelfTime[] } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const merged = new Map<string, SelfTime>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    totalUs += us;
    const name = frame.functionName || '(anonymous)';
    if (name === '(idle)') idleUs += us;
    const where = frame.url ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : '';
    const key = `${name}@${where}`;
    const entry = merged.get(key) ?? { name, where, ms: 0, share: 0 };
    entry.ms += us / 1000;
    merged.set(key, entry);
  }
  const busyMs = (totalUs - idleUs) / 1000;
  const functions = [...merged.values()]
    .filter((f) => f.name !== '(idle)')
    .sort((a, b) => b.ms - a.ms)
    .slice(0, top)
    .map((f) => ({ ...f, share: busyMs > 0 ? f.ms / busyMs : 0 }));
  return { totalMs: totalUs / 1000, idleMs: idleUs / 1000, functions };
}

function shortUrl(url: string): string {
  const at = url.indexOf('node_modules/');
  if (at >= 0) return url.slice(at + 'node_modules/'.length);
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + '/dist/'.length);
  return url.startsWith('node:') ? url : basename(url);
}

export function formatTopSelfTime(file: string, top = 25): string {
  const { totalMs, idleMs, functions } = topSelfTime(file, top);
  const lines = [
    `${basename(file)}: ${(totalMs / 1000).toFixed(1)} s sampled, ${((totalMs - idleMs) / 1000).toFixed(1)} s busy`,
  ];
  for (const f of functions) {
    lines.push(
      `  ${(f.share * 100).toFixed(1).padStart(5)}%  ${f.ms.toFixed(0).padStart(6)} ms  ${f.name}  ${f.where}`,
    );
  }
  return lines.join('\n');
}

/**
 * Where the CPU goes by part of the gateway: each sample goes to the innermost frame that belongs
 * to one of these parts (so a socket write issued by ioredis counts for the store); samples with
 * no such frame fall to Node's own HTTP/stream code, or stay "other".
 */
const PARTS: Array<[string, RegExp]> = [
  ['token counting (tiktoken, count cache)', /\/src\/tokens\/|tiktoken/],
  [
    'budget store client (ioredis / better-sqlite3 + src/store)',
    /\/src\/store\/|ioredis|better-sqlite3|redis-parser|denque/,
  ],
  ['metrics (prom-client)', /prom-client|\/src\/metrics/],
  ['request log (pino)', /pino|sonic-boom|\/src\/logger/],
  ['analytics, alerts, forecasts', /\/src\/analytics|\/src\/alerts/],
  ['budget engine (src/budget)', /\/src\/budget\//],
  ['upstream HTTP client (undici)', /node_modules\/undici/],
  ['Hono + @hono/node-server', /node_modules\/hono|@hono\/node-server/],
  [
    'proxy pipeline + adapters (src/routes, src/http, src/providers)',
    /\/src\/routes|\/src\/http|\/src\/providers|\/src\/usage|\/src\/money|\/src\/errors/,
  ],
];
const NODE_PARTS: Array<[string, RegExp]> = [
  ['Node HTTP server / sockets', /_http_|node:net|stream_base|internal\/streams|node:events/],
  ['module loading (start-up)', /internal\/modules|bootstrap/],
];

export function cpuByPart(file: string): Array<{ part: string; share: number }> {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const totals = new Map<string, number>();
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const leaf = byId.get(id)?.callFrame;
    if (!leaf || leaf.functionName === '(idle)') return;
    const us = profile.timeDeltas[i] ?? 0;
    busy += us;
    let part = leaf.functionName === '(garbage collector)' ? 'garbage collection' : undefined;
    for (const parts of [PARTS, NODE_PARTS]) {
      for (let at: number | undefined = id; !part && at !== undefined; at = parent.get(at)) {
        const url = byId.get(at)?.callFrame.url ?? '';
        part = parts.find(([, pattern]) => pattern.test(url))?.[0];
      }
    }
    part ??= 'other (native code, microtasks)';
    totals.set(part, (totals.get(part) ?? 0) + us);
  });
  return [...totals]
    .map(([part, us]) => ({ part, share: busy > 0 ? us / busy : 0 }))
    .sort((a, b) => b.share - a.share);
}

export function formatCpuByPart(file: string): string {
  return cpuByPart(file)
    .map(({ part, share }) => `  ${(share * 100).toFixed(1).padStart(5)}%  ${part}`)
    .join('\n');
}

if (process.argv[1]?.endsWith(`profile${import.meta.url.slice(-3)}`) && process.argv[2]) {
  console.log(formatTopSelfTime(process.argv[2], Number(process.argv[3] ?? 25)));
  console.log('By part:');
  console.log(formatCpuByPart(process.argv[2]));
}
