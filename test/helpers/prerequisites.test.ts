import { describe, expect, it } from 'vitest';
import setup, {
  INSTALL_LINE,
  missingPrerequisites,
  PREREQUISITES,
  prerequisitesMessage,
} from './prerequisites.js';

/** A fake file system: the executables that exist, by full path. */
const only =
  (...files: string[]) =>
  (file: string) =>
    files.includes(file);

describe('test prerequisites', () => {
  it('finds each command in any PATH directory', () => {
    const exists = only(
      '/usr/bin/redis-server',
      '/usr/bin/redis-cli',
      '/opt/prom/prometheus',
      '/opt/prom/promtool',
      '/snap/bin/chromium',
      '/usr/lib/postgresql/15/bin/initdb',
    );
    expect(
      missingPrerequisites('/usr/local/bin:/usr/bin:/opt/prom:/snap/bin', exists, [
        '/usr/lib/postgresql/15/bin',
      ]),
    ).toEqual([]);
    // initdb on PATH does as well; outside PATH it is looked for only in the postgres server dirs.
    expect(
      missingPrerequisites('/opt/prom', only('/opt/prom/initdb'), []).map((p) => p.command),
    ).not.toContain('initdb');
  });

  it('names what is missing, with the apt-get line and .ci/run', () => {
    const missing = missingPrerequisites(
      '/usr/bin:/bin',
      only('/usr/bin/redis-server', '/usr/bin/redis-cli'),
      [],
    );
    expect(missing.map((p) => p.command)).toEqual(['initdb', 'prometheus', 'promtool', 'chromium']);
    const message = prerequisitesMessage(missing);
    expect(message).toContain('prometheus (Debian package prometheus)');
    expect(message).toContain('chromium (Debian package chromium)');
    expect(message).not.toContain('redis-server (');
    expect(message).toContain('initdb (Debian package postgresql)');
    expect(message).toContain('apt-get install redis-server redis-tools postgresql prometheus chromium');
    expect(message).toContain('bash .ci/run');
    expect(INSTALL_LINE.split(' ').slice(2).sort()).toEqual(
      [...new Set(PREREQUISITES.map((p) => p.debianPackage))].sort(),
    );
  });

  it('an empty PATH misses everything', () => {
    expect(missingPrerequisites('', () => true, [])).toHaveLength(PREREQUISITES.length);
  });

  it('the global setup throws at once without them, and not when told to skip', () => {
    const saved = { PATH: process.env.PATH, TEST_PREREQUISITES: process.env.TEST_PREREQUISITES };
    try {
      process.env.PATH = '/nonexistent';
      delete process.env.TEST_PREREQUISITES;
      expect(() => setup()).toThrow(/not installed[\s\S]*redis-server[\s\S]*bash \.ci\/run/);
      process.env.TEST_PREREQUISITES = 'skip';
      expect(() => setup()).not.toThrow();
    } finally {
      process.env.PATH = saved.PATH;
      if (saved.TEST_PREREQUISITES === undefined) delete process.env.TEST_PREREQUISITES;
      else process.env.TEST_PREREQUISITES = saved.TEST_PREREQUISITES;
    }
  });
});
