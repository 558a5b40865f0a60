/**
 * The simulator as both sides of a harness scenario (harness.ts `start`): one
 * `migration-stats simulate --qmp` process, its source monitor and its destination's
 * (`--incoming-qmp`, waiting for `migrate-incoming` as `-incoming defer`). Its guest is 128 MiB
 * and 4 KiB, as QEMU's guest RAM and firmware, dirtied at 256 MiB/s: more than 32 MiB/s can
 * carry within 300 ms, as the test guest's 16 MiB, whatever the machine's speed.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { connectMonitor, type Vm } from './harness.js';
import type { ExitRecord } from './record.js';

const BIN = new URL('../../bin/migration-stats.mjs', import.meta.url).pathname;

/**
 * Starts the simulator, once both monitors listen.
 * @param dir - a folder for the sockets
 * @param extraMonitors - more monitors on the source (`--qmp` again), as the harness's QEMUs have
 * @returns the source and the destination; killing either ends the process (both sides)
 */
export async function startSimulator(dir: string, extraMonitors = 0): Promise<[source: Vm, destination: Vm]> {
  const source = join(dir, 'source.qmp');
  const destination = join(dir, 'destination.qmp');
  const monitors = Array.from({ length: extraMonitors }, (_, i) => join(dir, `source-${i + 2}.qmp`));
  const argv = ['simulate', '--ram', '131076KiB', '--dirty-rate', '256MiB/s', '--bandwidth', '0', '--qmp', `unix:${source}`];
  for (const monitor of monitors) argv.push('--qmp', `unix:${monitor}`);
  argv.push('--incoming-qmp', `unix:${destination}`);
  const child = spawn(process.execPath, [BIN, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let exitRecord: ExitRecord | undefined;
  const exit = new Promise<ExitRecord>((resolve) => child.once('exit', (code, signal) => resolve((exitRecord = { code, signal }))));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const kill = (): void => {
    if (exitRecord === undefined) child.kill('SIGKILL');
  };
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (text: string) => {
        stdout += text;
        if (stdout.includes("destination's QMP monitor on")) resolve();
      });
      void exit.then((how) => reject(new Error(`the simulator ended (${how.signal ?? `exit ${how.code}`}) before listening: ${stderr.trim()}`)));
    });
    const side = async (role: 'source' | 'destination', path: string): Promise<Vm> => ({
      role,
      pid: child.pid!,
      qmp: await connectMonitor(path, `simulated ${role} QMP`),
      monitors: role === 'source' ? monitors : [],
      argv,
      exit,
      exited: () => exitRecord,
      console: () => stdout,
      stderr: () => stderr,
      kill,
    });
    return [await side('source', source), await side('destination', destination)];
  } catch (error) {
    kill();
    throw error;
  }
}
