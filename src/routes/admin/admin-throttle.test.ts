/** Failed admin-token attempts are throttled per client; a short admin token stops start-up. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, type Stack, startStack } from '../../../test/helpers/stack.js';
import { compileConfig } from '../../config/compile.js';
import { configSchema } from '../../config/schema.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ adminFailedPerMinute: 3 });
});
afterAll(async () => {
  await stack?.close();
});

const call = (token: string) =>
  fetch(`${stack.gateway.url}/admin/budgets`, { headers: { authorization: `Bearer ${token}` } });

describe('admin token guessing', () => {
  it('answers 429 past the failed attempts allowed per minute, before comparing the token', async () => {
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await call(`guess-${i}`)).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    const blocked = await call(ADMIN_TOKEN);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(50);
    expect(((await blocked.json()) as { error: { code: string } }).error.code).toBe('rate_limit_exceeded');
  });

  it('refuses an admin token under 32 characters, saying why', () => {
    const short = compileConfig(configSchema.parse({ admin: { token: 'only-twenty-characters' } }));
    expect(short.problems).toEqual([expect.stringContaining('admin.token: expected at least 32 characters')]);
    const long = compileConfig(configSchema.parse({ admin: { token: ADMIN_TOKEN } }));
    expect(long.problems).toEqual([]);
  });

  it('checks trusted_proxies and limits', () => {
    const { problems } = compileConfig(
      configSchema.parse({
        anonymous: { trusted_proxies: ['10.0.0.0/8', '10.0.0.0/33', 'lb.internal'] },
        limits: [{ id: 'x', scope: 'global' }],
      }),
    );
    expect(problems).toEqual([
      expect.stringContaining('limits[0]: expected at least one of'),
      expect.stringContaining('anonymous.trusted_proxies[1]'),
      expect.stringContaining('anonymous.trusted_proxies[2]'),
    ]);
  });
});
