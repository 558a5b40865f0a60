/**
 * A Vitest reporter that ends the run with one line naming every part of the suite that was
 * skipped for a missing program (see test/requirements.ts) and the command that enables it, then
 * the totals as one plain line. Listed after the default reporter in vitest.config.ts.
 */
import type { Reporter, TestModule } from 'vitest/node';
import { parseSkipNote, REQUIRE_ALL_ENV } from './requirements.js';

export default class SkipSummary implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const parts = new Map<string, { enable: string; tests: number }>();
    const counts = { passed: 0, failed: 0, skipped: 0 };
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const result = test.result();
        if (result.state === 'passed') counts.passed++;
        else if (result.state === 'failed') counts.failed++;
        else if (result.state === 'skipped') {
          counts.skipped++;
          const part = parseSkipNote(result.note);
          if (part === undefined) continue;
          const entry = parts.get(part.name) ?? { enable: part.enable, tests: 0 };
          entry.tests++;
          parts.set(part.name, entry);
        }
      }
    }
    const out = process.stdout;
    if (parts.size > 0) {
      const list = [...parts].map(([name, { enable, tests }]) => `${name} (${tests} test${tests === 1 ? '' : 's'}; enable: ${enable})`);
      out.write(`\nSkipped, for want of programs npm cannot install: ${list.join(', ')}. ${REQUIRE_ALL_ENV}=1 makes such skips failures.\n`);
    }
    out.write(`\ntests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
  }
}
