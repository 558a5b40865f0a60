/**
 * How a simulated migration ended, in the shape `simulateMigration` returns: the figures, the
 * counts the tests check exactly, and one line saying what happened.
 * @packageDocumentation
 */
import { sizeToStr } from '../qemu/hmp.js';
import type { MigrationInfo } from '../qemu/query-migrate.js';
import type { Migration } from './stages.js';
import type { MigrationResult, PostcopyResult } from './types.js';
import { PAGE_BYTES } from './wire.js';

/** How the run ended, as the machine saw it. */
export type Ending =
  | { readonly kind: 'completed'; readonly firstMismatchPage: number }
  /** Cancelled: by `--max-passes` (`maxPasses`), or for `reason` (a signal, `migrate_cancel`). */
  | { readonly kind: 'cancelled'; readonly reason: string; readonly maxPasses?: number };

/** The result of a migration that ended. */
export function resultOf(m: Migration, ending: Ending): MigrationResult {
  const { settings } = m;
  const ready = m.booted[0]?.ready;
  const postcopy = postcopyResult(m);
  const passes = postcopy ? postcopy.passesBeforeSwitch : m.passes;
  const common = {
    settings,
    stats: m.stats,
    passes,
    dataPackets: m.dataPackets,
    syncPackets: m.syncPackets,
    pagesSent: m.pagesSent,
    windows: m.windows,
    thresholdBytes: m.switchoverThresholdBytes,
    scan: ready?.type === 'ready' ? (ready.scan ?? '') : '',
    setupTimeMs: m.setupTimeMs,
    postcopy,
    destinationStats: m.destinationStats,
  };
  if (ending.kind === 'completed') {
    const verified = ending.firstMismatchPage < 0;
    const pages = m.pages;
    const message = verified
      ? `migration completed; destination equals source: ${settings.ramBytes} bytes (${pages} page${pages === 1 ? '' : 's'}) compared byte for byte`
      : `migration completed, but the destination differs from the source at page ${ending.firstMismatchPage}`;
    return {
      ...common,
      status: 'completed',
      message,
      info: m.completedInfo!,
      cancelledInfo: undefined,
      verified,
      firstMismatchPage: ending.firstMismatchPage,
      totalTimeMs: m.totalTimeMs,
      downtimeMs: m.downtimeMs,
    };
  }
  const info: MigrationInfo = m.completedInfo ?? { status: 'cancelled' };
  return {
    ...common,
    status: 'cancelled',
    message: ending.maxPasses === undefined ? cancelMessage(m, ending.reason) : notConverged(m, ending.maxPasses),
    info,
    cancelledInfo: m.cancelledInfo,
    verified: undefined,
    firstMismatchPage: -1,
    totalTimeMs: m.completedInfo ? m.totalTimeMs : m.startMs === 0 ? 0 : m.clock(),
    downtimeMs: undefined,
  };
}

/** The message of a migration cancelled by `--max-passes`. */
function notConverged(m: Migration, maxPasses: number): string {
  const s = m.settings;
  const limit = m.params.maxBandwidth === 0n ? 'unlimited bandwidth' : `a bandwidth of ${sizeToStr(m.params.maxBandwidth)}/s`;
  return (
    `migration did not converge in ${maxPasses} pass${maxPasses === 1 ? '' : 'es'} (the most allowed): ${sizeToStr(m.bitmap.count * PAGE_BYTES)} ` +
    `was dirty after the last one, more than the ${sizeToStr(m.switchoverThresholdBytes)} that can be sent within the ` +
    `${m.params.downtimeLimitMs} ms downtime limit; the guest dirties ${sizeToStr(s.dirtyBytesPerSecond)}/s against ${limit}. ` +
    'Migration cancelled'
  );
}

/** The message of a migration cancelled for `reason`: where it was when the cancel came. */
function cancelMessage(m: Migration, reason: string): string {
  const left = `${sizeToStr(m.bitmap.count * PAGE_BYTES)} of ${sizeToStr(m.settings.ramBytes)} still to send`;
  const stage = m.cancelledStatus;
  const where = m.completedInfo
    ? 'during the verification, after the migration completed'
    : stage === 'postcopy-active'
      ? `during postcopy: ${left}`
      : stage === 'pre-switchover' || stage === 'device' || (stage === 'active' && m.stopAndCopy)
        ? `during stop-and-copy: ${left}`
        : stage === 'active'
          ? `during pass ${m.pass}: ${left}`
          : 'during set-up, before any page was sent';
  return `migration cancelled (${reason}) ${where}; the figures are those of that moment`;
}

/** The counts of the postcopy stage, once switched. */
function postcopyResult(m: Migration): PostcopyResult | undefined {
  const counts = m.postcopyCounts;
  const shared = m.postcopyShared;
  if (!counts || !shared) return undefined;
  const sum = (array: Int32Array): number => array.reduce((a, b) => a + b, 0);
  return {
    vcpus: shared.vcpus,
    passesBeforeSwitch: counts.passesBeforeSwitch,
    missingPages: counts.missingPages,
    requests: sum(shared.requests),
    requestsTaken: counts.requestsTaken,
    requestedPagesSent: counts.requestedPagesSent,
    normalPagesAfterSwitch: counts.normal,
    zeroPagesAfterSwitch: counts.zero,
    remoteFaults: sum(shared.faults),
    pageRequests: shared.requests.slice(),
    pageFaults: shared.faults.slice(),
  };
}
