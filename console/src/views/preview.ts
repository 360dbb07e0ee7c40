/**
 * Cost preview: compose a request (or paste one) for a key, and see what it would cost, which
 * budgets it would touch, and whether it would pass, be downgraded or be rejected. Nothing is sent
 * to a provider and nothing is reserved (POST /admin/cost/estimate).
 */
import { ApiError, get, post } from '../api.js';
import { fill, h } from '../dom.js';
import { formatRelative, formatUsd } from '../format.js';
import {
  type AdminBudget,
  type AdminKey,
  budgetState,
  type EstimateAnswer,
  instanceLabel,
  type Threshold,
  verdictOf,
} from '../model.js';
import { budgetBar } from './budget-bar.js';
import type { View } from './view.js';

const ENDPOINTS = [
  ['/v1/chat/completions', 'OpenAI chat completions'],
  ['/v1/messages', 'Anthropic messages'],
  ['/v1/responses', 'OpenAI responses'],
  ['/v1/completions', 'OpenAI completions'],
  ['/v1/embeddings', 'OpenAI embeddings'],
] as const;

interface Message {
  role: string;
  content: string;
}

/** The request body each API expects, from the composed fields. */
export function composeBody(
  endpoint: string,
  model: string,
  messages: Message[],
  maxTokens: number | undefined,
) {
  const cap = (field: string) => (maxTokens === undefined ? {} : { [field]: maxTokens });
  const text = messages.map((m) => m.content).join('\n');
  switch (endpoint) {
    case '/v1/messages': {
      const system = messages.filter((m) => m.role === 'system').map((m) => m.content);
      return {
        model,
        ...(system.length > 0 ? { system: system.join('\n') } : {}),
        messages: messages.filter((m) => m.role !== 'system'),
        max_tokens: maxTokens ?? 1024,
      };
    }
    case '/v1/responses':
      return { model, input: messages, ...cap('max_output_tokens') };
    case '/v1/completions':
      return { model, prompt: text, ...cap('max_tokens') };
    case '/v1/embeddings':
      return { model, input: text };
    default:
      return { model, messages, ...cap('max_tokens') };
  }
}

/** Model names used lately or named in budgets (scopes, downgrade maps), for the model field's hints. */
function modelHints(budgets: AdminBudget[], usage: { model?: string }[]): string[] {
  const names = new Set<string>(usage.flatMap((row) => (row.model ? [row.model] : [])));
  for (const b of budgets) {
    if (b.scope !== 'global' && b.scope.model && b.scope.model !== '*') names.add(b.scope.model);
    for (const t of b.thresholds ?? []) {
      for (const [from, to] of Object.entries(t.downgrade ?? {})) names.add(from).add(to);
    }
  }
  return [...names].sort();
}

