/**
 * `migration-stats watch --json`: the outcome as one JSON object. `last` is QEMU's final
 * `query-migrate` return printed as QEMU prints it (`formatQmp`, integers exact, members in QEMU's
 * order), so it is byte for byte what the monitor sent; the rest is written here with integers
 * exact too (never through `Number`).
 * @packageDocumentation
 */
import { formatQmp } from '../qemu/qmp-json.js';
import { formatQemuVersion } from '../qemu/versions.js';
import type { WatchOutcome } from '../qemu/watch-types.js';
import type { TextOut } from './progress.js';

type Json = bigint | number | string | boolean | null | { readonly [key: string]: Json | undefined } | readonly Json[];

/** JSON text of a value whose integers are bigints: members in the order given, `undefined` ones left out. */
function write(value: Json): string {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isFinite(value) ? JSON.stringify(value) : 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(write).join(', ')}]`;
  const members = Object.entries(value).filter(([, member]) => member !== undefined);
  return `{${members.map(([key, member]) => `${JSON.stringify(key)}: ${write(member!)}`).join(', ')}}`;
}

/**
 * The outcome as JSON: `status`, `qemu` (the version), `events`, `last` (QEMU's final
 * `query-migrate` return as received), `last-running` (the last reply before the final status,
 * or null), `passes` (one entry per pass: `pass`, `time` as QEMU's event timestamp, `event`, and
 * the figures of the next reply), `passes-dropped`.
 */
export function watchJson(outcome: WatchOutcome): string {
  const passes = outcome.passes.map((p) => {
    const figures = p.figures;
    return write({
      pass: p.pass,
      time: { seconds: p.time.seconds, microseconds: p.time.microseconds },
      event: p.event,
      transferred: figures?.transferred,
      remaining: figures?.remaining,
      'dirty-pages-rate': figures?.dirtyPagesRate,
      mbps: figures?.mbps,
      'dirty-to-transfer-ratio': figures ? figures.dirtyToTransferRatio : undefined,
    });
  });
  const head = write({ status: outcome.status, qemu: formatQemuVersion(outcome.version), package: outcome.version.package, events: outcome.events });
  return (
    `${head.slice(0, -1)}, "last": ${formatQmp(outcome.last, { type: null })}, ` +
    `"last-running": ${outcome.lastRunning ? formatQmp(outcome.lastRunning, { type: null }) : 'null'}, ` +
    `"passes": [${passes.join(', ')}], "passes-dropped": ${outcome.passesDropped}}`
  );
}

/** Writes {@link watchJson} and a newline. */
export function writeWatchJson(out: TextOut, outcome: WatchOutcome): void {
  out.write(`${watchJson(outcome)}\n`);
}
