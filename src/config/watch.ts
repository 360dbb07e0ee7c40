/**
 * Reloads on edits to the config file. The directory is watched, not the file: editors and
 * Kubernetes ConfigMaps replace files by rename (or swap a `..data` symlink), which a watch on
 * the old inode would miss. Events are debounced and only a change of the file's content counts,
 * so a burst of writes reloads once and other files in the directory (a SQLite store) are ignored.
 */
import { createHash } from 'node:crypto';
import { type FSWatcher, readFileSync, watch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

export interface ConfigWatch {
  close(): void;
}

function digest(path: string): string | null {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch {
    return null; // mid-replace, or removed: wait for the next event
  }
}

export function watchConfigFile(path: string, onChange: () => void, debounceMs = 200): ConfigWatch {
  const file = resolve(path);
  const name = basename(file);
  let last = digest(file);
  let timer: NodeJS.Timeout | undefined;
  const check = () => {
    timer = undefined;
    const now = digest(file);
    if (now === null || now === last) return;
    last = now;
    onChange();
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
      if (changed !== null && changed !== name && !String(changed).startsWith('..')) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(check, debounceMs);
    });
    watcher.on('error', () => {});
  } catch {
    // No watch support here (some network filesystems): SIGHUP and the admin API still reload.
  }
  return {
    close() {
      if (timer) clearTimeout(timer);
      watcher?.close();
    },
  };
}
