/**
 * Vitest globalSetup: the suite starts real redis-server, postgres (initdb), prometheus/promtool
 * and chromium processes. Without them it would time out test by test; this says what is missing at once, and
 * how to get it. TEST_PREREQUISITES=skip runs anyway (e.g. only unit tests, on a laptop).
 */
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface Prerequisite {
  command: string;
  /** The Debian package that provides it. */
  debianPackage: string;
  neededBy: string;
  /** Also looked for outside PATH, in the server directories Debian installs PostgreSQL to. */
  postgresBin?: boolean;
}

export const PREREQUISITES: readonly Prerequisite[] = [
  { command: 'redis-server', debianPackage: 'redis-server', neededBy: 'the Redis store and cluster tests' },
  { command: 'redis-cli', debianPackage: 'redis-tools', neededBy: 'the Redis cluster and round-trip tests' },
  {
    command: 'initdb',
    debianPackage: 'postgresql',
    neededBy: 'the Postgres history tests',
    postgresBin: true,
  },
  { command: 'prometheus', debianPackage: 'prometheus', neededBy: 'the observability tests' },
  { command: 'promtool', debianPackage: 'prometheus', neededBy: 'the alert rule tests' },
  { command: 'chromium', debianPackage: 'chromium', neededBy: 'the web console tests' },
];

export const INSTALL_LINE = 'apt-get install redis-server redis-tools postgresql prometheus chromium';

/** /usr/lib/postgresql/<major>/bin: Debian keeps initdb and postgres off PATH. */
export function postgresBinDirs(root = '/usr/lib/postgresql'): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root).map((major) => join(root, major, 'bin'));
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The prerequisites none of whose PATH directories holds an executable of that name. */
export function missingPrerequisites(
  path: string = process.env.PATH ?? '',
  executable: (file: string) => boolean = isExecutable,
  postgresDirs: readonly string[] = postgresBinDirs(),
): Prerequisite[] {
  const dirs = path.split(delimiter).filter(Boolean);
  return PREREQUISITES.filter(
    (p) => ![...dirs, ...(p.postgresBin ? postgresDirs : [])].some((dir) => executable(join(dir, p.command))),
  );
}

export function prerequisitesMessage(missing: readonly Prerequisite[]): string {
  const lines = missing.map((p) => `  - ${p.command} (Debian package ${p.debianPackage}), for ${p.neededBy}`);
  return [
    'The test suite starts real processes, and these are not installed (not on PATH):',
    ...lines,
    `Install them with \`${INSTALL_LINE}\`, or run \`bash .ci/run\` (installs them, then runs the suite).`,
    'To run anyway (only tests that need none of them), set TEST_PREREQUISITES=skip.',
  ].join('\n');
}

export default function setup(): void {
  if (process.env.TEST_PREREQUISITES === 'skip') return;
  const missing = missingPrerequisites();
  if (missing.length > 0) throw new Error(prerequisitesMessage(missing));
}
