/**
 * The anonymous trial end to end, with the official SDK and no key: identity by header or by client
 * address, the trial model list, the trial budget with cost headers on every call, the
 * upgrade_message once it is used up, and no per-user series in /metrics.
 */
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { budgets, nanoOf, nanoOfNumber } from '../controls/helpers.js';
import { startReceiver } from '../controls/receiver.js';
import { type Stack, startStack } from '../helpers/stack.js';

const UPGRADE = 'Your free trial is over: create an account at example.com to keep going.';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function trialStack(identifyBy: string, hookUrl?: string): Promise<Stack> {
  const stack = await startStack({
    extraYaml: `
${hookUrl ? `alerts: { webhooks: [{ url: "${hookUrl}" }] }` : ''}
anonymous:
  enabled: true
  identify_by: "${identifyBy}"
  budget: { limit_usd: 0.002, period: daily }
  models: [gpt-4o-mini]
  upgrade_message: "${UPGRADE}"
`,
  });
  cleanups.push(() => stack.close());
  return stack;
}

/** The official SDK with no Authorization header at all (null removes the one apiKey would add). */
function trialClient(stack: Stack, headers: Record<string, string> = {}): OpenAI {
  return new OpenAI({
    apiKey: 'unused',
    baseURL: `${stack.gateway.url}/v1`,
    maxRetries: 0,
    defaultHeaders: { Authorization: null, ...headers },
  });
}

async function trialChat(client: OpenAI, model = 'gpt-4o-mini') {
  const { data, response } = await client.chat.completions
    .create(
      { model, max_tokens: 1000, messages: [{ role: 'user', content: 'Tell me about budgets.' }] },
      { headers: { 'x-mock-output-tokens': '1000' } },
    )
    .withResponse();
  return { data, headers: response.headers };
}

async function failure(promise: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OpenAI.APIError);
  return error as InstanceType<typeof OpenAI.APIError>;
}

describe('anonymous trial', () => {
  it('serves a visitor by header until the trial budget runs out, then 429 with the upgrade message', async () => {
    const hook = await startReceiver();
    const stack = await trialStack('header:x-trial-visitor', hook.url);
    cleanups.push(() => hook.close());
    const visitor = trialClient(stack, { 'x-trial-visitor': 'visitor-4711' });

    expect(stack.mock.served).toHaveLength(0);
    const forbidden = await failure(trialChat(visitor, 'gpt-4o'));
    expect(forbidden.status).toBe(403);
    expect(forbidden.message).toContain('not allowed for trial users');
    expect(stack.mock.served).toHaveLength(0);

    let spent = 0;
    let lastRemaining = Number.POSITIVE_INFINITY;
    let served = 0;
    let rejection: InstanceType<typeof OpenAI.APIError> | undefined;
    for (let i = 0; i < 10 && !rejection; i++) {
      try {
        const { headers } = await trialChat(visitor);
        served++;
        // Each call says what it cost and what is left of the trial.
        const cost = nanoOf(headers.get('x-gateway-cost-usd'));
        const remaining = nanoOf(headers.get('x-gateway-budget-remaining-usd'));
        expect(headers.get('x-gateway-budget-id')).toBe('anonymous-trial');
        expect(headers.get('x-gateway-model')).toBe('gpt-4o-mini');
        expect(cost).toBeGreaterThan(0);
        spent += cost;
        expect(remaining).toBe(2_000_000 - spent);
        expect(remaining).toBeLessThan(lastRemaining);
        lastRemaining = remaining;
      } catch (error) {
        rejection = error as InstanceType<typeof OpenAI.APIError>;
      }
    }
    expect(served).toBeGreaterThanOrEqual(3);
    expect(spent).toBeLessThanOrEqual(2_000_000);
    expect(rejection?.status).toBe(429);
    expect(rejection?.code).toBe('budget_exceeded');
    expect((rejection?.error as { message?: string } | undefined)?.message).toBe(UPGRADE);
    expect(rejection?.headers?.get('x-should-retry')).toBe('false');
    expect(stack.mock.served).toHaveLength(served);

    // The trial budget, seen by the visitor.
    const [trial] = await budgets(stack, { 'x-trial-visitor': 'visitor-4711' });
    expect(trial).toMatchObject({ id: 'anonymous-trial' });
    expect(nanoOfNumber(trial!.spent_usd)).toBe(spent);

    // Another visitor has a trial of their own.
    const other = await trialChat(trialClient(stack, { 'x-trial-visitor': 'visitor-0815' }));
    expect(nanoOf(other.headers.get('x-gateway-budget-remaining-usd'))).toBe(
      2_000_000 - nanoOf(other.headers.get('x-gateway-cost-usd')),
    );

    // Without the identifying header there is no trial: 401.
    const anonymous = await failure(trialChat(trialClient(stack)));
    expect(anonymous.status).toBe(401);

    // /metrics: no user label, no visitor id, the trial budget summarised as one template.
    const metrics = await (await fetch(`${stack.gateway.url}/metrics`)).text();
    expect(metrics).not.toContain('visitor-4711');
    expect(metrics).not.toContain('visitor-0815');
    expect(metrics).not.toMatch(/[{,]user="/);
    const trialSeries = metrics.split('\n').filter((l) => l.includes('budget="anonymous-trial"'));
    expect(trialSeries.length).toBeGreaterThan(0);
    expect(metrics).toMatch(/llm_gateway_budget_template_instances\{budget="anonymous-trial"\} 2\b/);
    expect(metrics).toMatch(/llm_gateway_cost_usd_total\{[^}]*team="anonymous"[^}]*\} /);

    // Running out of trial is the expected end of a trial, not an incident: no alert per visitor.
    await stack.gateway.alerts.idle();
    expect(hook.received).toEqual([]);
    expect(metrics).toMatch(/llm_gateway_alerts_total\{type="exhausted"\} 0\b/);
  });

  it('identifies visitors by their address with identify_by: ip', async () => {
    const stack = await trialStack('ip');
    const visitor = trialClient(stack);
    const { headers } = await trialChat(visitor);
    expect(headers.get('x-gateway-budget-id')).toBe('anonymous-trial');
    const [trial] = await budgets(stack, {});
    expect(trial?.instance).toBe('anonymous-trial|user=anon:127.0.0.1');
    expect(nanoOfNumber(trial!.spent_usd)).toBe(nanoOf(headers.get('x-gateway-cost-usd')));
    // A virtual key is never mistaken for a trial user.
    const keyed = await stack.openai().chat.completions.create({
      model: 'gpt-4o',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    expect(keyed.model).toBe('gpt-4o');
  });
});
