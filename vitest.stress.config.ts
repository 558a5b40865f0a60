import { defineConfig } from 'vitest/config';

// The reliability suite (`npm run test:stress`, run in CI after `npm test`): load, fault and fuzz
// cases in test/stress/*.stress.ts, each bounded by a fixed number of calls, requests or updates
// (never by a clock), asserting exact totals and the library's error types. A new case is one more
// *.stress.ts file there; docs/design.md ("Reliability") gives the figures each case exercises.
export default defineConfig({
  test: {
    include: ['test/stress/**/*.stress.ts'],
    // Tests import the built library (dist/): it is rebuilt first when a source is newer.
    globalSetup: ['test/global-setup.ts'],
    // One file at a time: the load cases start workers, and the machine may have 2 cores.
    fileParallelism: false,
    // Safety nets against a hang (as in vitest.config.ts), never a verdict on speed: the longest case
    // (the fuzzer's reports and exporters) took 40 to 80 s with two CPU-bound processes beside it
    // on a 2-core machine that others loaded as well.
    testTimeout: 600_000,
    hookTimeout: 300_000,
  },
});
