/**
 * What the bench orchestrator and the load generator (a forked child process) tell each other
 * over the IPC channel, and how a bench helper process is started from compiled JS or from the
 * TypeScript sources (tests run the sources through tsx).
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Summary } from './stats.js';

/** One HTTP request shape the load generator sends over and over. */
export interface RequestShape {
  path: string;
  headers: Record<string, string>;
  /** Sent as is, except that a `{{seq}}` in it becomes a per-request counter (prompts that differ). */
  body: string;
  /** Read the body as a stream and time its first chunk (time to first token). */
  stream: boolean;
}

export interface LoadSpec {
  origin: string;
  request: RequestShape;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /** When set, each request carries `x-gateway-user: u<n>` cycling over this many distinct users. */
  distinctUsers?: number;
  /** Requests kept in flight alongside (the large prompt); measured separately. */
  background?: { request: RequestShape; concurrency: number };
}

export interface LoadResult {
  /** Requests completed inside the measurement window. */
  requests: number;
  seconds: number;
  rps: number;
  /** Requests that did not answer 200 (or failed), whole run; first few reasons kept. */
  errors: number;
  errorSamples: string[];
  /** Request start to last body byte, ms (requests started inside the window). */
  latency: Summary;
  /** Request start to first body chunk, ms (streams only). */
  ttfb?: Summary;
  /** Streams only: measured answers that ended at the output cap (finish_reason "length"). */
  cut?: number;
  background?: { requests: number; errors: number; latency: Summary };
}

export type ParentMessage = { type: 'run'; spec: LoadSpec } | { type: 'exit' };

export type ChildMessage =
  | { type: 'window-start' }
  | { type: 'window-end' }
  | { type: 'result'; result: LoadResult }
  | { type: 'failed'; message: string };

/**
 * The command to run a sibling module of this directory as its own process: compiled JS as is,
 * TypeScript sources through tsx (what tests use).
 */
export function siblingModule(name: string): { path: string; execArgv: string[] } {
  const ext = extname(fileURLToPath(import.meta.url));
  const path = fileURLToPath(new URL(`./${name}${ext}`, import.meta.url));
  return { path, execArgv: ext === '.ts' ? ['--import', 'tsx'] : [] };
}
