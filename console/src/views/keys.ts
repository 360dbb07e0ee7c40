/**
 * Virtual keys: the list, a form to create one (its secret shown once, with a copy button; the
 * gateway keeps only the hash), and revoke for keys made through the API.
 */
import { ApiError, del, get, post } from '../api.js';
import { confirmAction } from '../dialog.js';
import { fill, h } from '../dom.js';
import { formatTime } from '../format.js';
import type { AdminKey } from '../model.js';
import type { View } from './view.js';

const list = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

function secretOf(answer: Record<string, unknown>): string | undefined {
  const secret = answer.key ?? answer.secret ?? answer.api_key;
  return typeof secret === 'string' ? secret : undefined;
}

export function keysView(): View {
  const message = h('div');
  const table = h('div', { 'data-field': 'keys' });
  const created = h('div');
  const fields = {
    id: h('input', {
      name: 'id',
      placeholder: 'e.g. batch-jobs',
      required: true,
      pattern: '[A-Za-z0-9_.\\-]+',
    }),
    team: h('input', { name: 'team', placeholder: 'optional' }),
    user: h('input', { name: 'user', placeholder: 'optional' }),
    models: h('input', { name: 'models', placeholder: 'all models, or a, b' }),
    tags: h('input', { name: 'tags', placeholder: 'optional: a, b' }),
  };
  const form = h(
    'form',
    { class: 'card' },
    h('h3', {}, 'Create a key'),
    h(
      'div',
      { class: 'form-row' },
      h('label', {}, 'Id', fields.id),
      h('label', {}, 'Team', fields.team),
      h('label', {}, 'User', fields.user),
      h('label', {}, 'Models', fields.models),
      h('label', {}, 'Tags', fields.tags),
      h('button', { type: 'submit', class: 'primary' }, 'Create key'),
    ),
    created,
  );
  const root = h('section', {}, h('h2', {}, 'Keys'), message, form, h('div', { class: 'card' }, table));

  const showSecret = (id: string, secret: string) => {
    const code = h('code', { 'data-field': 'secret' }, secret);
    const copy = h('button', { type: 'button' }, 'Copy');
    copy.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(secret);
        copy.textContent = 'Copied';
      } catch {
        // No clipboard permission (plain http on another host): select it for a manual copy.
        getSelection()?.selectAllChildren(code);
        copy.textContent = 'Press Ctrl+C';
      }
    });
    fill(
      created,
      h(
        'div',
        { class: 'notice', role: 'status' },
        h('p', {}, `Key ${id} created. Copy its secret now: it is shown only this once.`),
        h(
          'div',
          { class: 'secret' },
          code,
          copy,
          h('button', { type: 'button', onclick: () => fill(created) }, 'Done'),
        ),
      ),
    );
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body: Record<string, unknown> = { id: fields.id.value.trim() };
    if (fields.team.value.trim()) body.team = fields.team.value.trim();
    if (fields.user.value.trim()) body.user = fields.user.value.trim();
    if (list(fields.models.value).length > 0) body.models = list(fields.models.value);
    if (list(fields.tags.value).length > 0) body.tags = list(fields.tags.value);
    try {
      const answer = await post<Record<string, unknown>>('/admin/keys', body);
      const secret = secretOf(answer);
      fill(message);
      for (const input of Object.values(fields)) input.value = '';
      if (secret) showSecret(String(answer.id ?? body.id), secret);
      await view.refresh();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return;
      fill(created, h('div', { class: 'error', role: 'alert' }, (error as Error).message));
    }
  });

  const revoke = async (key: AdminKey) => {
    const ok = await confirmAction({
      title: `Revoke ${key.id}`,
      text: 'Apps using this key are refused (401) from now on, on every instance. This cannot be undone.',
      confirmLabel: 'Revoke',
      danger: true,
    });
    if (ok === null) return;
    try {
      await del(`/admin/keys/${encodeURIComponent(key.id)}`);
      fill(message, h('div', { class: 'notice', role: 'status' }, `Revoked ${key.id}.`));
      await view.refresh();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return;
      fill(message, h('div', { class: 'error', role: 'alert' }, (error as Error).message));
    }
  };

  const view: View = {
    id: 'keys',
    title: 'Keys',
    root,
    live: true,
    async refresh() {
      const { keys } = await get<{ keys: AdminKey[] }>('/admin/keys');
      if (keys.length === 0) {
        fill(table, h('p', { class: 'muted' }, 'No keys yet.'));
        return;
      }
      fill(
        table,
        h(
          'table',
          {},
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', {}, 'Id'),
              h('th', {}, 'Team'),
              h('th', {}, 'User'),
              h('th', { class: 'hide-narrow' }, 'Models'),
              h('th', { class: 'hide-narrow' }, 'Source'),
              h('th', {}, ''),
            ),
          ),
          h(
            'tbody',
            {},
            keys.map((key) =>
              h(
                'tr',
                { 'data-key': key.id },
                h(
                  'td',
                  {},
                  h('b', {}, key.id),
                  key.active === false
                    ? h(
                        'span',
                        { class: 'pill exhausted', title: (key.problems ?? []).join('; ') },
                        'inactive',
                      )
                    : null,
                  key.tags?.length ? h('div', { class: 'muted small' }, key.tags.join(', ')) : null,
                ),
                h('td', {}, key.team ?? '—'),
                h('td', {}, key.user ?? '—'),
                h('td', { class: 'hide-narrow' }, key.models?.length ? key.models.join(', ') : 'all'),
                h(
                  'td',
                  { class: 'hide-narrow muted' },
                  key.source === 'api'
                    ? `API${key.created_at ? `, ${formatTime(key.created_at)}` : ''}`
                    : 'config file',
                ),
                h(
                  'td',
                  {},
                  key.source === 'api'
                    ? h('button', { type: 'button', class: 'danger', onclick: () => revoke(key) }, 'Revoke')
                    : h('span', { class: 'muted small' }, 'read-only'),
                ),
              ),
            ),
          ),
        ),
      );
    },
  };
  return view;
}
