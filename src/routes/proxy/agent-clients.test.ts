/**
 * Claude Code and Codex CLI request shapes replayed through the gateway (agent-clients.test-helpers.ts:
 * written from the clients' documented and source-built shapes, not recorded live), and its
 * count_tokens call; each client's session id recorded as the request's session.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Stack, startStack, TEST_KEY } from '../../../test/helpers/stack.js';
import {
  claudeCodeBody,
  claudeCodeHeaders,
  codexBody,
  codexHeaders,
  SESSION,
} from './agent-clients.test-helpers.js';
import { GLOBAL_BUDGET_YAML, onlyServed, recordOf } from './stack.test-helpers.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    modelsYaml: `  claude-opus-4-8: { provider: anthropic, max_output_tokens: 64000 }
  gpt-5.3-codex: { provider: openai, max_output_tokens: 128000 }`,
    extraYaml: GLOBAL_BUDGET_YAML,
  });
});
afterAll(async () => {
  await stack?.close();
});
beforeEach(() => {
  stack.mock.reset();
});

describe('Claude Code', () => {
  it('/v1/messages?beta=true: the query and the betas reach the provider, the session is recorded, the stream billed', async () => {
    const response = await fetch(`${stack.gateway.url}/v1/messages?beta=true`, {
      method: 'POST',
      headers: claudeCodeHeaders,
      body: JSON.stringify(claudeCodeBody),
    });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain('event: message_stop');
    const served = onlyServed(stack);
    expect(served.query).toBe('beta=true');
    expect(served.headers['anthropic-beta']).toBe(claudeCodeHeaders['anthropic-beta']);
    expect(served.headers['x-api-key']).not.toBe(TEST_KEY);
    expect((served.body as { metadata: unknown }).metadata).toEqual(claudeCodeBody.metadata);
    const record = await recordOf(stack, response.headers.get('x-gateway-request-id'));
    expect(record.session).toBe(SESSION);
    expect(record.servedModel).toBe('claude-opus-4-8');
    expect(record.costNano).toBeGreaterThan(0);
  });

  it('its count_tokens call (also ?beta=true) is answered without a provider call', async () => {
    const { model, system, messages, tools } = claudeCodeBody;
    const response = await fetch(`${stack.gateway.url}/v1/messages/count_tokens?beta=true`, {
      method: 'POST',
      headers: claudeCodeHeaders,
      body: JSON.stringify({ model, system, messages, tools }),
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { input_tokens: number }).input_tokens).toBeGreaterThan(30);
    expect(stack.mock.served).toHaveLength(0);
  });

  it('other query parameters never reach the provider', async () => {
    const response = await fetch(`${stack.gateway.url}/v1/messages?beta=true&target=evil`, {
      method: 'POST',
      headers: claudeCodeHeaders,
      body: JSON.stringify({ ...claudeCodeBody, stream: false }),
    });
    expect(response.status).toBe(200);
    expect(onlyServed(stack).query).toBe('beta=true');
  });
});

describe('Codex CLI', () => {
  it('its streamed /v1/responses body is served and billed; no query reaches an OpenAI provider', async () => {
    const response = await fetch(`${stack.gateway.url}/v1/responses?beta=true`, {
      method: 'POST',
      headers: codexHeaders(),
      body: JSON.stringify(codexBody),
    });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain('response.completed');
    const served = onlyServed(stack);
    expect(served.model).toBe('gpt-5.3-codex');
    expect(served.query).toBe('');
    const record = await recordOf(stack, response.headers.get('x-gateway-request-id'));
    expect(record.costNano).toBeGreaterThan(0);
    // Its session_id header (the conversation id) is the request's session.
    expect(record.session).toBe(codexBody.prompt_cache_key);
  });
});

describe('session ids', () => {
  it('one that is not short and plain is not recorded; the request is served all the same', async () => {
    for (const bad of ['x'.repeat(129), 'a b', 'sess\u00e9', '']) {
      const response = await fetch(`${stack.gateway.url}/v1/messages?beta=true`, {
        method: 'POST',
        headers: { ...claudeCodeHeaders, 'x-claude-code-session-id': bad },
        body: JSON.stringify({ ...claudeCodeBody, stream: false }),
      });
      expect(response.status).toBe(200);
      const record = await recordOf(stack, response.headers.get('x-gateway-request-id'));
      expect(record.session).toBeNull();
    }
  });

  it("Claude Code's header wins over a session_id sent beside it", async () => {
    const response = await fetch(`${stack.gateway.url}/v1/messages`, {
      method: 'POST',
      headers: { ...claudeCodeHeaders, session_id: 'other-session' },
      body: JSON.stringify({ ...claudeCodeBody, stream: false }),
    });
    expect(response.status).toBe(200);
    expect((await recordOf(stack, response.headers.get('x-gateway-request-id'))).session).toBe(SESSION);
  });
});
