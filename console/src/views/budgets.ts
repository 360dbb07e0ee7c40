/**
 * Budgets at a glance: one row per budget (a summary row with the top spenders for "*" templates),
 * spent and reserved against the limit, thresholds, forecast, reset time, state; top-up and reset.
 */
import { ApiError, get, post } from '../api.js';
import { confirmAction } from '../dialog.js';
import { fill, h } from '../dom.js';
import { formatRelative, formatTime, formatUsd } from '../format.js';
import {
  type AdminBudget,
  type Balance,
  budgetState,
  type Forecast,
  PERIOD_TEXT,
  scopeText,
} from '../model.js';
import { budgetBar } from './budget-bar.js';
import { loadForecasts } from './forecasts.js';
import type { View } from './view.js';

function money(field: string, usd: number, label: string): HTMLElement {
  return h('span', {}, h('b', { 'data-field': field, title: String(usd) }, formatUsd(usd)), ` ${label}`);
}

function numbers(balance: Balance): HTMLElement {
  return h(
    'div',
    { class: 'numbers' },
    money('spent', balance.spent_usd, 'spent'),
    money('reserved', balance.reserved_usd, 'reserved'),
    money('remaining', balance.remaining_usd, 'left'),
    money('limit', balance.limit_usd, 'limit'),
  );
}

function resetText(resetsAt: string | null, now: number): string {
  return resetsAt === null
    ? 'Prepaid: never resets'
    : `Resets ${formatTime(resetsAt)} (${formatRelative(resetsAt, now)})`;
}

function forecastText(forecast: Forecast | undefined, now: number): string | null {
  if (!forecast || forecast.projected_usd === null) return null;
  const runsOut = forecast.exhausted_at
    ? `; runs out ${formatTime(forecast.exhausted_at)} (${formatRelative(forecast.exhausted_at, now)})`
    : '';
  return `Forecast at period end ${formatUsd(forecast.projected_usd)}${runsOut}`;
}

