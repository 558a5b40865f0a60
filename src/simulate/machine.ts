/**
 * The simulated machine: the workers started at boot (the guest, the channels, the destination's
 * vCPUs), the guest RAM and the destination's, the dirty log and the migration bitmap, the shared
 * counters. core.ts adds the migration thread's means of sending, stages.ts its stages.
 * @packageDocumentation
 */
import { definePostcopyStats } from '../qemu/postcopy.js';
import { MigrationStats } from '../stats.js';
import { bump, createControl, createCounter, SLOT } from './control.js';
import { DirtyBitmap } from './dirty-bitmap.js';
import { LAST_WRITES } from './guest.js';
import type { SimulationSettings } from './settings.js';
import { createPostcopyShared, stopVcpus, type PostcopyShared } from './postcopy.js';
import type { ChannelInit, WorkerReply } from './protocol.js';
import type { DestinationStats } from './types.js';
import { PAGE_BYTES } from './wire.js';
import { Signals, SimWorker } from './workers.js';

/** Bytes of a WebAssembly memory page: the guest RAM's memory is a whole number of them. */
const WASM_PAGE_BYTES = 65536;

/** The counts of the postcopy stage, once switched. */
export interface PostcopyCounts {
  passesBeforeSwitch: number;
  missingPages: number;
  requestsTaken: number;
  requestedPagesSent: number;
  normal: number;
  zero: number;
}

/** The machine's parts, shared by every stage of its migration. */
export class Machine {
  readonly pages: number;
  readonly ram: WebAssembly.Memory;
  readonly destination: SharedArrayBuffer;
  /** The destination's received-pages bitmap (QEMU's `receivedmap`), set by the channels. */
  readonly received: Int32Array<SharedArrayBuffer>;
  readonly dirtyLog: Int32Array<SharedArrayBuffer>;
  /** Pages to send in the current pass: the migration bitmap, which counts the dirty pages. */
  readonly bitmap: DirtyBitmap;
  readonly control = createControl();
  readonly signals = new Signals();
  /** Every started worker, to stop them all. */
  readonly workers: SimWorker[] = [];
  guest!: SimWorker;
  /** Every booted channel worker; a migration uses the first `multifd-channels` (one without multifd). */
  booted: SimWorker[] = [];
  /** The channels of the migration under way. */
  channels: SimWorker[] = [];
  /** The destination's vCPUs (workers given their role at the postcopy switch). */
  vcpuWorkers: SimWorker[] = [];
  /** The guest's last writes: `[count, 64 pages]`. */
  readonly lastWrites = new Int32Array(new SharedArrayBuffer((1 + LAST_WRITES) * 4));
  postcopyShared: PostcopyShared | undefined;
  destinationStats: DestinationStats | undefined;
  postcopyCounts: PostcopyCounts | undefined;
  stats!: MigrationStats;
  guestRunning = false;
  pagesSent = 0;

  constructor(
    readonly settings: SimulationSettings,
    readonly workerUrl: URL,
  ) {
    this.pages = settings.ramBytes / PAGE_BYTES;
    const wasmPages = Math.ceil(settings.ramBytes / WASM_PAGE_BYTES);
    this.ram = new WebAssembly.Memory({ initial: wasmPages, maximum: wasmPages, shared: true });
    this.destination = new SharedArrayBuffer(settings.ramBytes);
    this.bitmap = new DirtyBitmap(this.pages);
    this.dirtyLog = new Int32Array(new SharedArrayBuffer(this.bitmap.words * 4));
    this.received = new Int32Array(new SharedArrayBuffer(this.bitmap.words * 4));
  }

  /** Counts the pages of the packets a channel reports sent. */
  readonly onReply = (_: SimWorker, reply: WorkerReply): void => {
    if (reply.type !== 'packets') return;
    this.pagesSent += reply.normalPages + reply.zeroPages;
    const counts = this.postcopyCounts;
    if (counts) {
      counts.normal += reply.normalPages;
      counts.zero += reply.zeroPages;
      counts.requestsTaken += reply.requestsTaken ?? 0;
      counts.requestedPagesSent += reply.requestedPagesSent ?? 0;
    }
  };

