/**
 * The report a simulated migration ends with, the same whether it ran at once (`simulate`) or was
 * driven over QMP (`simulate --qmp`).
 * @packageDocumentation
 */
import { infoMigrate } from '../qemu/hmp.js';
import { formatQmp } from '../qemu/qmp-json.js';
import type { MigrationResult } from '../simulate/types.js';
import type { TextOut } from './progress.js';

/**
 * Writes a migration's report: with `json`, its `query-migrate` on stdout and the message on
 * stderr; otherwise `info migrate` (with `-a` after postcopy, where QEMU prints the destination's
 * blocktime) and the message, on stdout when it succeeded and stderr when not.
 * @returns whether the migration completed with a destination equal to its source
 */
export function writeReport(result: MigrationResult, json: boolean, io: { readonly stdout: TextOut; readonly stderr: TextOut }): boolean {
  const ok = result.status === 'completed' && result.verified === true;
  if (json) {
    io.stdout.write(`${formatQmp(result.info)}\n`);
    io.stderr.write(`${result.message}\n`);
  } else {
    // A cancelled migration's figures are those of the moment of the cancel (QEMU's final reply has the status alone).
    const info = result.cancelledInfo ?? result.info;
    io.stdout.write(`\n${infoMigrate(info, { all: result.postcopy !== undefined && result.status === 'completed' })}`);
    (ok ? io.stdout : io.stderr).write(`\n${result.message}\n`);
  }
  return ok;
}
