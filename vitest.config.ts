import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests import the built library (dist/): it is rebuilt first when a source is newer.
    globalSetup: ['test/global-setup.ts'],
    // Worker tests do hundreds of thousands of atomic operations per worker on a 2-core machine.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // After the default report: one line naming each part skipped for a missing Debian package
    // and the command that installs it (test/requirements.ts), then the totals.
    reporters: ['default', './test/skip-summary.ts'],
  },
});