  /** Starts a worker, which helps fill the booting guest's RAM (boot.ts decides every page from the seed). */
  async spawn(name: string, fill?: Parameters<SimWorker['fill']>[0]): Promise<SimWorker> {
    const worker = await SimWorker.spawn(this.workerUrl, name, this.signals, this.onReply, this.workers);
    if (fill) await worker.fill(fill);
    return worker;
  }

  /** What starts a channel: the counters, both RAMs, the received-pages bitmap. */
  channelInit(): ChannelInit {
    const { settings } = this;
    return {
      role: 'channel',
      stats: this.stats.handle,
      backend: settings.backend,
      ram: this.ram,
      ramBytes: settings.ramBytes,
      destination: this.destination,
      received: this.received,
      control: this.control,
    };
  }

  /**
   * Boot, before any migration: the counters are made; the guest's and the channels' workers
   * start, fill the guest's RAM together, and the channels get ready to connect (counters
   * attached, zero scan compiled); then the guest runs. With `postcopy`, the vCPUs start too.
   */
  async boot(): Promise<void> {
    const { settings } = this;
    this.stats = await MigrationStats.create({ backend: settings.backend });
    const fill = { type: 'fill', ram: this.ram, ramBytes: settings.ramBytes, zeroShare: settings.zeroShare, seed: settings.seed, next: createCounter() } as const;
    const [guest, ...channels] = await Promise.all([
      this.spawn('guest', fill),
      ...Array.from({ length: settings.channels }, (_, i) => this.spawn(`channel ${i}`, fill)),
    ]);
    this.guest = guest!;
    this.booted = channels;
    await Promise.all(channels.map((channel) => channel.init(this.channelInit())));
    if (settings.postcopy) await this.bootVcpus();
    await this.guest.init({
      role: 'guest',
      ram: this.ram,
      ramBytes: settings.ramBytes,
      destination: this.destination,
      dirtyLog: this.dirtyLog,
      control: this.control,
      zeroShare: settings.zeroShare,
      dirtyPagesPerSecond: settings.dirtyBytesPerSecond / PAGE_BYTES,
      seed: settings.seed,
      lastWrites: this.lastWrites,
    });
    this.guestRunning = true;
  }

  /** Starts the destination's vCPU workers and its postcopy statistics, once. */
  async bootVcpus(): Promise<void> {
    if (this.postcopyShared) return;
    const { vcpus, backend } = this.settings;
    this.destinationStats = await definePostcopyStats(vcpus).create({ backend });
    this.postcopyShared = createPostcopyShared(this.pages, vcpus);
    this.vcpuWorkers = await Promise.all(Array.from({ length: vcpus }, (_, i) => this.spawn(`vcpu ${i}`)));
  }

  /** Starts channels beyond those booted, when `multifd-channels` asks for more. */
  async moreChannels(count: number): Promise<void> {
    while (this.booted.length < count) {
      const channel = await this.spawn(`channel ${this.booted.length}`);
      await channel.init(this.channelInit());
      this.booted.push(channel);
    }
  }

  /** Compares destination and source, split across the stopped guest's worker and the channels. */
  async verify(): Promise<number> {
    const workers = [this.guest, ...this.booted];
    const share = Math.ceil(this.pages / workers.length);
    const answers = await Promise.all(
      workers.map((worker, i) => {
        const firstPage = Math.min(i * share, this.pages);
        return worker.verify(firstPage, Math.min(share, this.pages - firstPage));
      }),
    );
    return answers.find((page) => page >= 0) ?? -1;
  }

  /** Stops every worker; the counters stay readable. */
  async shutDown(): Promise<void> {
    Atomics.store(this.control, SLOT.abort, 1);
    if (this.postcopyShared) stopVcpus(this.postcopyShared);
    bump(this.control, SLOT.windowEpoch);
    bump(this.control, SLOT.guestBell);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
