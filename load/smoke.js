// Smoke test: one virtual user checks the gateway answers a chat with its cost headers, its
// budget endpoint and health endpoints. Run before anything heavier.
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e API_KEY=sk-gw-demo-web load/smoke.js
import { check, sleep } from 'k6';
import http from 'k6/http';
import { BASE_URL, chat, headers } from './common.js';

export const options = {
  vus: 1,
  iterations: Number(__ENV.ITERATIONS || 20),
  thresholds: {
    checks: ['rate==1'],
    http_req_failed: ['rate==0'],
    'http_req_duration{kind:chat}': ['p(95)<1000'],
  },
};

export default function () {
  const health = http.get(`${BASE_URL}/healthz`, { tags: { kind: 'health' } });
  check(health, { 'healthz is 200': (r) => r.status === 200 });

  const answer = chat(`Say hello (iteration ${__ITER}).`, {}, {}, { kind: 'chat' });
  check(answer, {
    'chat is 200': (r) => r.status === 200,
    'chat has a request id': (r) => Boolean(r.headers['X-Gateway-Request-Id']),
    'chat has its cost': (r) => Number(r.headers['X-Gateway-Cost-Usd']) >= 0,
    'chat has choices': (r) => Array.isArray(r.json('choices')),
  });

  const budget = http.get(`${BASE_URL}/v1/budget`, { headers: headers(), tags: { kind: 'budget' } });
  check(budget, { 'budget lists budgets': (r) => r.status === 200 && Array.isArray(r.json('budgets')) });
  sleep(0.1);
}
