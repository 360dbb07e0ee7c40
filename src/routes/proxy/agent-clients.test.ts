/**
 * Claude Code and Codex CLI request shapes replayed through the gateway. The fixtures are built from
 * what the clients send (Claude Code: /v1/messages?beta=true with a cached system prompt, tools,
 * metadata.user_id, anthropic-beta and X-Claude-Code-Session-Id, and its count_tokens call; Codex:
 * a streamed /v1/responses body as codex-rs/core/src/client.rs builds it), not captured from a live
 * session: this machine has neither client.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Stack, startStack, TEST_KEY } from '../../../test/helpers/stack.js';
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

const SESSION = '8f0e2c1a-5b7d-4e3f-9a61-2d4c8b7e0f15';

const claudeCodeHeaders = {
  'x-api-key': TEST_KEY,
  'anthropic-version': '2023-06-01',
  'anthropic-beta':
    'claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14',
  'anthropic-dangerous-direct-browser-access': 'true',
  'x-app': 'cli',
  'user-agent': 'claude-cli/2.1.0 (external, cli)',
  'x-claude-code-session-id': SESSION,
  'content-type': 'application/json',
};

const claudeCodeBody = {
  model: 'claude-opus-4-8',
  max_tokens: 32000,
  stream: true,
  system: [
    {
      type: 'text',
      text: "You are Claude Code, Anthropic's official CLI for Claude.",
      cache_control: { type: 'ephemeral' },
    },
    {
      type: 'text',
      text: 'You are an interactive CLI tool that helps users with software engineering tasks.',
    },
  ],
  messages: [
    {
      role: 'user',
      content: [
        { type: 'text', text: '<system-reminder>This is a reminder.</system-reminder>' },
        { type: 'text', text: 'List the files here.', cache_control: { type: 'ephemeral' } },
      ],
    },
  ],
  tools: [
    {
      name: 'Bash',
      description: 'Executes a given bash command.',
      input_schema: {
        type: 'object',
        properties: { command: { type: 'string' }, timeout: { type: 'number' } },
        required: ['command'],
        additionalProperties: false,
        $schema: 'http://json-schema.org/draft-07/schema#',
      },
    },
  ],
  metadata: { user_id: `user_3c9a_account__session_${SESSION}` },
  thinking: { type: 'enabled', budget_tokens: 31999 },
  temperature: 1,
};

const codexBody = {
  model: 'gpt-5.3-codex',
  instructions: 'You are Codex, based on GPT-5. You are running as a coding agent in the Codex CLI.',
  input: [
    {
      type: 'message',
      role: 'user',
      content: [{ type: 'input_text', text: '<environment_context>cwd: /repo</environment_context>' }],
    },
    { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Fix the failing test.' }] },
  ],
  tools: [
    {
      type: 'function',
      name: 'shell',
      description: 'Runs a shell command and returns its output.',
      strict: false,
      parameters: {
        type: 'object',
        properties: { command: { type: 'array', items: { type: 'string' } }, workdir: { type: 'string' } },
        required: ['command'],
        additionalProperties: false,
      },
    },
  ],
  tool_choice: 'auto',
  parallel_tool_calls: false,
  reasoning: { effort: 'medium', summary: 'auto' },
  store: false,
  stream: true,
  include: ['reasoning.encrypted_content'],
  prompt_cache_key: '0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
};

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
      headers: {
        authorization: `Bearer ${TEST_KEY}`,
        'content-type': 'application/json',
        accept: 'text/event-stream',
        'openai-beta': 'responses=experimental',
        originator: 'codex_cli_rs',
        session_id: codexBody.prompt_cache_key,
      },
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
    expect(record.session).toBeNull();
  });
});
