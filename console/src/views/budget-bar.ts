/**
 * A budget's progress bar: spent, then reserved (hatched), then optionally what a previewed request
 * would reserve (amber hatch), against the limit, with a mark at each threshold (amber where a
 * downgrade starts).
 */
import { h } from '../dom.js';
import { formatPercent, formatUsd } from '../format.js';
import type { Balance, BudgetState, Threshold } from '../model.js';

const share = (part: number, whole: number) => (whole > 0 ? Math.max(0, Math.min(1, part / whole)) : 0);

export function budgetBar(
  balance: Balance,
  thresholds: readonly Threshold[],
  state: BudgetState,
  pendingUsd = 0,
): HTMLElement {
  const spent = share(balance.spent_usd, balance.limit_usd);
  const reserved = Math.min(1 - spent, share(balance.reserved_usd, balance.limit_usd));
  const pending = Math.min(1 - spent - reserved, share(pendingUsd, balance.limit_usd));
  const label =
    `${formatUsd(balance.spent_usd)} spent and ${formatUsd(balance.reserved_usd)} reserved of ` +
    `${formatUsd(balance.limit_usd)}${pendingUsd > 0 ? `; this request up to ${formatUsd(pendingUsd)}` : ''}`;
  return h(
    'div',
    { class: `bar ${state}`, role: 'img', 'aria-label': label, title: label },
    h(
      'div',
      { class: 'fill', style: `width:${(spent + reserved + pending) * 100}%` },
      h('div', { class: 'spent', style: `flex:${spent}` }),
      h('div', { class: 'reserved', style: `flex:${reserved}` }),
      h('div', { class: 'pending', style: `flex:${pending}` }),
    ),
    thresholds.map((t) =>
      h('div', {
        class: t.downgrade ? 'mark downgrade' : 'mark',
        style: `left:calc(${t.at * 100}% - 1px)`,
        title: `${formatPercent(t.at)}${t.downgrade ? ': downgrade starts' : ': alert'}`,
      }),
    ),
  );
}
