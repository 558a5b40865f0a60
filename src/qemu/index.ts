/**
 * `migration-stats/qemu`: a live QEMU over QMP, for Node (it opens sockets, so it is not part of
 * the main entry, which browsers load too).
 *
 * - {@link watchQemu}: follows one migration to its end, mirrors QEMU's figures into a
 *   `MigrationStats` and keeps a per-pass history (what `migration-stats watch` runs).
 * - {@link qemuVersion}, {@link qemuBehaviour}, {@link QEMU_VERSION_CHANGES}: what differs between
 *   QEMU 7.2 and 10.x, each with the release that changed it.
 * - The QMP wire types a session speaks in.
 * @packageDocumentation
 */
export { watchQemu } from './watch.js';
export { QemuWatchError, type WatchOutcome, type WatchProgress, type WatchQemuOptions, type WatchReady, type QmpConnect } from './watch-types.js';
export type { WatchPass, PassFigures } from './watch-mirror.js';
export { defineWatchStats, recordWatchProgress, recordWatchOutcome, WATCH_NAMESPACE, type WatchStats } from './watch-metrics.js';
export {
  qemuVersion,
  qemuBehaviour,
  qemuAtLeast,
  formatQemuVersion,
  QEMU_VERSION_CHANGES,
  type QemuVersion,
  type QemuBehaviour,
  type QemuVersionChange,
} from './versions.js';
export { QmpError, parseQmp, parseQmpAddress, type QmpEvent, type QmpObject, type QmpSession, type QmpTimestamp, type QmpErrorClass } from './qmp-wire.js';
