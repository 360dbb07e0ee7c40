/**
 * Sign-in: the admin token, checked against the admin API before it is kept (in this tab's
 * sessionStorage only). A wrong token says so plainly.
 */
import { ApiError, call } from '../api.js';
import { fill, h } from '../dom.js';

export function signInView(onSignedIn: (token: string) => void, notice?: string): HTMLElement {
  const token = h('input', {
    type: 'password',
    name: 'token',
    autocomplete: 'current-password',
    required: true,
    placeholder: 'GATEWAY_ADMIN_TOKEN',
    'aria-label': 'Admin token',
  });
  const message = h('div', { 'data-field': 'signin-message' });
  if (notice) fill(message, h('div', { class: 'error', role: 'alert' }, notice));
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h(
    'form',
    {},
    h('label', {}, 'Admin token', token),
    submit,
    message,
    h('p', { class: 'muted small' }, "Kept for this tab only, and sent only to this gateway's admin API."),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = token.value.trim();
    submit.disabled = true;
    fill(message, h('p', { class: 'muted' }, 'Checking…'));
    try {
      // Any admin call proves the token; the API description needs no store, so only the token
      // can make it fail.
      await call('GET', '/admin/openapi.json', undefined, value);
      onSignedIn(value);
    } catch (error) {
      const text = error instanceof ApiError ? error.message : 'Sign-in failed.';
      fill(message, h('div', { class: 'error', role: 'alert' }, text));
      token.select();
    } finally {
      submit.disabled = false;
    }
  });
  queueMicrotask(() => token.focus());
  return h(
    'main',
    {},
    h(
      'div',
      { class: 'card signin' },
      h('h2', {}, 'Budget gateway console'),
      h('p', { class: 'muted' }, "Sign in with the gateway's admin token."),
      form,
    ),
  );
}
