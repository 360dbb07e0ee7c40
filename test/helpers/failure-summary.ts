/**
 * A reporter that ends the run with one line per failed test (file, name, first line of the error),
 * after everything else the run printed: a CI log that keeps only its tail still says what failed,
 * and test:calendar repeats these lines for each clock it ran at.
 */
import { appendFileSync } from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';

export default class FailureSummary implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const lines: string[] = [];
    for (const module of modules) {
      for (const test of module.children.allTests('failed')) {
        const error = test.result().errors?.[0]?.message?.split('\n')[0] ?? '';
        lines.push(`${module.moduleId.replace(`${process.cwd()}/`, '')} > ${test.fullName}: ${error}`);
      }
      // A file that failed outside its tests (an import, a hook) has no failed test to name.
      if (module.state() === 'failed' && !module.children.allTests('failed').next().value)
        lines.push(
          `${module.moduleId.replace(`${process.cwd()}/`, '')}: ${module.errors()[0]?.message ?? 'failed'}`,
        );
    }
    if (lines.length === 0) return;
    const text = `\nfailed tests (${lines.length}):\n${lines.map((l) => `  FAIL ${l}`).join('\n')}\n`;
    process.stderr.write(text);
    // test:calendar collects them per clock, to say again at its end which test failed where.
    if (process.env.FAILURE_SUMMARY_FILE) appendFileSync(process.env.FAILURE_SUMMARY_FILE, text);
  }
}
