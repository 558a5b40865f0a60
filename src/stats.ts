/**
 * `MigrationStats`: QEMU's `MigrationAtomicStats` and the functions of `migration-stats.h`, on a
 * shared WebAssembly memory that every thread attaching to the same handle sees.
 * @packageDocumentation
 */
import type { BackendName, Core } from './core.js';
import { cannotShareError, describe, explainCompileError, handleError, optionError, toU64 } from './errors.js';
import { JsCore } from './js-core.js';
import { checkOptionNames } from './option-names.js';
import {
  COUNTERS,
  HDR_MAGIC,
  HDR_VERSION,
  LAYOUT_BYTES,
  LAYOUT_VERSION,
  MAGIC,
  MEMORY_PAGES,
  type CounterName,
} from './layout.js';
import { compileCore, instantiateCore, REQUIRED_EXPORTS } from './loader.js';
import { Stat64 } from './stat64.js';

/** QEMU's `BUFFER_DELAY`: length of one rate-limit window, in milliseconds. */
export const BUFFER_DELAY = 100;
/** QEMU's `RATE_LIMIT_DISABLED`: a per-window budget of 0 means no limit. */
export const RATE_LIMIT_DISABLED = 0;
/** QEMU's `XFER_LIMIT_RATIO`: rate-limit windows per second (1000 / `BUFFER_DELAY`). */
export const XFER_LIMIT_RATIO = 1000 / BUFFER_DELAY;

/**
 * What one thread passes to another so that both see the same counters. A plain object: it
 * survives `postMessage` and `structuredClone`, and the receiving thread does not recompile.
 */
export interface MigrationStatsHandle {
  /** Always `'migration-stats'`. */
  readonly kind: 'migration-stats';
  /** Version of the memory layout. */
  readonly layoutVersion: number;
  /** The shared memory that holds the counters. */
  readonly memory: WebAssembly.Memory;
  /** The compiled Wasm core. */
  readonly module: WebAssembly.Module;
}

/** Options of {@link MigrationStats.create} and {@link MigrationStats.attach}. */
export interface MigrationStatsOptions {
  /** `'wasm'` (default): the AssemblyScript core; `'js'`: `Atomics` on a `BigUint64Array`. */
  backend?: BackendName;
  /**
   * Claim a lane for this instance's adds (default `true`). A thread that only reads may pass
   * `false` to leave the lane for a writer.
   */
  lane?: boolean;
}

const BACKENDS: readonly BackendName[] = ['wasm', 'js'];

/**
 * Marks instances of `MigrationStats`, across copies of this library: a browser bundle (such as
 * `migration-stats/browser/simulate`) carries its own copy of the class, so `instanceof` against
 * another copy's class fails although the object works the same.
 */
const BRAND = Symbol.for('migration-stats.MigrationStats');

/**
 * `isCount` of errors.ts, kept beside its hot caller {@link MigrationStats.addMultifdPacket}: through
 * the shared helper the packet measured 0.1 ns slower per counter update (2.57 instead of 2.47 ns,
 * bench/ --quick), the helper's type feedback being shared with every argument check of the library.
 */
function isSafeCount(n: unknown): n is number {
  return typeof n === 'number' && ((n >>> 0) === n || (n >= 0 && n <= Number.MAX_SAFE_INTEGER && Number.isInteger(n)));
}

/**
 * The error of {@link MigrationStats.addMultifdPacket} for its first bad argument. Kept out of the
 * method so that the method stays small enough for V8 to inline into the caller's loop.
 */
function packetArgumentError(normalPages: unknown, zeroPages: unknown, bytes: unknown): TypeError | RangeError {
  const args: [string, unknown][] = [['normalPages', normalPages], ['zeroPages', zeroPages], ['bytes', bytes]];
  const [name, value] = args.find(([, v]) => !isSafeCount(v))!;
  const message = `addMultifdPacket: ${name} must be a non-negative safe-integer number; received ${describe(value)}`;
  return typeof value === 'number' ? new RangeError(message) : new TypeError(message);
}

function readOptions(where: string, options: unknown): Required<MigrationStatsOptions> {
  if (options === undefined) return { backend: 'wasm', lane: true };
  if (options === null || typeof options !== 'object') {
    throw optionError(where, 'options', options, "an object such as { backend: 'wasm' | 'js' }");
  }
  checkOptionNames(where, 'options', options, ['backend', 'lane']);
  const { backend = 'wasm', lane = true } = options as MigrationStatsOptions;
  if (!BACKENDS.includes(backend)) throw optionError(where, 'options.backend', backend, "'wasm' or 'js'");
  if (typeof lane !== 'boolean') throw optionError(where, 'options.lane', lane, 'true or false');
  return { backend, lane };
}

