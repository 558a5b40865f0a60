#!/usr/bin/env node
// The `migration-stats` command (`npx migration-stats simulate`, `npm start`). The work is in
// src/cli/ (built to dist/cli/, and bundled into dist/node/cli.js, which this loads); this file
// only connects it to the process.
import { EXIT, main } from '../dist/node/cli.js';

// SIGINT and SIGTERM cancel a running migration: the command stops its workers, prints the report
// so far and returns 130 or 143. A second signal, while it does so, ends the process at once.
const stop = new AbortController();
for (const [name, code] of [['SIGINT', 130], ['SIGTERM', 143]]) {
  process.on(name, () => {
    if (stop.signal.aborted) process.exit(code);
    stop.abort(name);
  });
}
// Node ignores SIGPIPE, so a closed pipe (`migration-stats simulate | head -1`) is an EPIPE error
// on the stream: end at once and without a word, with 141 as a process SIGPIPE ended (the
// workers end with the process; no one reads the rest).
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(EXIT.closed);
  });
}
process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, signal: stop.signal });
