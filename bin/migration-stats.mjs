#!/usr/bin/env node
// The `migration-stats` command (`npx migration-stats simulate`, `npm start`). The work is in
// src/cli/ (built to dist/cli/); this file only connects it to the process.
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
