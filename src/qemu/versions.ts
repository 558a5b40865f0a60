/**
 * What changed between the QEMU versions `migration-stats watch` talks to (7.2 to 10.x), in one
 * place, each with the release that changed it. The version comes from the QMP greeting
 * (`{"QMP": {"version": {"qemu": {"major", "minor", "micro"}, "package"}}}`).
 *
 * Only what a reader of `query-migrate`, the migration events or `info migrate` notices is here.
 * @packageDocumentation
 */
import { describe } from '../errors.js';
import type { QmpObject } from './qmp-wire.js';

/** A QEMU release, as its QMP greeting names it. */
export interface QemuVersion {
  readonly major: number;
  readonly minor: number;
  readonly micro: number;
  /** The greeting's `package` member (a distribution's build, e.g. `Debian 1:7.2+dfsg-7`); `''` when none. */
  readonly package: string;
}

/** One change between releases. */
export interface QemuVersionChange {
  /** The release that changed it, `major.minor`. */
  readonly since: string;
  /** What a reader sees before that release. */
  readonly before: string;
  /** What a reader sees from that release on. */
  readonly after: string;
}

/**
 * The changes, oldest first. `docs/qemu.md` shows the same table; {@link qemuBehaviour} answers
 * them for one version.
 */
export const QEMU_VERSION_CHANGES: readonly QemuVersionChange[] = Object.freeze([
  {
    since: '8.0',
    before: "`postcopy-active` replies carry `expected-downtime` (the downtime limit, or the last estimate)",
    after: '`postcopy-active` replies carry `downtime` (the pause at the switch)',
  },
  {
    since: '8.1',
    before: '`ram.transferred` counts RAM pages only (main stream and multifd); a completed `mbps` divides every byte written to the main stream',
    after: '`ram.transferred` is `migration_transferred_bytes()`: every byte of the main stream, multifd and RDMA; `ram.skipped` deprecated (always 0)',
  },
  {
    since: '9.0',
    before: 'with multifd, zero pages still go on the main channel (`duplicate` is counted there)',
    after: 'multifd channels detect and send zero pages themselves (`zero-page-detection`)',
  },
  { since: '9.1', before: '`ram.skipped` is printed (always 0)', after: '`ram.skipped` is gone' },
  {
    since: '10.1',
    before: '`info migrate` starts with `globals:` and `Migration status:`',
    after: '`info migrate` prints `Status:` and sections; `-a` adds the globals and the destination\'s blocktime',
  },
] satisfies QemuVersionChange[]).map((change) => Object.freeze(change));

/** What the watcher needs to know about one version. */
export interface QemuBehaviour {
  /** `ram.skipped` is in every `ram` object (before 9.1). */
  readonly reportsSkipped: boolean;
  /** `ram.transferred` counts RAM pages only, not device state or stream headers (before 8.1). */
  readonly transferredIsRamOnly: boolean;
  /** The member a `postcopy-active` reply carries: `expected-downtime` before 8.0, `downtime` from 8.0. */
  readonly postcopyDowntimeMember: 'expected-downtime' | 'downtime';
  /** With multifd, zero pages are sent on the main channel (before 9.0). */
  readonly zeroPagesOnMainChannel: boolean;
  /** `info migrate`'s layout: `'globals'` (`globals:` … `Migration status:`, before 10.1) or `'sections'` (10.1+). */
  readonly hmpLayout: 'globals' | 'sections';
  /**
   * The `MIGRATION` and `MIGRATION_PASS` events are sent only with the `events` capability on (off
   * by default in every version), and capabilities cannot change while a migration runs (QEMU
   * answers `GenericError: There's a migration process in progress`).
   */
  readonly eventsNeedCapability: true;
}

/**
 * Whether `version` is `major.minor` or later.
 * @param version - from {@link qemuVersion}
 * @param major - e.g. 8
 * @param minor - e.g. 1
 * @returns true for that release and later ones
 */
export function qemuAtLeast(version: QemuVersion, major: number, minor: number): boolean {
  return version.major > major || (version.major === major && version.minor >= minor);
}

/**
 * The behaviour of one QEMU version, from {@link QEMU_VERSION_CHANGES}.
 * @param version - from {@link qemuVersion}
 * @returns what a reader of its replies must expect
 */
export function qemuBehaviour(version: QemuVersion): QemuBehaviour {
  return Object.freeze({
    reportsSkipped: !qemuAtLeast(version, 9, 1),
    transferredIsRamOnly: !qemuAtLeast(version, 8, 1),
    postcopyDowntimeMember: qemuAtLeast(version, 8, 0) ? 'downtime' : 'expected-downtime',
    zeroPagesOnMainChannel: !qemuAtLeast(version, 9, 0),
    hmpLayout: qemuAtLeast(version, 10, 1) ? 'sections' : 'globals',
    eventsNeedCapability: true,
  });
}

/** A whole number from a greeting member (QMP integers arrive as bigint). */
function part(value: unknown): number | undefined {
  if (typeof value === 'bigint' && value >= 0n && value <= 0xffffn) return Number(value);
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffff) return value;
  return undefined;
}

/**
 * The QEMU version a QMP greeting announces.
 * @param greeting - the greeting's `QMP` member (`QmpSession.greeting`)
 * @returns the version, frozen
 * @throws TypeError when the greeting has no `version.qemu` with whole `major`, `minor` and `micro`
 */
export function qemuVersion(greeting: QmpObject): QemuVersion {
  const version = greeting?.version;
  const qemu = version !== null && typeof version === 'object' && !Array.isArray(version) ? (version as QmpObject).qemu : undefined;
  const fields = qemu !== null && typeof qemu === 'object' && !Array.isArray(qemu) ? (qemu as QmpObject) : undefined;
  const major = part(fields?.major);
  const minor = part(fields?.minor);
  const micro = part(fields?.micro);
  if (major === undefined || minor === undefined || micro === undefined) {
    throw new TypeError(
      `qemuVersion: the greeting must have version.qemu.major, .minor and .micro as whole numbers; received ${describe(version)}`,
    );
  }
  const pkg = (version as QmpObject).package;
  return Object.freeze({ major, minor, micro, package: typeof pkg === 'string' ? pkg : '' });
}

/**
 * A version as QEMU prints it.
 * @param version - from {@link qemuVersion}
 * @returns e.g. `'7.2.22'`
 */
export function formatQemuVersion(version: QemuVersion): string {
  return `${version.major}.${version.minor}.${version.micro}`;
}
