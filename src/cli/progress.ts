/**
 * The live view of `migration-stats simulate`: one line redrawn in place on a terminal, plain
 * lines (one per pass and stage) otherwise.
 * @packageDocumentation
 */
import { sizeToStr } from '../qemu/hmp.js';
import type { MigrationProgress } from '../simulate/migration.js';

/** Where the view writes: a Node stream or anything with `write`. */
export interface TextOut {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** What each status is called in the view: QEMU's name, but for postcopy. */
const STAGE: Record<MigrationProgress['status'], string> = {
  none: 'none',
  setup: 'setup',
  active: 'active',
  'pre-switchover': 'pre-switchover',
  device: 'device',
  'postcopy-active': 'postcopy',
  completed: 'completed',
  cancelling: 'cancelling',
  cancelled: 'cancelled',
  failed: 'failed',
};

/** The stage in words: `stop-and-copy` while it runs (QEMU's status then stays `active`, or is `device`). */
function stage(p: MigrationProgress): string {
  return p.stopAndCopy && (p.status === 'active' || p.status === 'device') ? 'stop-and-copy' : STAGE[p.status];
}

/**
 * One line of figures: pass (QEMU's `dirty-sync-count`), stage, time, transferred, remaining,
 * throughput, dirty rate.
 */
export function progressLine(p: MigrationProgress): string {
  const seconds = (p.elapsedMs / 1000).toFixed(1);
  return (
    `pass ${p.pass} · ${stage(p)} · ${seconds} s · transferred ${sizeToStr(p.transferredBytes)}` +
    ` · remaining ${sizeToStr(p.remainingBytes)} · ${p.mbps.toFixed(1)} Mbps · dirty ${p.dirtyPagesRate} pages/s`
  );
}

/** What each status adds after the pass number in the short line (nothing while active). */
const SHORT_STAGE: Record<MigrationProgress['status'], string> = {
  none: ' none',
  setup: ' setup',
  active: '',
  'pre-switchover': ' paused',
  device: ' device',
  'postcopy-active': ' postcopy',
  completed: ' done',
  cancelling: ' cancelling',
  cancelled: ' cancelled',
  failed: ' failed',
};

/**
 * The same figures in fewer characters, for a terminal too narrow for {@link progressLine}: a
 * usual pass fits in 79 columns.
 * @example progressShortLine(p) //=> 'pass 6 final  3.3 s  sent 388 MiB  left 23.5 MiB  1105.1 Mbps  dirty 24634/s'
 */
export function progressShortLine(p: MigrationProgress): string {
  return [
    `pass ${p.pass}${p.stopAndCopy && p.status === 'active' ? ' final' : SHORT_STAGE[p.status]}`,
    `${(p.elapsedMs / 1000).toFixed(1)} s`,
    `sent ${sizeToStr(p.transferredBytes)}`,
    `left ${sizeToStr(p.remainingBytes)}`,
    `${p.mbps.toFixed(1)} Mbps`,
    `dirty ${p.dirtyPagesRate}/s`,
  ].join('  ');
}

/** Terminal width assumed when the terminal does not say (Node reports 0 columns then). */
const DEFAULT_COLUMNS = 80;

/** Draws progress as it comes; call `finish` once at the end. */
export interface ProgressView {
  update(progress: MigrationProgress): void;
  finish(): void;
}

/**
 * Makes the view for an output: redrawn in place when it is a terminal (in the short form when the
 * full line is wider than the terminal), else one line per pass and per stage change.
 */
export function progressView(out: TextOut): ProgressView {
  if (out.isTTY) {
    let drawn = false;
    return {
      update(progress) {
        const columns = out.columns !== undefined && out.columns > 0 ? out.columns : DEFAULT_COLUMNS;
        const width = Math.max(columns - 1, 20);
        const full = progressLine(progress);
        const line = full.length <= width ? full : progressShortLine(progress);
        // Clear the line and redraw; cut to the width so the terminal never wraps it.
        out.write(`\r\x1b[2K${line.length > width ? line.slice(0, width - 1) + '…' : line}`);
        drawn = true;
      },
      finish() {
        if (drawn) out.write('\n');
      },
    };
  }
  let last = '';
  return {
    update(progress) {
      const key = `${progress.status} ${progress.stopAndCopy} ${progress.pass}`;
      if (key === last || progress.status === 'setup') return;
      last = key;
      out.write(`${progressLine(progress)}\n`);
    },
    finish() {},
  };
}
