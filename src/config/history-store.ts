/**
 * The history section's store fields compiled, and what they need beyond the schema: a Postgres
 * URL for history.store postgres, and history.path only where a SQLite history file is used.
 */
import type { RuntimeHistoryStore } from './runtime.js';
import type { ConfigFile } from './schema.js';

export function compileHistoryStore(history: ConfigFile['history']): RuntimeHistoryStore {
  return {
    type: history.store,
    url: history.store === 'postgres' ? history.url : undefined,
    path: history.path,
  };
}

export function historyStoreProblems(history: ConfigFile['history'], store: ConfigFile['store']): string[] {
  const problems: string[] = [];
  if (history.store === 'postgres') {
    if (!history.url) {
      problems.push(
        'history.url: required when history.store is postgres (e.g. postgres://gateway@127.0.0.1:5432/gateway)',
      );
    } else if (!/^postgres(ql)?:\/\//.test(history.url)) {
      // The URL may hold a password: the problem never repeats it.
      problems.push('history.url: expected a postgres:// or postgresql:// URL');
    }
  } else if (history.url !== undefined) {
    problems.push('history.url: only used when history.store is postgres');
  }
  if (history.path !== undefined && (history.store !== 'same' || store.type !== 'sqlite')) {
    problems.push('history.path: only used with the SQLite store and history.store same');
  }
  return problems;
}
