#!/usr/bin/env node
// The `migration-stats` command (`npx migration-stats simulate`, `npm start`). The work is in
// src/cli/ (built to dist/cli/, and bundled into dist/node/cli.js, which this loads); this file
// only connects it to the process.
import { main } from '../dist/node/cli.js';

// SIGINT and SIGTERM cancel a running migration: the command stops its workers, prints the report
// so far and returns 130 or 143. A second signal, while it does so, ends the process at once.
const stop = new AbortController();
for (const [name, code] of [['SIGINT', 130], ['SIGTERM', 143]]) {
  process.on(name, () => {
    if (stop.signal.aborted) process.exit(code);
    stop.abort(name);
  });
}
process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, signal: stop.signal });
