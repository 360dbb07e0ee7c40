/**
 * [limits] Oversized prompts from refused callers (issue 13). Measured on main before the fair
 * queue and the pre-check: 16 concurrent 3.9 MB prompts from refused anonymous callers pushed a
 * paying key's 24k-character prompt from 8 ms to 7.5 s, because every prompt was counted whole
 * before the budget could refuse it. Now a prompt past 64k characters is first priced at a lower
 * bound of its tokens (UTF-8 bytes / 128, or one per ASCII letter-space pair: ~80% of prose's
 * count): a trial that cannot pay even that is refused uncounted.
 *
 * Large bodies are probed off the main thread first (src/http/body-probe.ts): a refused one is
 * never parsed there either.
 *
 * In process, what is asserted: the refused prompts are never counted (the token workers' queue
 * counter) nor parsed on the main thread (its counter), what the probe cannot judge takes the
 * ordinary path, a big prompt that fits is still admitted at its exact count. In a gateway process,
 * with the flood sent from a process of its own (refused callers are other machines, and 62 MB
 * written from the test's event loop would delay the paying client itself), what is printed: the
 * paying key's latency alone and behind the flood, when the trial can pay the lower bound but not
 * the count (counted, then refused: the bounded, fair queue alone), when it can pay every prefix's
 * bound but not the whole body's (read whole, refused by the pre-check in the probe's worker) and
 * when a prefix proves enough (refused, the rest unread): medians of ROUNDS floods, after WARM_FLOODS that are not measured (the first
 * floods of a fresh process run its refusal path unoptimized: 50-100 ms behind, against 22-31 ms
 * from the seventh on, with 18-28 ms alone). Last, the box's floor: the same flood sent to a
 * process that reads and discards it (test/helpers/upload-sink.mjs), the paying request to an idle
 * gateway. No timed assertion: the machine is shared.
 */

import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bigBodiesParsedHere } from '../../src/http/body.js';
import { bodiesParsedInProbe, bodiesProbed, bodyBytesProbed } from '../../src/http/body-probe.js';
import { type MockProvider, startMockProvider } from '../../src/mock/server.js';
import { pieceFloor } from '../../src/tokens/lower-bound.js';
import { tokenCountsQueued } from '../../src/tokens/worker-pool.js';
import { type GatewayProcess, spawnGateway } from '../helpers/processes.js';
import {
  ANTHROPIC_UPSTREAM_KEY,
  baseConfigYaml,
  OPENAI_UPSTREAM_KEY,
  type Stack,
  startStack,
  TEST_KEY,
} from '../helpers/stack.js';

const PROSE = 'Budgets keep spend inside limits while the gateway counts every token of every prompt. ';
const prose = (chars: number, seed: string) =>
  `${seed} ${PROSE.repeat(Math.ceil(chars / PROSE.length))}`.slice(0, chars);

/**
 * The trial budget, against the flood's 3.9 MB prompt at gpt-4o-mini's $0.15/M: its count is 717k
 * tokens ($0.108), its lower bound 583k tokens ($0.087: one per ASCII letter-space pair,
 * lower-bound.ts pieceFloor); its prefixes, judged at 128 KB and each doubling to 2 MB, prove
 * 19k-298k tokens ($0.003-$0.045). $0.001 and $0.01 are refused on a prefix, $0.06 by the
 * pre-check on the whole body, $0.095 only once counted.
 */
const options = (trialUsd: number) => ({
  serverYaml: ', max_body_bytes: 8mb',
  extraYaml: `
budgets:
  - { id: team-web, scope: { team: web }, limit_usd: 100, period: daily }
anonymous:
  enabled: true
  models: [gpt-4o-mini]
  identify_by: header:x-gateway-user
  budget: { limit_usd: ${trialUsd}, period: daily }
`,
});

/** A chat body, serialized once (the flood's 3.9 MB is not re-stringified per request). */
const chatBody = (content: string) =>
  JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 5, messages: [{ role: 'user', content }] });

async function send(url: string, body: string, headers: Record<string, string>) {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-mock-output-tokens': '5', ...headers },
    body,
  });
  const answer = (await res.json()) as { error?: { code?: string } };
  return { status: res.status, code: answer.error?.code };
}

