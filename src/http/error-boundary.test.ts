/**
 * The one error boundary: what each kind of thrown value becomes, in which format. The admin routes
 * rely on it answering their problems (every field) in OpenAI's shape whatever the client sends.
 */
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import { GatewayError, invalidRequest } from '../errors.js';
import { createLogger } from '../logger.js';
import { StoreUnavailableError } from '../store/types.js';
import { createGatewayApp } from './app.js';
import { requestContext } from './context.js';
import { installErrorBoundary } from './error-boundary.js';

const config = parseConfig(
  `
store: { type: sqlite, path: ":memory:" }
providers: { openai: { kind: openai, base_url: "http://upstream.test/v1", api_key: "sk-x" } }
models: { gpt-4o-mini: { provider: openai, input: 0.15, output: 0.60 } }
`,
  '(unit test)',
  {},
);

/** Thrown by admin validation today (admin/http.ts AdminProblem): an Error carrying `problems`. */
class ProblemsError extends Error {
  constructor(readonly problems: Array<{ field: string; message: string }>) {
    super(problems.map((p) => `${p.field}: ${p.message}`).join('; '));
  }
}

function appThrowing(error: unknown) {
  const lines: string[] = [];
  const app = createGatewayApp();
  app.use(requestContext(() => config));
  installErrorBoundary(app, createLogger('info', { write: (line: string) => lines.push(line) }));
  // Admin routes live in their own plain Hono app, routed in (gateway.ts): errors still reach here.
  const admin = new Hono();
  admin.post('/admin/thing', () => {
    throw error;
  });
  app.route('/', admin);
  app.get('/v1/budget', () => {
    throw error;
  });
  return { app, lines };
}

const ANTHROPIC = { 'anthropic-version': '2023-06-01' };
const problems = [
  { field: 'limit_usd', message: 'expected a number' },
  { field: 'period', message: 'unknown value' },
];

describe('on /admin paths, always OpenAI’s shape', () => {
  it.each([
    ['an Error with problems', new ProblemsError(problems)],
    ['invalidRequest(problems)', invalidRequest(problems)],
  ])('%s: 400 invalid_request listing every problem', async (_name, error) => {
    const { app, lines } = appThrowing(error);
    const response = await app.request('/admin/thing', { method: 'POST', headers: ANTHROPIC });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: {
        message: 'Invalid request: 2 problems: limit_usd: expected a number; period: unknown value',
        type: 'invalid_request_error',
        code: 'invalid_request',
        param: 'limit_usd',
        problems,
      },
    });
    expect(lines).toEqual([]);
  });

  it('a GatewayError keeps its code, status and headers', async () => {
    const { app } = appThrowing(new GatewayError('conflict', 'exists', { headers: { 'x-extra': '1' } }));
    const response = await app.request('/admin/thing', { method: 'POST', headers: ANTHROPIC });
    expect(response.status).toBe(409);
    expect(response.headers.get('x-extra')).toBe('1');
    expect(await response.json()).toMatchObject({ error: { code: 'conflict', message: 'exists' } });
  });

  it('a store that does not answer is a 503 store_unavailable, not logged as unknown', async () => {
    const { app, lines } = appThrowing(new StoreUnavailableError('redis timed out'));
    const response = await app.request('/admin/thing', { method: 'POST' });
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({
      error: {
        code: 'store_unavailable',
        message: 'The store is unavailable; nothing was changed. Retry shortly.',
      },
    });
    expect(lines).toEqual([]);
  });
});

describe('on shared routes, the client’s format', () => {
  it('an unknown error: 500 internal_error, details only in the log', async () => {
    const { app, lines } = appThrowing(new TypeError('cannot read x of undefined'));
    const response = await app.request('/v1/budget', { headers: ANTHROPIC });
    expect(response.status).toBe(500);
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({
      type: 'error',
      error: { type: 'api_error', message: 'The gateway failed to handle this request.' },
    });
    expect(text).not.toContain('cannot read');
    const [line] = lines.map((l) => JSON.parse(l));
    expect(line).toMatchObject({ msg: 'unhandled error', method: 'GET', path: '/v1/budget', level: 50 });
    expect(line.requestId).toBe(response.headers.get('x-gateway-request-id'));
    expect(line.err).toMatchObject({ type: 'TypeError', message: 'cannot read x of undefined' });
    expect(line.err.stack).toContain('error-boundary.test.ts');
  });
});