function isSharedBuffer(buffer: unknown): boolean {
  // `SharedArrayBuffer` is not a global on pages that are not cross-origin isolated, yet a shared
  // memory's buffer still is one: ask its tag, not the constructor.
  return Object.prototype.toString.call(buffer) === '[object SharedArrayBuffer]';
}

/** The `buffer` getter of `WebAssembly.Memory`: it throws for anything that is not a memory. */
const memoryBuffer = Object.getOwnPropertyDescriptor(WebAssembly.Memory.prototype, 'buffer')!.get!;

/** Reads `memory` and `module` from a handle, turning an error of a getter or Proxy into ours. */
function readHandle(handle: object): { memory: unknown; module: unknown } {
  try {
    const { memory, module } = handle as { memory?: unknown; module?: unknown };
    return { memory, module };
  } catch (error) {
    const reason = error instanceof Error ? error.message : describe(error);
    throw handleError(` could not be read (${reason}); pass the plain object from stats.handle`);
  }
}

// The handle's memory and module are recognised by the engine's own checks (the `buffer` getter,
// `Module.exports`), not `instanceof`, which is false for those made in another realm (an iframe,
// a `vm` context) although they work the same.

function checkModule(module: unknown): WebAssembly.Module {
  let exportList: WebAssembly.ModuleExportDescriptor[];
  try {
    exportList = WebAssembly.Module.exports(module as WebAssembly.Module);
  } catch {
    throw handleError(`.module must be the compiled WebAssembly.Module from stats.handle; received ${describe(module)}`);
  }
  const exports = new Set(exportList.map((e) => e.name));
  const imports = WebAssembly.Module.imports(module as WebAssembly.Module);
  const missing = REQUIRED_EXPORTS.filter((name) => !exports.has(name));
  if (missing.length > 0 || imports.some((i) => !(i.module === 'env' && (i.name === 'memory' || i.name === 'abort')))) {
    throw handleError(
      `.module is not this library's Wasm core (${missing.length ? `it lacks the exports ${missing.join(', ')}` : 'it imports more than env.memory'})`,
    );
  }
  return module as WebAssembly.Module;
}

function checkMemory(memory: unknown): WebAssembly.Memory {
  let buffer: ArrayBuffer;
  try {
    buffer = memoryBuffer.call(memory) as ArrayBuffer;
  } catch {
    throw handleError(`.memory must be the shared WebAssembly.Memory from stats.handle; received ${describe(memory)}`);
  }
  if (!isSharedBuffer(buffer)) {
    throw handleError('.memory is not shared (made without shared: true); only a shared memory can be seen by other threads');
  }
  if (buffer.byteLength < LAYOUT_BYTES) {
    throw handleError(`.memory is ${buffer.byteLength} bytes, smaller than the ${LAYOUT_BYTES}-byte layout`);
  }
  const header = new Uint32Array(buffer, 0, 2);
  const magic = Atomics.load(header, HDR_MAGIC >> 2);
  if (magic === 0) {
    throw handleError('.memory is blank: it has no migration-stats header, so it was not made by MigrationStats.create()');
  }
  if (magic !== MAGIC) {
    throw handleError(
      `.memory holds something else: its first word is 0x${magic.toString(16)}, not the migration-stats magic 0x${MAGIC.toString(16)}`,
    );
  }
  const version = Atomics.load(header, HDR_VERSION >> 2);
  if (version !== LAYOUT_VERSION) {
    throw handleError(`.memory has layout version ${version}; this version of migration-stats reads layout version ${LAYOUT_VERSION}`);
  }
  return memory as WebAssembly.Memory;
}