const FLOOD_CLIENT = fileURLToPath(new URL('../helpers/upload-flood.mjs', import.meta.url));
const SINK = fileURLToPath(new URL('../helpers/upload-sink.mjs', import.meta.url));
const paying = { authorization: `Bearer ${TEST_KEY}` };
const FLOOD = prose(3_900_000, 'flood');

function floodOf(url: string, round: string) {
  const body = chatBody(FLOOD);
  return Array.from({ length: 16 }, (_, i) => send(url, body, { 'x-gateway-user': `${round}-${i}` }));
}

/**
 * The same flood from another process (test/helpers/upload-flood.mjs), as refused callers are
 * other machines: the paying client's latency is then the gateway's, not its own event loop busy
 * writing 62 MB. `uploading` resolves once every body is on its way.
 */
function floodFrom(url: string, round: string) {
  const child = spawn(process.execPath, [FLOOD_CLIENT], { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdin.end(
    JSON.stringify({
      url,
      path: '/v1/chat/completions',
      body: chatBody(FLOOD),
      count: 16,
      headers: { 'x-mock-output-tokens': '5' },
      visitorHeader: 'x-gateway-user',
      round,
    }),
  );
  const lines = createInterface({ input: child.stdout });
  let uploading!: () => void;
  const started = new Promise<void>((resolve) => (uploading = resolve));
  const answers = new Promise<Array<{ status: number; code?: string }>>((resolve, reject) => {
    lines.on('line', (line) => {
      if (line === 'uploading') uploading();
      else resolve(JSON.parse(line));
    });
    child.once('exit', (code) => reject(new Error(`upload flood exited with ${code} before answering`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { uploading: Promise.race([started, answers.then(() => {})]), answers, exited };
}

/** Floods sent to a fresh gateway before any is measured, and floods measured. */
const WARM_FLOODS = 4;
const ROUNDS = 5;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1] as number;

function tally(answers: Array<{ status: number; code?: string }>): string {
  const m: Record<string, number> = {};
  for (const a of answers) m[`${a.status} ${a.code}`] = (m[`${a.status} ${a.code}`] ?? 0) + 1;
  return JSON.stringify(m);
}

describe('oversized prompts from refused callers (in process)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(options(0.001));
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('are refused without being counted, or parsed on the main thread', async () => {
    const before = {
      counted: tokenCountsQueued(),
      parsed: bigBodiesParsedHere(),
      probed: bodiesProbed(),
      bytes: bodyBytesProbed(),
    };
    const answers = await Promise.all(floodOf(stack.gateway.url, 'refused'));
    expect(tokenCountsQueued() - before.counted).toBe(0);
    expect(bigBodiesParsedHere() - before.parsed).toBe(0);
    expect(bodiesProbed() - before.probed).toBe(16);
    // Refused on a prefix (128 KB of prose: 19k letter-space pairs, so as many tokens at least,
    // $0.003 > the $0.001 trial), the rest discarded unread: not even half of each body reached
    // the worker.
    const perBody = (bodyBytesProbed() - before.bytes) / 16;
    console.log(
      `[oversized prompts] bytes read into the probe per refused 3.9 MB body: ${Math.round(perBody)}`,
    );
    expect(perBody).toBeLessThan(FLOOD.length / 2);
    for (const a of answers) expect(a).toEqual({ status: 429, code: 'budget_exceeded' });
  }, 60_000);

  it('what the slim copy cannot judge takes the ordinary path: bad JSON, a long string outside the prompt', async () => {
    const trial = { 'x-gateway-user': 'odd-visitor' };
    const before = bigBodiesParsedHere();
    // Broken before its prompt: the prefix proves nothing, the ordinary parse answers.
    const broken = await send(stack.gateway.url, chatBody(FLOOD).replace('{"model"', '{,"model"'), trial);
    expect(broken).toEqual({ status: 400, code: 'invalid_json' });
    // Broken after a prompt it cannot pay for: refused on its first megabyte (prompt-prefix.ts),
    // like a mistake inside an emptied string.
    const late = await send(stack.gateway.url, chatBody(FLOOD).slice(0, -2), trial);
    expect(late).toEqual({ status: 429, code: 'budget_exceeded' });
    // A long `user` (cut to 200 characters by the ordinary path) is not what the slim copy shows.
    // Its prompt is a tool call's arguments, which the scan of the body does not count (only
    // message texts), so neither a prefix nor the whole body's scan proves it, and the ordinary
    // path parses it and its pre-check refuses it. (With the prompt in a message's content the
    // whole body's scan refuses it unparsed.)
    const longUser = JSON.stringify({
      user: FLOOD.slice(0, 2_000),
      model: 'gpt-4o-mini',
      messages: [
        { role: 'user', content: 'look this up' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'lookup', arguments: JSON.stringify({ text: prose(600_000, 'long-user') }) },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'found' },
      ],
    });
    expect(await send(stack.gateway.url, longUser, trial)).toEqual({ status: 429, code: 'budget_exceeded' });
    expect(bigBodiesParsedHere() - before).toBe(2);
  }, 60_000);

  it('a big prompt that fits is still admitted, counted exactly', async () => {
    const before = { counted: tokenCountsQueued(), parsed: bigBodiesParsedHere() };
    const answer = await send(stack.gateway.url, chatBody(prose(400_000, 'fits')), paying);
    expect(answer.status).toBe(200);
    expect(tokenCountsQueued() - before.counted).toBe(1);
    expect(bigBodiesParsedHere() - before.parsed).toBe(1);
    // Reserved at the exact count (~5 characters per token of this prose, $0.15/M), not at the
    // lower bound (400k / 128 = 3,125 tokens: 469 nano-USD).
    expect(stack.records.at(-1)!.estimateNano).toBeGreaterThan(((400_000 / 6) * 150) / 1000);
  }, 60_000);
});

describe('oversized prompts a trial can pay any prefix of, not the whole lower bound (in process)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(options(0.06));
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('are read whole by the probe, then refused on its scan of the whole body: never counted, nor parsed', async () => {
    const before = {
      counted: tokenCountsQueued(),
      parsed: bigBodiesParsedHere(),
      parsedInProbe: bodiesParsedInProbe(),
      bytes: bodyBytesProbed(),
    };
    const answers = await Promise.all(floodOf(stack.gateway.url, 'floor'));
    for (const a of answers) expect(a).toEqual({ status: 429, code: 'budget_exceeded' });
    expect(tokenCountsQueued() - before.counted).toBe(0);
    expect(bigBodiesParsedHere() - before.parsed).toBe(0);
    // The scan's bound over the whole body (583k tokens, $0.087) refuses it before the worker
    // joins and parses it (~10 ms of its CPU per body, on cores the main thread shares).
    expect(bodiesParsedInProbe() - before.parsedInProbe).toBe(0);
    // No prefix proved it (2 MB of prompt: $0.045): each body reached the worker whole.
    expect((bodyBytesProbed() - before.bytes) / 16).toBeGreaterThanOrEqual(FLOOD.length);
  }, 60_000);
});

describe('oversized prompts a trial can pay the lower bound of, not the count (in process)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(options(0.095));
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('past the token queue share of trial visitors are refused before the main thread parses them', async () => {
    const before = { counted: tokenCountsQueued(), parsed: bigBodiesParsedHere() };
    const answers = await Promise.all(floodOf(stack.gateway.url, 'queue'));
    const counted = tokenCountsQueued() - before.counted;
    const parsed = bigBodiesParsedHere() - before.parsed;
    const queueRefused = answers.filter((a) => a.code === 'rate_limit_exceeded').length;
    console.log(
      `[oversized prompts] $0.095 trial, 16 x 3.9 MB: ${tally(answers)}; counted ${counted}, parsed on the main thread ${parsed}`,
    );
    // Every visitor shares the trial's share of the queue (16 MB: four of these prompts).
    for (const a of answers) expect(a.status).toBe(429);
    expect(counted + queueRefused).toBe(16);
    expect(queueRefused).toBeGreaterThan(0);
    // The probe's pre-check holds the queue room of each body it lets through (its count takes
    // it), so a body past the share is refused unparsed: only the counted ones were parsed here.
    // (Asking for room without holding it: 8 parsed for 4 counted, bodies arriving together.)
    expect(parsed).toBe(counted);
  }, 60_000);
});

describe("oversized prompts and a paying key's latency (gateway processes)", () => {
  let mock: MockProvider;
  beforeAll(async () => {
    mock = await startMockProvider({
      openaiApiKey: OPENAI_UPSTREAM_KEY,
      anthropicApiKey: ANTHROPIC_UPSTREAM_KEY,
    });
  });
  afterAll(async () => {
    await mock?.close();
  });

  /** `floodUrl`: where the flood goes (the gateway itself unless given: the sink's control run). */
  async function measure(trialUsd: number, floodUrl?: string) {
    const gateway: GatewayProcess = await spawnGateway(
      baseConfigYaml(mock.url, options(trialUsd), mkdtempSync(join(tmpdir(), 'gw-big-'))),
    );
    const floodTo = floodUrl ?? gateway.url;
    try {
      const payingMs = async (seed: string) => {
        const body = chatBody(prose(24_000, seed));
        const start = performance.now();
        const answer = await send(gateway.url, body, paying);
        expect(answer.status).toBe(200);
        return performance.now() - start;
      };
      // The token worker's and the body probe's cold starts are not what is measured, nor the
      // refusal path before it is optimized.
      await payingMs('warm');
      expect((await send(gateway.url, chatBody(prose(300_000, 'warm')), paying)).status).toBe(200);
      for (let round = 0; round < WARM_FLOODS; round++) {
        const flood = floodFrom(floodTo, `warm-${trialUsd}-${round}`);
        for (const a of await flood.answers) expect(a.status).toBe(429);
        await flood.exited;
      }
      const rounds: Array<{ alone: number; behind: number }> = [];
      let answers: Array<{ status: number; code?: string }> = [];
      for (let round = 0; round < ROUNDS; round++) {
        // Alone: the last flood's process has exited, its uploads discarded.
        const alone = await payingMs(`alone-${round}`);
        const flood = floodFrom(floodTo, `trial-${trialUsd}-${round}`);
        // Sent once every flood body is on its way, so it lands among them.
        await flood.uploading;
        const behind = await payingMs(`behind-${round}`);
        answers = await flood.answers;
        for (const a of answers) expect(a.status).toBe(429);
        await flood.exited;
        rounds.push({ alone, behind });
      }
      const alone = median(rounds.map((r) => r.alone));
      const behind = median(rounds.map((r) => r.behind));
      const each = rounds.map((r) => `${r.alone.toFixed(1)}/${r.behind.toFixed(1)}`).join(' ');
      return { alone, behind, each, answers };
    } finally {
      await gateway.stop();
    }
  }

  /** A process that reads every upload whole and discards it (test/helpers/upload-sink.mjs). */
  async function startSink() {
    const child = spawn(process.execPath, [SINK], { stdio: ['pipe', 'pipe', 'inherit'] });
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`upload sink exited with ${code}`)));
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    return {
      url,
      async stop() {
        child.stdin.end();
        await exited;
      },
    };
  }

  it('prints the figures before and after the pre-check', async () => {
    const counted = await measure(0.095);
    const whole = await measure(0.06);
    const prefix = await measure(0.01);
    // The box's floor: the same flood read whole and discarded by another process, the paying
    // request to an idle gateway (what the two shared cores cost, whatever the gateway does).
    const sink = await startSink();
    const floor = await measure(0.01, sink.url).finally(() => sink.stop());
    const figures = (name: string, m: typeof counted) =>
      `${name}: ${m.alone.toFixed(1)} ms alone, ${m.behind.toFixed(1)} ms behind, ${(m.behind - m.alone).toFixed(1)} ms added (${tally(m.answers)}; alone/behind ${m.each})`;
    console.log(
      `[oversized prompts] paying 24k-char prompt behind 16 x 3.9 MB trial prompts (lower bound ${pieceFloor(FLOOD)} tokens), medians of ${ROUNDS} floods after ${WARM_FLOODS}: ` +
        `${figures('counted then refused (trial $0.095)', counted)}; ` +
        `${figures('refused by the pre-check on the whole body (trial $0.06)', whole)}; ` +
        `${figures('refused on a prefix (trial $0.01)', prefix)}; ` +
        `${figures('the box alone: the flood read and discarded by another process', floor)}; ` +
        'on main before the fair queue and the pre-check: 8 ms -> 7.5 s',
    );
    for (const a of [...whole.answers, ...prefix.answers]) expect(a.code).toBe('budget_exceeded');
  }, 600_000);
});
