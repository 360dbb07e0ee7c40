/**
 * Token counting throughput: o200k_base tokens/s on English + code, and the time to count a
 * 100k-token prompt synchronously vs through the token worker (with the longest event-loop
 * stall seen by a 5 ms interval meanwhile). Used to choose WORKER_THRESHOLD_CHARS.
 *
 *   npx tsx scripts/bench-tokens.ts
 */
import { countTokens } from '../src/tokens/encoding.js';
import {
  closeTokenWorkers,
  countPromptTokens,
  promptTokens,
  WORKER_THRESHOLD_CHARS,
} from '../src/tokens/estimate.js';
import { PIECES } from './bench/workload.js';

function text(chars: number): string {
  let out = '';
  for (let i = 0; out.length < chars; i += 1)
    out += PIECES[i % PIECES.length]!.replace('gateway', `gateway #${i}`);
  return out.slice(0, chars);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function timeSync<T>(fn: () => T): { ms: number; value: T } {
  const started = performance.now();
  const value = fn();
  return { ms: performance.now() - started, value };
}

async function main(): Promise<void> {
  const sample = text(1_000_000);
  countTokens(sample.slice(0, 10_000), 'o200k_base'); // load the encoder

  const runs = [0, 1, 2, 3, 4].map(() => timeSync(() => countTokens(sample, 'o200k_base')));
  const tokens = runs[0]!.value;
  const ms = median(runs.map((r) => r.ms));
  console.log(
    `o200k_base: ${tokens} tokens in ${sample.length} chars (${(sample.length / tokens).toFixed(2)} chars/token)`,
  );
  console.log(
    `  throughput ${Math.round((tokens / ms) * 1000).toLocaleString('en-US')} tokens/s, ${(((sample.length / ms) * 1000) / 1e6).toFixed(1)} M chars/s`,
  );

  for (const chars of [4_000, 16_000, 32_000, 64_000]) {
    const t = median(
      [0, 1, 2, 3, 4].map(() => timeSync(() => countTokens(sample.slice(0, chars), 'o200k_base')).ms),
    );
    console.log(`  ${chars.toLocaleString('en-US')} chars: ${t.toFixed(2)} ms on the main thread`);
  }

  const prompt = text(500_000);
  const body = { model: 'gpt-4o', messages: [{ role: 'user', content: prompt }] };
  const cold = timeSync(() => 0);
  const coldStart = performance.now();
  await countPromptTokens(
    'chat',
    { messages: [{ role: 'user', content: text(WORKER_THRESHOLD_CHARS + 1) }] },
    'gpt-4o',
  );
  cold.ms = performance.now() - coldStart;

  const sync = [0, 1, 2].map(() => timeSync(() => promptTokens('chat', body, 'gpt-4o')));
  const syncMs = median(sync.map((r) => r.ms));
  const workerMs: number[] = [];
  const gaps: number[] = [];
  let workerCount = 0;
  for (let i = 0; i < 3; i += 1) {
    let last = performance.now();
    let maxGap = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 5);
    const started = performance.now();
    workerCount = await countPromptTokens('chat', body, 'gpt-4o');
    workerMs.push(performance.now() - started);
    clearInterval(timer);
    gaps.push(maxGap);
  }
  console.log(`100k-token prompt (${sync[0]!.value} tokens, ${prompt.length} chars):`);
  console.log(`  sync:   ${syncMs.toFixed(1)} ms, event loop blocked throughout`);
  console.log(
    `  worker: ${median(workerMs).toFixed(1)} ms, longest event-loop gap ${median(gaps).toFixed(1)} ms (5 ms timer); same count: ${workerCount === sync[0]!.value}`,
  );
  console.log(
    `  worker cold start (first large prompt, incl. loading tiktoken in the worker): ${cold.ms.toFixed(1)} ms`,
  );

  const runText = 'a'.repeat(100_000);
  const runMs = timeSync(() => countTokens(runText, 'o200k_base')).ms;
  console.log(
    `pathological 100k-char single-letter run: ${runMs.toFixed(1)} ms (split into 128-char pieces)`,
  );
  await closeTokenWorkers();
}

await main();
