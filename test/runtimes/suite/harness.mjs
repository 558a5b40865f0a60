// A test runner small enough to behave the same in Node, Bun and Deno: tests run one after the
// other, and each result is one JSON line on stdout, which test/runtimes/run.mjs reads. Assertions
// come from node:assert/strict, which all three have.

const tests = [];

/** Registers a test; `fn` may be async. */
export function test(name, fn) {
  tests.push({ name, fn });
}

const print = (record) => process.stdout.write(`${JSON.stringify(record)}\n`);

/**
 * Runs the registered tests in order and prints a line per test, then `{ done }`.
 * @param only - run only the tests whose name contains this (for debugging one test)
 */
export async function run(only) {
  let failed = 0;
  const chosen = only === undefined ? tests : tests.filter(({ name }) => name.includes(only));
  for (const { name, fn } of chosen) {
    try {
      await fn();
      print({ test: name, ok: true });
    } catch (error) {
      failed++;
      print({ test: name, ok: false, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
    }
  }
  print({ done: true, tests: chosen.length, failed });
  return failed;
}
