/**
 * Builds the console (npm run build:console) when dist/console is missing or older than any file
 * under console/, so the browser tests always drive the current source.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..', '..');
export const CONSOLE_DIST = join(ROOT, 'dist', 'console');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

export function ensureConsoleBuilt(): void {
  const index = join(CONSOLE_DIST, 'index.html');
  const builtAt = existsSync(index) ? statSync(index).mtimeMs : 0;
  if (builtAt > newestMtime(join(ROOT, 'console'))) return;
  execFileSync('npm', ['run', 'build:console', '--silent'], { cwd: ROOT, stdio: 'pipe' });
}
