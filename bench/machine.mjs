// The machine a bench ran on: CPU, cores, OS, Node and V8, C compiler, and how busy it was.
//
// The description goes at the top of the report and into the JSON, so that figures from two runs
// are never compared without seeing that they came from different machines or a loaded one; the
// 1-minute load average is taken before and after the run, since other programs may share the CPU.
import { spawnSync } from 'node:child_process';
import { availableParallelism, cpus, loadavg, platform, release } from 'node:os';

/**
 * The CPU's model name, from `lscpu` where there is one (Node's own can be less precise).
 * @returns the model name, or `unknown CPU`
 */
export function cpuModel() {
  const lscpu = spawnSync('lscpu', { encoding: 'utf8' });
  const line = lscpu.stdout?.split('\n').find((l) => l.startsWith('Model name:'));
  return line ? line.slice('Model name:'.length).trim() : cpus()[0]?.model ?? 'unknown CPU';
}

/**
 * The 1-minute load average now.
 * @returns runnable processes averaged over the last minute
 */
export const loadAverage = () => loadavg()[0];

/**
 * Describes this machine at the start of a run; the caller sets `loadAfter` at the end.
 * @param compiler - the C compiler's version line, or undefined when there is no C reference
 * @returns `{ cpu, vcpus, os, node, v8, cc, date, loadBefore, loadAfter }`
 */
export function describeMachine(compiler) {
  return {
    cpu: cpuModel(),
    vcpus: availableParallelism(),
    os: `${platform()} ${release()}`,
    node: process.version,
    v8: process.versions.v8,
    cc: compiler ?? null,
    date: new Date().toISOString(),
    loadBefore: loadAverage(),
    loadAfter: NaN,
  };
}
