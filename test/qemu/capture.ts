/**
 * Runs scenarios against the real QEMU on PATH and writes each record to
 * test/fixtures/qemu/<major.minor>/<scenario>.json. Started by capture.mjs.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { findQemu, runScenario, SCENARIO_NAMES, type ScenarioName } from './harness.js';
import { FIXTURE_ROOT } from './record.js';

/**
 * Captures the scenarios named (all when none is).
 * @param names - scenario names
 * @returns the files written
 */
export async function capture(names: readonly string[]): Promise<string[]> {
  if (findQemu() === undefined) throw new Error('qemu-system-x86_64 is not on PATH (apt-get install qemu-system-x86)');
  const unknown = names.filter((name) => !(SCENARIO_NAMES as readonly string[]).includes(name));
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}; the scenarios are ${SCENARIO_NAMES.join(', ')}`);
  const written: string[] = [];
  for (const name of (names.length > 0 ? names : SCENARIO_NAMES) as ScenarioName[]) {
    const { record } = await runScenario(name);
    const version = /^(\d+\.\d+)\./.exec(record.qemu)?.[1];
    if (version === undefined) throw new Error(`unexpected QEMU version ${record.qemu}`);
    const dir = `${FIXTURE_ROOT}${version}`;
    mkdirSync(dir, { recursive: true });
    const file = `${dir}/${name}.json`;
    writeFileSync(file, `${JSON.stringify(record, null, 1)}\n`);
    written.push(file);
  }
  return written;
}
