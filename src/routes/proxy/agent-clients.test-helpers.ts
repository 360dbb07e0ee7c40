/**
 * Claude Code's and Codex CLI's request shapes, for the tests that replay them (agent-clients.test.ts,
 * the usage-by-session tests). Written from what the clients document and what their sources build
 * (Claude Code: /v1/messages?beta=true with a cached system prompt, tools, metadata.user_id,
 * anthropic-beta and X-Claude-Code-Session-Id; Codex: a streamed /v1/responses body as
 * codex-rs/core/src/client.rs builds it, its conversation id in the `session_id` header), not
 * recorded from a live session: this machine has neither client nor the network to reach one.
 */
import { TEST_KEY } from '../../../test/helpers/stack.js';

export const SESSION = '8f0e2c1a-5b7d-4e3f-9a61-2d4c8b7e0f15';

export const claudeCodeHeaders = {
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

export const claudeCodeBody = {
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

export const codexBody = {
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

/** The headers Codex CLI sends on POST /v1/responses (session_id: its conversation id). */
export function codexHeaders(key = TEST_KEY, session = codexBody.prompt_cache_key): Record<string, string> {
  return {
    authorization: `Bearer ${key}`,
    'content-type': 'application/json',
    accept: 'text/event-stream',
    'openai-beta': 'responses=experimental',
    originator: 'codex_cli_rs',
    session_id: session,
  };
}
