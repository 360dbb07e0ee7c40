/**
 * A trial that cannot be farmed (issue 13): rotating the visitor header over 600 ids spends at most
 * anonymous.total; a spoofed X-Forwarded-For behind a trusted proxy gets one trial; a visitor named
 * like a real user moves and sees nothing of theirs; signed visitor ids cannot be invented; a
 * visitor's own rate limit answers 429 rate_limit_exceeded.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { signVisitor } from '../../src/limits/client-ip.js';
import { budgetById, budgets } from '../controls/helpers.js';
import { type Stack, startStack } from '../helpers/stack.js';
import { totalServedCost } from './fixtures.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function trialStack(anonymous: string, extra = ''): Promise<Stack> {
  const stack = await startStack({
    extraYaml: `
budgets:
  - { id: per-user-daily, scope: { user: "*" }, limit_usd: 5, period: daily }
anonymous:
  enabled: true
  models: [gpt-4o-mini]
${anonymous}
${extra}
`,
  });
  cleanups.push(() => stack.close());
  return stack;
}

async function trialChat(stack: Stack, headers: Record<string, string>) {
  const res = await fetch(`${stack.gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-mock-output-tokens': '100', ...headers },
    body: JSON.stringify({
      model: 'gpt-4o-mini',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'Hi' }],
    }),
  });
  const body = (await res.json()) as { error?: { code?: string } };
  return { status: res.status, code: body.error?.code, headers: res.headers };
}

describe('trial hardening', () => {
  it('600 rotated visitor ids spend at most anonymous.total', async () => {
    const stack = await trialStack(`
  identify_by: header:x-gateway-user
  budget: { limit_usd: 0.10, period: daily }
  total: { limit_usd: 0.002, period: daily }`);
    const answers = [];
    for (let batch = 0; batch < 12; batch++) {
      answers.push(
        ...(await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            trialChat(stack, { 'x-gateway-user': `visitor-${batch * 50 + i}` }),
          ),
        )),
      );
    }
    const served = answers.filter((a) => a.status === 200).length;
    const spentNano = totalServedCost(stack.mock.served);
    console.log(
      `[trial] 600 rotated visitors: ${served} served, provider cost $${(spentNano / 1e9).toFixed(6)} of a $0.002 total`,
    );
    expect(spentNano).toBeLessThanOrEqual(2_000_000);
    expect(served).toBeGreaterThan(0);
    expect(answers.filter((a) => a.status === 429 && a.code === 'budget_exceeded').length).toBe(600 - served);
  });

  it('a spoofed X-Forwarded-For behind a trusted proxy gets one trial', async () => {
    // The test client connects from 127.0.0.1, standing in for the load balancer, which appends
    // the real client (203.0.113.7); everything left of that hop is the client's own writing.
    const stack = await trialStack(`
  identify_by: ip
  trusted_proxies: ["127.0.0.1/32", "10.0.0.0/8"]
  budget: { limit_usd: 0.0003, period: daily }`);
    const answers = [];
    for (let i = 0; i < 30; i++) {
      answers.push(await trialChat(stack, { 'x-forwarded-for': `198.51.100.${i}, 203.0.113.7, 10.1.2.3` }));
    }
    const served = answers.filter((a) => a.status === 200).length;
    expect(totalServedCost(stack.mock.served)).toBeLessThanOrEqual(300_000);
    expect(served).toBeLessThan(30);
    const [trial] = await budgets(stack, { 'x-forwarded-for': '1.1.1.1, 203.0.113.7' });
    expect(trial?.instance).toBe('anonymous-trial|user=anon:203.0.113.7');
    // A non-IP hop never becomes an identity: the proxy that wrote it answers for it.
    const [garbage] = await budgets(stack, { 'x-forwarded-for': 'visitor-zz, 10.1.2.3' });
    expect(garbage?.instance).toBe('anonymous-trial|user=anon:10.1.2.3');
  });

  it('a trial visitor named like a real user neither spends nor sees their budgets', async () => {
    const stack = await trialStack(`
  identify_by: header:x-gateway-user
  budget: { limit_usd: 0.10, period: daily }`);
    expect((await trialChat(stack, { 'x-gateway-user': 'alice' })).status).toBe(200);
    const seen = await budgets(stack, { 'x-gateway-user': 'alice' });
    expect(seen.map((b) => b.instance ?? b.id)).toEqual(['anonymous-trial|user=anon:alice']);
    // alice's own line (key alpha has user alice) moved nothing.
    const alice = await budgetById(stack, 'per-user-daily');
    expect(alice).toMatchObject({ instance: 'per-user-daily|user=alice', spent_usd: 0 });
  });

  it('signed visitor ids: an invented id is refused, a signed one served', async () => {
    const secret = 'trial-visitor-secret-0123456789';
    const stack = await trialStack(`
  identify_by: header:x-visitor
  visitor_secret: "${secret}"
  budget: { limit_usd: 0.10, period: daily }`);
    expect((await trialChat(stack, { 'x-visitor': 'v-1' })).status).toBe(401);
    expect((await trialChat(stack, { 'x-visitor': 'v-1.deadbeef' })).status).toBe(401);
    expect((await trialChat(stack, { 'x-visitor': `v-1.${signVisitor('v-1', secret)}` })).status).toBe(200);
  });

  it("a visitor's own limits answer 429 rate_limit_exceeded with retry headers", async () => {
    const stack = await trialStack(`
  identify_by: header:x-gateway-user
  budget: { limit_usd: 0.10, period: daily }
  limits: { requests_per_minute: 2 }`);
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await trialChat(stack, { 'x-gateway-user': 'v-9' }));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 429]);
    expect(answers[2]).toMatchObject({ code: 'rate_limit_exceeded' });
    expect(answers[2]!.headers.get('x-should-retry')).toBe('true');
    expect(Number(answers[2]!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(answers[1]!.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    // Another visitor has limits of their own.
    expect((await trialChat(stack, { 'x-gateway-user': 'v-10' })).status).toBe(200);
  });
});
