/**
 * A confirmation dialog for actions that change money (top-up, reset) or access (revoke): the
 * page's own <dialog>, so it looks the same everywhere and tests can drive it.
 */
import { h } from './dom.js';

export interface ConfirmOptions {
  title: string;
  text: string;
  confirmLabel: string;
  danger?: boolean;
  /** Ask for a value too (e.g. a top-up amount); the promise then resolves to it. */
  input?: { label: string; type: 'number' | 'text'; value?: string; min?: string; step?: string };
}

/** Resolves to the input's value (or '' without an input) when confirmed, null when cancelled. */
export function confirmAction(options: ConfirmOptions): Promise<string | null> {
  return new Promise((resolve) => {
    const field = options.input
      ? h('input', {
          type: options.input.type,
          value: options.input.value ?? '',
          min: options.input.min,
          step: options.input.step,
          required: true,
          name: 'value',
        })
      : null;
    const form = h(
      'form',
      { method: 'dialog' },
      h('h3', {}, options.title),
      h('p', {}, options.text),
      field ? h('label', {}, options.input?.label ?? '', field) : null,
      h(
        'div',
        { class: 'buttons' },
        h('button', { type: 'button', value: 'cancel', onclick: () => dialog.close('cancel') }, 'Cancel'),
        h(
          'button',
          { type: 'submit', value: 'ok', class: options.danger ? 'primary danger' : 'primary' },
          options.confirmLabel,
        ),
      ),
    );
    const dialog = h('dialog', { 'aria-label': options.title }, form);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      dialog.close('ok');
    });
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(dialog.returnValue === 'ok' ? (field?.value ?? '') : null);
    });
    document.body.append(dialog);
    dialog.showModal();
    field?.focus();
  });
}
