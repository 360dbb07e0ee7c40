// Budget burn-down: many requests against one small budget until it says no. Checks that every
// answer is either served (200) or a 429 budget_exceeded that tells the SDK not to retry, that
// the budget does run out (BURN_MUST_EXHAUST=0 to allow a budget too big to exhaust), and that
// nothing else (5xx, other errors) happens on the way.
// Point it at a key or user whose budget is small, e.g. a per-user budget and a fresh user:
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e USER_HEADER=burn-$(date +%s) load/budget-burn.js
import { check } from 'k6';
import { Counter } from 'k6/metrics';
import { chat, errorCode, mockHeaders } from './common.js';

const served = new Counter('burn_served');
const rejected = new Counter('burn_budget_rejections');
const unexpected = new Counter('burn_unexpected');

const thresholds = { burn_unexpected: ['count==0'], checks: ['rate==1'] };
if (__ENV.BURN_MUST_EXHAUST !== '0') thresholds.burn_budget_rejections = ['count>0'];

export const options = {
  vus: Number(__ENV.VUS || 16),
  duration: __ENV.DURATION || '30s',
  thresholds,
};

export default function () {
  const response = chat(
    `Write a long story, part ${__ITER}.`,
    { max_tokens: Number(__ENV.BURN_MAX_TOKENS || 1024) },
    mockHeaders({ 'x-mock-output-tokens': '500' }),
  );
  if (response.status === 200) {
    served.add(1);
    check(response, { 'served with its cost': (r) => r.headers['X-Gateway-Cost-Usd'] !== undefined });
  } else if (response.status === 429) {
    rejected.add(1);
    check(response, {
      'rejection is budget_exceeded': (r) => errorCode(r) === 'budget_exceeded',
      'rejection says do not retry': (r) => r.headers['X-Should-Retry'] === 'false',
    });
  } else {
    unexpected.add(1);
  }
}