export function budgetsView(): View {
  const list = h('div', { class: 'budget-list' });
  const message = h('div');
  const root = h('section', {}, h('h2', {}, 'Budgets'), message, list);

  const act = async (label: string, run: () => Promise<unknown>) => {
    try {
      await run();
      fill(message, h('div', { class: 'notice', role: 'status' }, label));
      await view.refresh();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return;
      fill(message, h('div', { class: 'error', role: 'alert' }, (error as Error).message));
    }
  };

  const topUp = async (budget: AdminBudget) => {
    const prepaid = budget.period === 'none';
    const amount = await confirmAction({
      title: `Top up ${budget.id}`,
      text: prepaid
        ? 'Adds to this prepaid budget for good.'
        : 'Adds to this budget for the current period only.',
      confirmLabel: 'Top up',
      input: { label: 'Amount (USD)', type: 'number', min: '0.01', step: '0.01', value: '10' },
    });
    if (amount === null) return;
    const usd = Number(amount);
    await act(`Topped up ${budget.id} by ${formatUsd(usd)}.`, () =>
      post(`/admin/budgets/${encodeURIComponent(budget.id)}/topup`, { amount_usd: usd }),
    );
  };

  const reset = async (budget: AdminBudget) => {
    const ok = await confirmAction({
      title: `Reset ${budget.id}`,
      text: budget.template
        ? 'Sets spent and reserved back to zero for every instance of this budget, this period.'
        : 'Sets spent and reserved back to zero for this period. Spend already made with the provider stays made.',
      confirmLabel: 'Reset',
      danger: true,
    });
    if (ok === null) return;
    await act(`Reset ${budget.id}.`, () => post(`/admin/budgets/${encodeURIComponent(budget.id)}/reset`, {}));
  };

  const row = (budget: AdminBudget, forecast: Forecast | undefined, now: number): HTMLElement => {
    const thresholds = budget.thresholds ?? [];
    const head = h(
      'div',
      {},
      h('div', { class: 'name' }, budget.id),
      h(
        'div',
        { class: 'muted small' },
        `${scopeText(budget.scope)} · ${PERIOD_TEXT[budget.period]} · ${budget.source === 'api' ? 'made via API' : 'config file'}`,
      ),
    );
    const actions = h('div', { class: 'actions' });
    // Balances, not definitions: the API allows both on config-file budgets too. A template's
    // top-up names one instance, so it is left to the API.
    if (!budget.template)
      actions.append(h('button', { type: 'button', onclick: () => topUp(budget) }, 'Top up'));
    actions.append(h('button', { type: 'button', class: 'danger', onclick: () => reset(budget) }, 'Reset'));
    const facts = h('div', { class: 'facts' });
    if (budget.active === false)
      facts.append(h('span', { class: 'pill exhausted' }, 'inactive'), ...(budget.problems ?? []));
    if (thresholds.length > 0) {
      const marks = thresholds.map((t) => `${Math.round(t.at * 100)}%${t.downgrade ? ' downgrade' : ''}`);
      facts.append(h('span', {}, `Thresholds: ${marks.join(', ')}`));
    }

    if (budget.balance) {
      const balance = budget.balance;
      const state = budgetState(balance, thresholds);
      actions.prepend(h('span', { class: `pill ${state}`, 'data-field': 'state' }, state));
      const forecastLine = forecastText(forecast, now);
      if (forecastLine) facts.prepend(h('span', { 'data-field': 'forecast' }, forecastLine));
      facts.prepend(h('span', { 'data-field': 'resets' }, resetText(balance.resets_at, now)));
      return h(
        'article',
        { class: 'card budget', 'data-budget': budget.id },
        head,
        h('div', {}, budgetBar(balance, thresholds, state), numbers(balance)),
        actions,
        facts,
      );
    }

    const summary = budget.instances;
    if (!summary)
      return h('article', { class: 'card budget', 'data-budget': budget.id }, head, actions, facts);
    facts.prepend(h('span', { 'data-field': 'resets' }, resetText(summary.resets_at, now)));
    const spenders = summary.top_spenders.map((s) => {
      const state = budgetState(s, thresholds);
      const who = Object.values(s.values).join(', ') || s.instance;
      return h(
        'div',
        { class: 'spender', 'data-instance': s.instance },
        h(
          'div',
          {},
          h('b', {}, who),
          ' ',
          h('span', { 'data-field': 'spent', title: String(s.spent_usd) }, formatUsd(s.spent_usd)),
          h('span', { class: 'muted' }, ` of ${formatUsd(s.limit_usd)}`),
          state === 'ok' ? null : h('span', { class: `pill ${state}` }, state),
        ),
        budgetBar(s, thresholds, state),
      );
    });
    return h(
      'article',
      { class: 'card budget template', 'data-budget': budget.id },
      head,
      h(
        'div',
        {},
        h(
          'div',
          { class: 'numbers' },
          h(
            'span',
            {},
            h('b', { 'data-field': 'count' }, String(summary.count)),
            ` instance${summary.count === 1 ? '' : 's'} this period${summary.partial ? ' (partial)' : ''}`,
          ),
          money('spent', summary.spent_usd, 'spent in total'),
          money('reserved', summary.reserved_usd, 'reserved'),
          money('limit', summary.limit_usd_each, 'limit each'),
        ),
      ),
      actions,
      facts,
      spenders.length > 0
        ? h(
            'div',
            { class: 'spenders' },
            h('div', { class: 'muted small', style: 'grid-column:1/-1' }, 'Top spenders'),
            spenders,
          )
        : h('div', { class: 'spenders muted small' }, 'No instance has spent this period.'),
    );
  };

  const view: View = {
    id: 'budgets',
    title: 'Budgets',
    root,
    live: true,
    async refresh() {
      const [{ budgets }, forecasts] = await Promise.all([
        get<{ budgets: AdminBudget[] }>('/admin/budgets'),
        loadForecasts(),
      ]);
      const now = Date.now();
      if (budgets.length === 0) {
        fill(
          list,
          h(
            'p',
            { class: 'card muted' },
            'No budgets yet: add them to the config file or POST /admin/budgets.',
          ),
        );
        return;
      }
      fill(
        list,
        budgets.map((b) => row(b, forecasts.get(b.id), now)),
      );
    },
  };
  return view;
}
