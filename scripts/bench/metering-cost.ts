/**
 * The output meter's own CPU per metered answer, in process: a 4,000-token answer relayed in
 * 100 chunks through OutputMeter (byte bound, exact tiktoken counts near each slice's edge, the
 * extension bookkeeping) with a store that grants every slice at once, against the same relay
 * without a meter. The HTTP runs' CPU per request is too noisy on a busy machine to show it.
 */
import type { AdmissionGranted, MeterGrant } from '../../src/budget/types.js';
import { OutputMeter } from '../../src/routes/proxy/meter.js';
import { benchText, LONG_STREAM_OUTPUT_TOKENS, MODEL } from './workload.js';

export interface MeterCostFigure {
  answers: number;
  /** Extensions per answer (slices after the first). */
  extensionsPerAnswer: number;
  /** CPU per answer with the meter minus without, µs. */
  addedCpuUs: number;
}

const CHUNKS = 100;
/** ~4 characters per o200k_base token in the bench text. */
const CHUNK_CHARS = (LONG_STREAM_OUTPUT_TOKENS * 4) / CHUNKS;

async function relay(chunks: string[], metered: boolean, record: { extensions: number }): Promise<void> {
  let text = '';
  let bytes = 0;
  const source = { generatedText: () => text, generatedUtf8Bytes: () => bytes };
  const meter: MeterGrant = { heldCap: 1024, sliceCap: 1024, fullCap: 16000, outputMultiplier: 1 };
  const admission = { ok: true, meter } as unknown as AdmissionGranted & { meter: MeterGrant };
  const engine = {
    extend: async (_: AdmissionGranted, addCap: number) => {
      meter.heldCap += addCap;
      return { status: 'extended' as const, grantedAddCap: addCap };
    },
    farFromEnd: () => true,
  };
  const outputMeter = metered
    ? new OutputMeter(engine, admission, source, { model: MODEL, onUnavailable: 'reject', record })
    : undefined;
  for (const chunk of chunks) {
    text += chunk;
    bytes += Buffer.byteLength(chunk);
    if (outputMeter && (await outputMeter.afterChunk()) === 'cut')
      throw new Error('meter cut a bench answer');
    // The extension resolves before the next chunk, as a store round trip does between chunks.
    await Promise.resolve();
  }
}

async function cpuPerAnswer(chunks: string[][], metered: boolean, record: { extensions: number }) {
  for (let i = 0; i < 20; i++) await relay(chunks[i % chunks.length]!, metered, { extensions: 0 }); // JIT
  const start = process.cpuUsage();
  for (const answer of chunks) await relay(answer, metered, record);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / chunks.length;
}

export async function meterCost(answers: number): Promise<MeterCostFigure> {
  // Different text per answer, as answers differ (the tokenizer caches nothing across them).
  const whole = benchText(CHUNK_CHARS * CHUNKS * 8);
  const chunks = Array.from({ length: answers }, (_, a) => {
    const at = (a % 8) * CHUNK_CHARS * CHUNKS;
    return Array.from({ length: CHUNKS }, (_, c) =>
      whole.slice(at + c * CHUNK_CHARS, at + (c + 1) * CHUNK_CHARS),
    );
  });
  const off = await cpuPerAnswer(chunks, false, { extensions: 0 });
  const record = { extensions: 0 };
  const on = await cpuPerAnswer(chunks, true, record);
  return { answers, extensionsPerAnswer: record.extensions / answers, addedCpuUs: on - off };
}