export function previewView(): View {
  const keySelect = h('select', { name: 'key_id', required: true });
  const endpointSelect = h(
    'select',
    { name: 'endpoint' },
    ENDPOINTS.map(([path, label]) => h('option', { value: path }, label)),
  );
  const models = h('datalist', { id: 'model-hints' });
  const model = h('input', {
    name: 'model',
    list: 'model-hints',
    required: true,
    placeholder: 'e.g. gpt-4o',
  });
  const maxTokens = h('input', {
    name: 'max_tokens',
    type: 'number',
    min: '1',
    placeholder: 'model maximum',
  });
  const messageRows = h('div');
  const raw = h('textarea', {
    name: 'raw',
    rows: 8,
    placeholder: '{"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 200}',
  });
  const result = h('div', { 'data-field': 'result' });
  /** Thresholds by budget id, to mark them on the bars of the budgets a request touches. */
  let thresholds = new Map<string, Threshold[]>();

  const addMessage = (role: string, content: string) => {
    const roleSelect = h(
      'select',
      { name: 'role', 'aria-label': 'Role' },
      ['system', 'user', 'assistant'].map((r) => h('option', { value: r, selected: r === role }, r)),
    );
    const text = h('textarea', { name: 'content', rows: 2, 'aria-label': 'Content' }, content);
    const row = h('div', { class: 'message-row' }, roleSelect, text);
    row.append(
      h('button', { type: 'button', onclick: () => row.remove(), 'aria-label': 'Remove message' }, '×'),
    );
    messageRows.append(row);
  };
  addMessage('system', 'You are a helpful assistant.');
  addMessage('user', '');

  const form = h(
    'form',
    { class: 'card' },
    models,
    h(
      'div',
      { class: 'form-row' },
      h('label', {}, 'Key', keySelect),
      h('label', {}, 'API', endpointSelect),
      h('label', {}, 'Model', model),
      h('label', {}, 'Max output tokens', maxTokens),
    ),
    h('h3', { style: 'margin-top:.8rem' }, 'Messages'),
    messageRows,
    h('button', { type: 'button', onclick: () => addMessage('user', '') }, 'Add message'),
    h(
      'details',
      { style: 'margin-top:.6rem' },
      h('summary', {}, 'Or paste a request body (used instead of the fields above)'),
      raw,
    ),
    h('div', { style: 'margin-top:.8rem' }, h('button', { type: 'submit', class: 'primary' }, 'Estimate')),
  );
  const root = h('section', {}, h('h2', {}, 'Cost preview'), form, result);

  const show = (answer: EstimateAnswer, estimateUsd: number) => {
    const verdict = verdictOf(answer);
    const now = Date.now();
    const what =
      verdict === 'rejected'
        ? (answer.reason ?? 'Rejected.')
        : verdict === 'downgraded'
          ? `Would be served by ${answer.served_model} instead of ${answer.model}.`
          : `Would be served by ${answer.served_model}.`;
    fill(
      result,
      h(
        'div',
        { class: 'card' },
        h(
          'div',
          { class: 'verdict' },
          h('span', { class: `pill ${verdict}`, 'data-field': 'verdict' }, verdict),
          h(
            'span',
            { class: 'big', 'data-field': 'estimate', title: String(answer.estimated_usd) },
            formatUsd(answer.estimated_usd),
          ),
          h('span', { class: 'muted' }, 'worst case'),
        ),
        h('p', { 'data-field': 'reason' }, what),
        h(
          'div',
          { class: 'numbers muted' },
          answer.prompt_tokens === undefined ? null : h('span', {}, `${answer.prompt_tokens} prompt tokens`),
          answer.max_output_tokens === null
            ? null
            : h(
                'span',
                {},
                `output capped at ${answer.max_output_tokens} tokens${answer.clamped ? ' (lowered to fit the budget)' : ''}`,
              ),
        ),
      ),
      h(
        'div',
        { class: 'card' },
        h(
          'h3',
          {},
          answer.budgets.length === 0 ? 'No budget applies to this request' : 'Budgets it would touch',
        ),
        answer.budgets.map((b) => {
          const marks = thresholds.get(b.id) ?? [];
          const state = budgetState(b, marks);
          const after = b.remaining_usd - (verdict === 'rejected' ? 0 : estimateUsd);
          return h(
            'div',
            { class: 'suggestion', 'data-budget': b.instance ?? b.id },
            h(
              'div',
              { class: 'numbers' },
              h('b', {}, instanceLabel(b.instance ?? b.id)),
              h('span', {}, `${formatUsd(b.remaining_usd)} left of ${formatUsd(b.limit_usd)}`),
              verdict === 'rejected'
                ? null
                : h(
                    'span',
                    { class: 'muted' },
                    `${formatUsd(Math.max(0, after))} after this request at worst`,
                  ),
              h(
                'span',
                { class: 'muted' },
                b.resets_at ? `resets ${formatRelative(b.resets_at, now)}` : 'prepaid',
              ),
            ),
            budgetBar(b, marks, state, verdict === 'rejected' ? 0 : estimateUsd),
          );
        }),
      ),
    );
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    let body: Record<string, unknown>;
    if (raw.value.trim()) {
      try {
        body = JSON.parse(raw.value) as Record<string, unknown>;
      } catch (error) {
        fill(
          result,
          h(
            'div',
            { class: 'error', role: 'alert' },
            `The pasted body is not JSON: ${(error as Error).message}`,
          ),
        );
        return;
      }
    } else {
      const messages = [...messageRows.querySelectorAll('.message-row')].map((row) => ({
        role: row.querySelector('select')?.value ?? 'user',
        content: row.querySelector('textarea')?.value ?? '',
      }));
      const cap = maxTokens.value ? Number(maxTokens.value) : undefined;
      body = composeBody(endpointSelect.value, model.value.trim(), messages, cap);
    }
    try {
      const answer = await post<EstimateAnswer>('/admin/cost/estimate', {
        ...body,
        key_id: keySelect.value,
        endpoint: body.endpoint ?? endpointSelect.value,
      });
      show(answer, answer.estimated_usd ?? 0);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return;
      fill(result, h('div', { class: 'error', role: 'alert' }, (error as Error).message));
    }
  });

  return {
    id: 'preview',
    title: 'Cost preview',
    root,
    // The form holds what the user typed; only the key list and hints load, once.
    live: false,
    async refresh() {
      const monthAgo = new Date(Date.now() - 30 * 86_400_000).toISOString();
      const [{ keys }, { budgets }, used] = await Promise.all([
        get<{ keys: AdminKey[] }>('/admin/keys'),
        get<{ budgets: AdminBudget[] }>('/admin/budgets'),
        // Models used lately are the likeliest to preview; a gateway without history has none.
        get<{ rows?: { model?: string }[] }>(`/admin/usage?group_by=model&bucket=day&from=${monthAgo}`).catch(
          () => ({ rows: [] }),
        ),
      ]);
      const chosen = keySelect.value;
      fill(
        keySelect,
        keys
          .filter((k) => k.active !== false)
          .map((k) => h('option', { value: k.id, selected: k.id === chosen }, k.id)),
      );
      fill(
        models,
        modelHints(budgets, used.rows ?? []).map((m) => h('option', { value: m })),
      );
      thresholds = new Map(budgets.map((b) => [b.id, b.thresholds ?? []]));
    },
  };
}
