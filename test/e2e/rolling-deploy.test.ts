/**
 * [hardening] 6, with real processes: SIGTERM under keep-alive load. Readiness fails first; the
 * gateway keeps serving through server.shutdown.pre_stop_delay_ms with `connection: close` on every
 * answer, so no kept-alive socket is reset; then it stops accepting; a stream longer than the grace
 * period ends as a complete HTTP message rather than a cut socket.
 *
 * The load balancer is simulated: it polls /readyz and stops sending new requests once it reads
 * 503, as a Kubernetes Service or an ALB target group does.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MockProvider, startMockProvider } from '../../src/mock/server.js';
import { type GatewayProcess, spawnGateway } from '../helpers/processes.js';
import { ANTHROPIC_UPSTREAM_KEY, baseConfigYaml, OPENAI_UPSTREAM_KEY, TEST_KEY } from '../helpers/stack.js';

const PRE_STOP_MS = 1500;
const GRACE_MS = 1500;
const WORKERS = 8;

function errorCode(error: unknown): string {
  const e = error as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  return e.cause?.code ?? e.code ?? (error as Error).message;
}

describe('SIGTERM under keep-alive load', () => {
  let mock: MockProvider;
  let gateway: GatewayProcess;
  beforeAll(async () => {
    mock = await startMockProvider({
      openaiApiKey: OPENAI_UPSTREAM_KEY,
      anthropicApiKey: ANTHROPIC_UPSTREAM_KEY,
    });
    const dir = mkdtempSync(join(tmpdir(), 'gw-deploy-'));
    const serverYaml = `, shutdown: { pre_stop_delay_ms: ${PRE_STOP_MS}, grace_ms: ${GRACE_MS} }`;
    gateway = await spawnGateway(baseConfigYaml(mock.url, { serverYaml }, dir));
  }, 90_000);
  afterAll(async () => {
    await gateway?.stop();
    await mock?.close();
  });

  it('fails readiness first, resets no connection, accepts nothing after the delay, ends long streams cleanly', async () => {
    const agent = new Agent({ keepAliveTimeout: 60_000, connections: WORKERS });
    const probe = new Agent({ keepAliveTimeout: 60_000, connections: 1 });
    const headers = {
      'content-type': 'application/json',
      authorization: `Bearer ${TEST_KEY}`,
      'x-mock-latency-ms': '15',
    };
    const body = JSON.stringify({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 5,
    });
    const outcomes = new Map<string, number>();
    let inRotation = true;
    let signalledAt = 0;
    let notReadyAt = 0;
    let lastAcceptedAt = 0;

    const worker = async () => {
      while (inRotation) {
        try {
          const answer = await request(`${gateway.url}/v1/chat/completions`, {
            method: 'POST',
            dispatcher: agent,
            headers,
            body,
          });
          await answer.body.arrayBuffer();
          outcomes.set(String(answer.statusCode), (outcomes.get(String(answer.statusCode)) ?? 0) + 1);
          if (signalledAt > 0) lastAcceptedAt = Date.now();
        } catch (error) {
          const code = errorCode(error);
          outcomes.set(code, (outcomes.get(code) ?? 0) + 1);
        }
      }
    };
    const poller = async () => {
      while (inRotation) {
        const answer = await request(`${gateway.url}/readyz`, { dispatcher: probe }).catch(() => undefined);
        await answer?.body.arrayBuffer();
        if (answer?.statusCode === 503) {
          notReadyAt = Date.now();
          inRotation = false;
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };

    // A stream that outlives the pre-stop delay and the grace period together.
    const stream = (async () => {
      const answer = await request(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: {
          ...headers,
          'x-mock-chunks': '200',
          'x-mock-chunk-delay-ms': '50',
          'x-mock-output-tokens': '400',
        },
        body: JSON.stringify({
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: 'hi' }],
          stream: true,
          max_tokens: 500,
        }),
      });
      let text = '';
      for await (const chunk of answer.body) text += chunk.toString();
      return {
        status: answer.statusCode,
        chunks: text.split('\n\n').filter((e) => e.startsWith('data: {')).length,
      };
    })().catch((error) => ({ status: 0, chunks: 0, error: errorCode(error) }));

    // Warm (the first request loads the tokenizer), then load for a while before the signal.
    const warm = await request(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      dispatcher: agent,
      headers,
      body,
    });
    await warm.body.arrayBuffer();
    expect(warm.statusCode).toBe(200);
    // Should the gateway exit without ever failing readiness, the load ends with it.
    void gateway.exited.then(() => {
      inRotation = false;
    });
    const load = [poller(), ...Array.from({ length: WORKERS }, worker)];
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const before = [...outcomes.values()].reduce((a, b) => a + b, 0);
    signalledAt = Date.now();
    gateway.kill('SIGTERM');
    await Promise.all(load);

    // Past the delay the listener is gone: a new connection is refused, never served.
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, signalledAt + PRE_STOP_MS + 300 - Date.now())),
    );
    const late = await request(`${gateway.url}/readyz`, { dispatcher: new Agent() }).then(
      (answer) => String(answer.statusCode),
      (error) => errorCode(error),
    );
    const streamed = await stream;
    const exit = await gateway.exited;
    await agent.close();
    await probe.close();

    const summary = {
      before_signal: before,
      outcomes: Object.fromEntries(outcomes),
      readiness_failed_after_ms: notReadyAt - signalledAt,
      last_accepted_after_ms: lastAcceptedAt === 0 ? null : lastAcceptedAt - signalledAt,
      late_request: late,
      stream: streamed,
      exit,
    };
    console.log(`rolling deploy: ${JSON.stringify(summary)}`);
    expect([...outcomes.keys()]).toEqual(['200']);
    expect(before).toBeGreaterThan(20);
    expect(notReadyAt - signalledAt).toBeLessThan(PRE_STOP_MS);
    expect(late).toBe('ECONNREFUSED');
    // The stream ended as a complete message, short of its 200 chunks (it outlived the grace).
    expect(streamed).toMatchObject({ status: 200 });
    expect('error' in streamed).toBe(false);
    expect(streamed.chunks).toBeGreaterThan(0);
    expect(streamed.chunks).toBeLessThan(200);
    expect(exit).toBe(0);
  }, 60_000);
});
