/**
 * The admin API's answers as the console reads them (docs/admin-api.md), and the few things the
 * console derives from them (a budget's state). Only fields the console shows are listed.
 */

export type Scope = 'global' | Record<string, string>;

export interface Threshold {
  at: number;
  alert?: boolean;
  downgrade?: Record<string, string>;
}

export interface Balance {
  limit_usd: number;
  spent_usd: number;
  reserved_usd: number;
  remaining_usd: number;
}

export interface Spender extends Balance {
  instance: string;
  values: Record<string, string>;
}

export interface AdminBudget {
  id: string;
  scope: Scope;
  /** Base limit as written; the balance carries the effective one (rollover, top-ups). */
  limit_usd: number;
  period: 'daily' | 'weekly' | 'monthly' | 'none';
  timezone?: string;
  thresholds?: Threshold[];
  source: 'config' | 'api';
  active?: boolean;
  problems?: string[];
  template: boolean;
  balance?: Balance & { period: string; resets_at: string | null };
  instances?: {
    period: string;
    resets_at: string | null;
    count: number;
    partial: boolean;
    limit_usd_each: number;
    spent_usd: number;
    reserved_usd: number;
    top_spenders: Spender[];
  };
}

export interface Forecast {
  projected_usd: number | null;
  exhausted_at: string | null;
}

export type BudgetState = 'ok' | 'downgrading' | 'exhausted';

/**
 * ok, downgrading (a threshold's downgrade map applies: committed spend is at or past its mark)
 * or exhausted (nothing left), the way the engine decides them.
 */
export function budgetState(balance: Balance, thresholds: readonly Threshold[] = []): BudgetState {
  if (balance.remaining_usd <= 0) return 'exhausted';
  const committed = balance.spent_usd + balance.reserved_usd;
  const downgrading = thresholds.some(
    (t) => t.downgrade && Object.keys(t.downgrade).length > 0 && committed >= t.at * balance.limit_usd,
  );
  return downgrading ? 'downgrading' : 'ok';
}

export function scopeText(scope: Scope): string {
  if (scope === 'global') return 'everything';
  const parts = Object.entries(scope).map(([field, value]) =>
    value === '*' ? `each ${field}` : `${field}=${value}`,
  );
  return parts.join(', ') || 'everything';
}

/** `per-user-daily|user=alice` -> `per-user-daily (user alice)`: a template instance for people. */
export function instanceLabel(instance: string): string {
  const [budget, ...parts] = instance.split('|');
  if (parts.length === 0) return instance;
  // The gateway escapes | = % inside values (as %7C %3D %25).
  const plain = (v: string) => v.replace(/%7C/g, '|').replace(/%3D/g, '=').replace(/%25/g, '%');
  const values = parts.map((part) => {
    const cut = part.indexOf('=');
    return cut < 0 ? plain(part) : `${part.slice(0, cut)} ${plain(part.slice(cut + 1))}`;
  });
  return `${budget} (${values.join(', ')})`;
}

export const PERIOD_TEXT: Record<AdminBudget['period'], string> = {
  daily: 'daily',
  weekly: 'weekly',
  monthly: 'monthly',
  none: 'prepaid',
};

export interface AdminKey {
  id: string;
  team?: string;
  user?: string;
  tags?: string[];
  models?: string[];
  source: 'config' | 'api';
  created_at?: string;
  /** False for an API key the config file now overrides (see problems). */
  active?: boolean;
  problems?: string[];
  /** Only in the answer to POST /admin/keys, once. */
  key?: string;
}

export interface AlertItem {
  id: string;
  type: 'threshold' | 'exhausted' | 'forecast' | 'anomaly';
  text?: string;
  message?: string;
  time: string;
  budget_id?: string;
  instance?: string;
}

export interface EstimateAnswer {
  model: string;
  served_model: string;
  estimated_usd: number | null;
  prompt_tokens?: number;
  max_output_tokens: number | null;
  downgraded?: boolean;
  clamped?: boolean;
  budgets: Array<Balance & { id: string; instance?: string; period: string; resets_at: string | null }>;
  allowed: boolean;
  reason: string | null;
  code?: string;
}

/** A "pass / downgraded / rejected" verdict for a cost preview. */
export function verdictOf(answer: EstimateAnswer): 'passed' | 'downgraded' | 'rejected' {
  if (!answer.allowed) return 'rejected';
  return answer.downgraded || answer.served_model !== answer.model ? 'downgraded' : 'passed';
}
