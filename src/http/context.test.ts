import { describe, expect, it } from 'vitest';
import { apiFormatOf, nextRequestId } from './context.js';

describe('the one rule for the error format', () => {
  it.each([
    ['/v1/messages', undefined, 'anthropic'],
    ['/v1/chat/completions', '2023-06-01', 'openai'],
    ['/v1/embeddings', undefined, 'openai'],
    ['/v1/messages/count_tokens', undefined, 'anthropic'],
    ['/admin/budgets', '2023-06-01', 'openai'],
    ['/v1/models', '2023-06-01', 'anthropic'],
    ['/v1/models', undefined, 'openai'],
    ['/v1/budget', '2023-06-01', 'anthropic'],
    ['/v1/nope', undefined, 'openai'],
  ] as const)('%s with anthropic-version %s: %s', (path, version, format) => {
    expect(apiFormatOf(path, version)).toBe(format);
  });
});

describe('request ids', () => {
  it('are req_ + 32 hex digits and differ from one request to the next', () => {
    const a = nextRequestId();
    const b = nextRequestId();
    expect(a).toMatch(/^req_[0-9a-f]{32}$/);
    expect(b).not.toBe(a);
  });
});
