/**
 * Writes the dashboard JSON files from their specs: `npx tsx dashboards/src/build.ts`.
 * The JSON files are committed (they are what users import); a test checks they are up to date.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { budgets } from './budgets.js';
import { buildDashboard } from './grafana.js';
import { overview } from './overview.js';
import { spend } from './spend.js';

export const DASHBOARD_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');

/** File name -> dashboard JSON text. */
export function dashboardFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const spec of [overview, spend, budgets]) {
    files[`${spec.uid}.json`] = `${JSON.stringify(buildDashboard(spec), null, 2)}\n`;
  }
  return files;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const [name, text] of Object.entries(dashboardFiles())) {
    writeFileSync(join(DASHBOARD_DIR, name), text);
    console.log(`wrote dashboards/${name}`);
  }
}
