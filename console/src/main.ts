/**
 * The console's shell: sign-in, the navigation between views (by URL hash, so a view can be
 * bookmarked and reloaded), and the auto-refresh of the view on screen.
 */
import './style.css';
import { ApiError, whenUnauthorized } from './api.js';
import { fill, h } from './dom.js';
import { type AutoRefresh, autoRefresh } from './refresh.js';
import { forgetToken, saveToken, sessionToken } from './session.js';
import { alertsView } from './views/alerts.js';
import { budgetsView } from './views/budgets.js';
import { keysView } from './views/keys.js';
import { previewView } from './views/preview.js';
import { signInView } from './views/signin.js';
import { spendView } from './views/spend.js';
import type { View } from './views/view.js';

/** Every 5 s; `?refresh=<ms>` (at least 500) changes it, e.g. for a wall screen or a test. */
const REFRESH_MS = Math.max(500, Number(new URLSearchParams(location.search).get('refresh')) || 5000);

const VIEWS: Record<string, () => View> = {
  budgets: budgetsView,
  spend: spendView,
  alerts: alertsView,
  keys: keysView,
  preview: previewView,
};
const TITLES: Record<string, string> = {
  budgets: 'Budgets',
  spend: 'Spend',
  alerts: 'Alerts',
  keys: 'Keys',
  preview: 'Cost preview',
};

const app = document.getElementById('app') as HTMLElement;
let current: { view: View; refresh: AutoRefresh } | undefined;

function stopCurrent(): void {
  current?.refresh.stop();
  current?.view.dispose?.();
  current = undefined;
}

function signOut(notice?: string): void {
  stopCurrent();
  forgetToken();
  window.removeEventListener('hashchange', route);
  fill(
    app,
    signInView((token) => {
      saveToken(token);
      showShell();
    }, notice),
  );
}

const nav = h('nav', { class: 'tabs', 'aria-label': 'Views' });
const status = h('span', { class: 'status', 'aria-live': 'polite' });
const content = h('main');

function viewId(): string {
  const id = location.hash.replace(/^#\/?/, '');
  return id in VIEWS ? id : 'budgets';
}

function route(): void {
  const id = viewId();
  stopCurrent();
  delete content.dataset.loaded;
  fill(
    nav,
    Object.keys(VIEWS).map((v) =>
      h('a', { href: `#${v}`, 'aria-current': v === id ? 'page' : null, 'data-view': v }, TITLES[v] ?? v),
    ),
  );
  const view = (VIEWS[id] ?? budgetsView)();
  fill(content, view.root);
  document.title = `${view.title} · Budget gateway`;
  const tick = async () => {
    try {
      await view.refresh();
      fill(status, `Updated ${new Date().toLocaleTimeString()}${view.live ? '' : ' (not auto-refreshed)'}`);
      content.dataset.loaded = 'true';
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return;
      fill(status, h('span', { class: 'error-text' }, `Refresh failed: ${(error as Error).message}`));
    }
  };
  const refresh = view.live ? autoRefresh(tick, REFRESH_MS) : onceRefresh(tick);
  current = { view, refresh };
}

/** Views holding a form load once; they refresh when shown again. */
function onceRefresh(tick: () => Promise<void>): AutoRefresh {
  void tick();
  return { now: tick, stop() {} };
}

function showShell(): void {
  fill(
    app,
    h(
      'header',
      { class: 'top' },
      h('h1', {}, 'Budget gateway'),
      nav,
      status,
      h('button', { type: 'button', onclick: () => signOut() }, 'Sign out'),
    ),
    content,
  );
  window.addEventListener('hashchange', route);
  route();
}

whenUnauthorized((message) => signOut(message));
if (sessionToken()) showShell();
else signOut();