async function makeCore(where: string, backend: BackendName, module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<Core> {
  if (backend === 'js') return new JsCore(memory.buffer);
  try {
    return await instantiateCore(module, memory);
  } catch (error) {
    if (error instanceof WebAssembly.LinkError) {
      throw handleError(`.memory does not fit the Wasm core (${error.message})`);
    }
    // WebKit's CSP lets the module compile and refuses the instance.
    throw explainCompileError(error, where);
  }
}

/**
 * QEMU's migration statistics: the 15 counters of `MigrationAtomicStats` and the rate limiter of
 * `migration-stats.h`, in shared memory. Make one with {@link MigrationStats.create}, pass
 * {@link MigrationStats.handle} to other threads, and {@link MigrationStats.attach} there.
 *
 * @example
 * const stats = await MigrationStats.create();
 * stats.zeroPages.add(1);
 * stats.zeroPages.get(); //=> 1n
 * worker.postMessage(stats.handle);
 */
export class MigrationStats {
  readonly #handle: MigrationStatsHandle;
  /** The backend this instance runs on. */
  readonly backend: BackendName;
  /** The 15 counters in QEMU's struct order. */
  readonly counters: readonly Stat64[];

  /** `dirty_bytes_last_sync`: dirty bytes found by the last bitmap sync (gauge, bytes). */
  readonly dirtyBytesLastSync: Stat64;
  /** `dirty_pages_rate`: pages dirtied per second (gauge, pages/s). */
  readonly dirtyPagesRate: Stat64;
  /** `dirty_sync_count`: dirty-bitmap syncs done (syncs). */
  readonly dirtySyncCount: Stat64;
  /** `dirty_sync_missed_zero_copy`: syncs whose zero-copy flush fell back to copying (syncs). */
  readonly dirtySyncMissedZeroCopy: Stat64;
  /** `downtime_bytes`: RAM bytes sent while the guest was stopped (bytes). */
  readonly downtimeBytes: Stat64;
  /** `multifd_bytes`: bytes sent on multifd channels (bytes). */
  readonly multifdBytes: Stat64;
  /** `normal_pages`: pages sent that were not all zeros (pages). */
  readonly normalPages: Stat64;
  /** `postcopy_bytes`: RAM bytes sent during postcopy (bytes). */
  readonly postcopyBytes: Stat64;
  /** `postcopy_requests`: page requests from the destination (requests). */
  readonly postcopyRequests: Stat64;
  /** `precopy_bytes`: RAM bytes sent while the guest ran (bytes). */
  readonly precopyBytes: Stat64;
  /** `qemu_file_transferred`: bytes flushed on the main migration stream (bytes). */
  readonly qemuFileTransferred: Stat64;
  /** `rate_limit_start`: transferred bytes when the current window began (gauge, bytes). */
  readonly rateLimitStart: Stat64;
  /** `rate_limit_max`: byte budget of one window, 0 = unlimited (gauge, bytes). */
  readonly rateLimitMax: Stat64;
  /** `rdma_bytes`: bytes written over RDMA (bytes). */
  readonly rdmaBytes: Stat64;
  /** `zero_pages`: all-zero pages, reported as `duplicate` (pages). */
  readonly zeroPages: Stat64;

  /** @internal */
  readonly core: Core;

  private constructor(core: Core, handle: MigrationStatsHandle, claimLane: boolean) {
    this.core = core;
    this.#handle = handle;
    Object.defineProperty(this, BRAND, { value: LAYOUT_VERSION });
    this.backend = core.backend;
    const lane = claimLane ? core.claimLane() : -1;
    const counters = COUNTERS.map((info) => new Stat64(core, info, lane));
    this.counters = Object.freeze(counters);
    this.dirtyBytesLastSync = counters[0]!;
    this.dirtyPagesRate = counters[1]!;
    this.dirtySyncCount = counters[2]!;
    this.dirtySyncMissedZeroCopy = counters[3]!;
    this.downtimeBytes = counters[4]!;
    this.multifdBytes = counters[5]!;
    this.normalPages = counters[6]!;
    this.postcopyBytes = counters[7]!;
    this.postcopyRequests = counters[8]!;
    this.precopyBytes = counters[9]!;
    this.qemuFileTransferred = counters[10]!;
    this.rateLimitStart = counters[11]!;
    this.rateLimitMax = counters[12]!;
    this.rdmaBytes = counters[13]!;
    this.zeroPages = counters[14]!;
  }

  /**
   * Whether `value` is a `MigrationStats`, from this copy of the library or from another copy of the
   * same layout version (a bundle), where `instanceof` would say no.
   * @example MigrationStats.isMigrationStats(await MigrationStats.create()) //=> true
   */
  static isMigrationStats(value: unknown): value is MigrationStats {
    return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === LAYOUT_VERSION;
  }

  /**
   * Whether this thread can send shared memory to another one, i.e. whether {@link MigrationStats.handle}
   * is available. Always `true` in Node, Bun and Deno; in a browser, `true` only on a cross-origin
   * isolated page (served with `Cross-Origin-Opener-Policy: same-origin` and
   * `Cross-Origin-Embedder-Policy: require-corp`) and in its workers, and only in an engine that has
   * `SharedArrayBuffer` there (WebKitGTK 2.50 isolates the page but has none). Single-thread use
   * works either way.
   * @returns `true` exactly where the `SharedArrayBuffer` global exists: browsers hide it where they
   *   refuse `postMessage` of shared memory, and an engine without it refuses that too
   * @example
   * if (!MigrationStats.canShareMemory()) showWarning('counting on the page only');
   */
  static canShareMemory(): boolean {
    // Browsers hide the SharedArrayBuffer global exactly where they refuse to post one (a page that
    // is not cross-origin isolated), and expose it where they allow it without isolation (an
    // enterprise policy). An engine with SharedArrayBuffer turned off lacks it even on an isolated
    // page, and refuses the post there too: `crossOriginIsolated` alone says nothing.
    return typeof SharedArrayBuffer === 'function';
  }

  /**
   * Pass this to other threads (`postMessage`) and to {@link MigrationStats.attach}.
   * @throws Error where {@link MigrationStats.canShareMemory} is `false` (where `postMessage` would
   *   throw a bare `DataCloneError`): on a page that is not cross-origin isolated, one naming the two
   *   response headers to send; on an isolated page of an engine without `SharedArrayBuffer`, one
   *   saying that this engine cannot share memory with workers, and why
   */
  get handle(): MigrationStatsHandle {
    if (!MigrationStats.canShareMemory()) throw cannotShareError();
    return this.#handle;
  }

  /**
   * Makes a new set of counters, all zero, in a new shared memory.
   * @param options - `backend`: `'wasm'` (default) or `'js'`; `lane`: claim a lane (default true)
   * @returns the stats of this thread; share them with `stats.handle`
   * @throws TypeError for unknown options
   * @throws Error saying to allow `'wasm-unsafe-eval'` when the page's Content-Security-Policy
   *   forbids compiling WebAssembly (or, in WebKit, instantiating it)
   */
  static async create(options?: MigrationStatsOptions): Promise<MigrationStats> {
    const { backend, lane } = readOptions('MigrationStats.create', options);
    const memory = new WebAssembly.Memory({ initial: MEMORY_PAGES, maximum: MEMORY_PAGES, shared: true });
    let module: WebAssembly.Module;
    try {
      // Chromium and Firefox reject the compile under such a CSP (caught here also if thrown at once);
      // WebKit refuses the instance instead (makeCore).
      module = await compileCore();
    } catch (error) {
      throw explainCompileError(error, 'MigrationStats.create');
    }
    const core = await makeCore('MigrationStats.create', backend, module, memory);
    core.initHeader();
    const handle: MigrationStatsHandle = Object.freeze({
      kind: 'migration-stats',
      layoutVersion: LAYOUT_VERSION,
      memory,
      module,
    });
    return new MigrationStats(core, handle, lane);
  }

  /**
   * Sees the counters of a handle made by {@link MigrationStats.create}, in this or another
   * thread. Changes nothing in the memory except claiming a lane.
   * @param handle - `stats.handle`, as received from `postMessage` or `structuredClone`
   * @param options - `backend`: `'wasm'` (default) or `'js'`; `lane`: claim a lane (default true)
   * @throws TypeError saying what is wrong when `handle` is not a live handle of this library
   * @throws Error saying to allow `'wasm-unsafe-eval'` when this thread's Content-Security-Policy
   *   forbids instantiating WebAssembly (the `'wasm'` backend)
   */
  static async attach(handle: MigrationStatsHandle, options?: MigrationStatsOptions): Promise<MigrationStats> {
    const { backend, lane } = readOptions('MigrationStats.attach', options);
    if (handle === null || typeof handle !== 'object') {
      throw handleError(` must be the object from stats.handle ({ memory, module, … }); received ${describe(handle)}`);
    }
    const fields = readHandle(handle);
    const memory = checkMemory(fields.memory);
    const module = checkModule(fields.module);
    const core = await makeCore('MigrationStats.attach', backend, module, memory);
    const own: MigrationStatsHandle = Object.freeze({ kind: 'migration-stats', layoutVersion: LAYOUT_VERSION, memory, module });
    return new MigrationStats(core, own, lane);
  }

  /**
   * `migration_rate_set()`: sets the bandwidth limit. Stores `floor(bytesPerSecond / 10)` as the
   * budget of one {@link BUFFER_DELAY} window; 0 to 9 store 0, which means unlimited. It does not
   * start a new window.
   * @param bytesPerSecond - a bigint in [0, 2^64 − 1] or a non-negative safe-integer number
   * @throws TypeError or RangeError for anything else; the limit is then unchanged
   */
  migrationRateSet(bytesPerSecond: bigint | number): void {
    this.core.rateSet(toU64('migrationRateSet', 'bytesPerSecond', bytesPerSecond));
  }

  /**
   * `migration_rate_get()`: the budget of one window in bytes (not the per-second figure).
   * @example stats.migrationRateSet(1073741824); stats.migrationRateGet() //=> 107374182n
   */
  migrationRateGet(): bigint {
    return this.core.rateGet();
  }

  /** `migration_rate_reset()`: starts a new window at the current {@link migrationTransferredBytes}. */
  migrationRateReset(): void {
    this.core.rateReset();
  }

  /** `migration_transferred_bytes()`: `qemuFileTransferred + multifdBytes + rdmaBytes`, mod 2^64. */
  migrationTransferredBytes(): bigint {
    return this.core.transferredBytes();
  }

  /**
   * `migration_rate_exceeded()`: whether the current window's budget is spent.
   * @param fileError - the stream's error, as QEMU passes it: `undefined`, `0`, `0n`, `null` or
   *   `false` mean none; anything else (QEMU passes a negative errno) means the stream failed, and the
   *   answer is then `true` even with no limit set
   * @returns `true` when the stream failed, else `false` when the limit is disabled, else whether
   *   the bytes transferred since the window began are strictly more than its budget
   */
  migrationRateExceeded(fileError?: unknown): boolean {
    if (fileError !== undefined && fileError !== 0 && fileError !== 0n && fileError !== null && fileError !== false) return true;
    return this.core.rateExceeded();
  }

  /**
   * Adds one multifd packet's figures in a single call: `normalPages`, `zeroPages` and
   * `multifdBytes`, into this thread's lane. Each add is atomic; the three are not one snapshot.
   * @param normalPages - pages of the packet that were not all zeros
   * @param zeroPages - all-zero pages of the packet
   * @param bytes - bytes the packet took on the wire
   * @throws TypeError or RangeError unless each is a non-negative safe-integer number; then nothing
   *   is added
   */
  addMultifdPacket(normalPages: number, zeroPages: number, bytes: number): void {
    if (isSafeCount(normalPages) && isSafeCount(zeroPages) && isSafeCount(bytes)) {
      this.core.addPacket(normalPages, zeroPages, bytes);
      return;
    }
    throw packetArgumentError(normalPages, zeroPages, bytes);
  }

  /**
   * Zeroes all 15 counters, as QEMU's `migrate_init` does when a new migration starts. Call it
   * before writers start: an add racing with it counts either before it (lost) or after it (kept).
   */
  reset(): void {
    for (const counter of this.counters) counter.set(0n);
  }

  /** Reads every counter (one atomic read each; not one consistent snapshot, as in QEMU). */
  snapshot(): Record<CounterName, bigint> {
    const out = {} as Record<CounterName, bigint>;
    for (const counter of this.counters) out[counter.name] = counter.get();
    return out;
  }

  /** This instance's lane (0–63), or −1 when its adds go to the shared base slots. */
  get lane(): number {
    return this.core.currentLane();
  }

  /**
   * Gives this instance's lane back for another thread to claim. Its counts stay (they are part
   * of every counter's sum); later adds through this instance go to the shared base slots.
   */
  close(): void {
    if (this.core.releaseLane() >= 0) {
      for (const counter of this.counters) counter.useLane(-1);
    }
  }
}

/**
 * Checks the `stats` argument of the report and exporter functions.
 * @param where - the call, for the message
 * @throws TypeError naming the call and the value when `stats` is not a {@link MigrationStats}
 * @internal
 */
export function requireStats(where: string, stats: unknown): MigrationStats {
  if (MigrationStats.isMigrationStats(stats)) return stats;
  throw new TypeError(`${where}: stats must be a MigrationStats (from MigrationStats.create or attach); received ${describe(stats)}`);
}
