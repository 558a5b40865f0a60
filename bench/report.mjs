// The bench's report: the Markdown text on stdout and every figure in a JSON file.
//
// The text is a header (machine, what ran, load), then each suite's section in the order the suites
// ran: its title, its table and its notes, as the suite wrote them. The JSON holds the machine, the
// settings, the release module's size, every suite's ratios in one object, each suite's raw data
// under the suite's name, and the sum of what the measured loops returned.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { num, table } from './format.mjs';

/**
 * One suite's section of the text.
 * @param result - what the suite's `run` returned
 * @returns its title, table and notes, a blank line between each
 */
function section({ title, table: t, notes = [] }) {
  return [title, t && table(t.headers, t.rows, t.textColumns), notes.join('\n')].filter(Boolean).join('\n\n');
}

/**
 * The text of the report.
 * @param run - `{ machine, mode, suites, config, results, wasmBytes }`: `results[i]` is what
 *   `suites[i]` returned
 * @returns the Markdown report, without a final newline
 */
export function reportText({ machine, mode, suites, config, results, wasmBytes }) {
  const header =
    `migration-stats bench, ${machine.date.slice(0, 10)}: ${machine.cpu}, ${machine.vcpus} vCPU, ${machine.os}, ` +
    `Node ${machine.node} (V8 ${machine.v8})${machine.cc ? `, ${machine.cc}` : ''}`;
  const ran =
    `${mode} run: ${suites.map((s) => s.describe(config)).join(', ')}; medians` +
    `; 1-min load average ${num(machine.loadBefore)} before, ${num(machine.loadAfter)} after`;
  return [[header, ran].join('\n'), ...results.map(section), `Release .wasm: ${wasmBytes} bytes`].join('\n\n');
}

/**
 * Writes the JSON file, creating its folder.
 * @param path - where to write it
 * @param run - `{ machine, mode, config, native, wasmBytes, suites, results, sink }`
 * @throws Error when the file cannot be written
 */
export function writeJson(path, { machine, mode, config, native, wasmBytes, suites, results, sink }) {
  const ratios = Object.assign({}, ...results.map((r) => r.ratios));
  const data = Object.fromEntries(suites.map((s, i) => [s.name, results[i].data]));
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify({ machine, mode, config, native, wasmBytes, ratios, ...data, sink }, null, 2)}\n`);
}
