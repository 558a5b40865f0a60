/**
 * The destination's postcopy blocktime statistics as QEMU 10.1 keeps and reports them (`migration/postcopy-ram.c`: `PostcopyBlocktimeContext`, `fill_destination_postcopy_migration_info`).
 *
 * {@link definePostcopyStats} is the context's accumulators as a `defineStats` definition (so every
 * exporter takes them); {@link postcopyBlocktimeInfo} turns them into the six `query-migrate`
 * members with QEMU's arithmetic: u64 nanosecond totals, milliseconds cast to `uint32_t`, averages
 * by integer division, 0 where nothing was counted.
 * @packageDocumentation
 */
import { describe, entry, typeFault } from '../errors.js';
import { defineStats, type StatsDefinition } from '../define-stats.js';
import { requireAnyStats } from '../read/reader.js';

/** QEMU's `BLOCKTIME_LATENCY_BUCKET_N`: bucket k counts latencies in [2^k, 2^(k+1)) µs, the last one everything above. */
export const POSTCOPY_LATENCY_BUCKETS = 24;

/** Most vCPUs a postcopy definition takes (one vector element each; the simulator runs one worker per vCPU). */
export const MAX_POSTCOPY_VCPUS = 64;

/** QEMU's `SCALE_MS`: nanoseconds in a millisecond. */
const NS_PER_MS = 1_000_000n;

/** The namespace of the destination's postcopy statistics: `qemu_migration_postcopy_…` in Prometheus. */
export const POSTCOPY_NAMESPACE = 'qemu.migration.postcopy';

/** The schema {@link definePostcopyStats} makes, for `vcpus` vCPUs. */
function postcopySchema(vcpus: number) {
  return {
    blocktime: {
      kind: 'counter',
      unit: 'nanoseconds',
      help: 'Nanoseconds during which every vCPU was blocked on a remote page fault at once (QEMU total_blocktime).',
    },
    vcpuBlocktime: {
      kind: 'counter',
      unit: 'nanoseconds',
      help: 'Nanoseconds each vCPU was blocked on remote page faults (QEMU vcpu_blocktime_total).',
      length: vcpus,
      label: 'vcpu',
    },
    vcpuFaults: {
      kind: 'counter',
      unit: 'faults',
      help: 'Remote page faults of each vCPU (QEMU vcpu_faults_count).',
      length: vcpus,
      label: 'vcpu',
    },
    nonVcpuBlocktime: {
      kind: 'counter',
      unit: 'nanoseconds',
      help: 'Nanoseconds threads other than vCPUs waited on remote page faults (QEMU non_vcpu_blocktime_total).',
    },
    nonVcpuFaults: {
      kind: 'counter',
      unit: 'faults',
      help: 'Remote page faults of threads other than vCPUs (QEMU non_vcpu_faults).',
    },
    latency: {
      kind: 'histogram',
      unit: 'microseconds',
      help: 'Remote page fault latency in microseconds, log2 buckets (QEMU latency_buckets, postcopy-latency-dist).',
      buckets: POSTCOPY_LATENCY_BUCKETS,
    },
  } as const;
}

/** The definition {@link definePostcopyStats} returns. */
export type PostcopyStatsDefinition = StatsDefinition<ReturnType<typeof postcopySchema>, { namespace: typeof POSTCOPY_NAMESPACE }>;

/**
 * The destination's postcopy blocktime context (QEMU's `PostcopyBlocktimeContext`) as stats of its
 * own, in namespace `qemu.migration.postcopy`: `blocktime` (overlapped: when all vCPUs were blocked),
 * `vcpuBlocktime` and `vcpuFaults` (one element per vCPU, label `vcpu`), `nonVcpuBlocktime`,
 * `nonVcpuFaults` (counters, times in ns) and `latency` (a 24-bucket histogram of µs).
 * @param vcpus - the number of vCPUs (QEMU's `smp.cpus`), 1 to 64
 * @returns the definition; `create()` makes the stats, `attach(handle)` joins them in another thread
 * @throws TypeError or RangeError when `vcpus` is not a whole number from 1 to 64
 * @example
 * const stats = await definePostcopyStats(2).create();
 * stats.vcpuFaults.at(1).add(1);
 * stats.latency.record(300); // µs: bucket 8, [256, 512)
 */
export function definePostcopyStats(vcpus: number): PostcopyStatsDefinition {
  if (typeof vcpus !== 'number' || !Number.isInteger(vcpus) || vcpus < 1 || vcpus > MAX_POSTCOPY_VCPUS) {
    const head = `definePostcopyStats: vcpus must be a whole number from 1 to ${MAX_POSTCOPY_VCPUS}; received ${describe(vcpus)}`;
    throw typeof vcpus === 'number' ? new RangeError(head) : new TypeError(head);
  }
  return defineStats(postcopySchema(vcpus), { namespace: POSTCOPY_NAMESPACE });
}

/** The six members of `query-migrate` that QEMU 10.1's destination fills from its blocktime context. */
export interface PostcopyBlocktimeInfo {
  /** Overlapped blocktime in ms (`uint32`: the ns total ÷ 10^6, truncated, cast to 32 bits). */
  'postcopy-blocktime': bigint;
  /** Each vCPU's blocktime in ms (`uint32` each). */
  'postcopy-vcpu-blocktime': bigint[];
  /** Average latency of every remote fault, vCPU or not, in ns (0 without faults). */
  'postcopy-latency': bigint;
  /** The 24 buckets of the latency distribution (µs, log2). */
  'postcopy-latency-dist': bigint[];
  /** Each vCPU's average latency in ns (0 for a vCPU without faults). */
  'postcopy-vcpu-latency': bigint[];
  /** Average latency of faults of threads other than vCPUs, in ns (0 without any). */
  'postcopy-non-vcpu-latency': bigint;
}

const WHERE = 'postcopyBlocktimeInfo';

/** The reader of one metric of postcopy stats, checked against the definition's shape. */
function metricOf(path: string, reader: ReturnType<typeof requireAnyStats>, name: string, shape: 'value' | 'vector' | 'histogram') {
  const found = reader.metrics.find((m) => m.spec.name === name);
  const kindOk = found !== undefined && (shape === 'histogram' ? found.spec.kind === 'histogram' : found.spec.kind === 'counter');
  const shapeOk = found !== undefined && found.shape === shape && (shape !== 'histogram' || (found.spec.buckets === POSTCOPY_LATENCY_BUCKETS && found.spec.subBits === 0 && found.spec.scale === undefined));
  if (!kindOk || !shapeOk) {
    throw typeFault(
      `${path} must be postcopy stats (from definePostcopyStats(vcpus).create or attach): its ${name} is ${found === undefined ? 'missing' : `a ${found.spec.kind} of another shape`}`,
    );
  }
  return found;
}

/**
 * The postcopy members of `query-migrate`, computed from the destination's stats as QEMU 10.1's
 * `fill_destination_postcopy_migration_info()` computes them: blocktimes ÷ 10^6 truncated to ms
 * and cast to `uint32_t`; `postcopy-vcpu-latency[i]` = `vcpuBlocktime[i] / vcpuFaults[i]` (0 when
 * 0 faults); `postcopy-latency` = (every vCPU's blocktime + `nonVcpuBlocktime`) / (every vCPU's
 * faults + `nonVcpuFaults`), in u64 arithmetic (sums wrap at 2^64, as in C); the 24 buckets as they are.
 * @param stats - stats of a {@link definePostcopyStats} definition (each metric read once)
 * @returns the six members, integers as bigint
 * @throws TypeError when `stats` is not a stats object, or not of a postcopy definition
 * @example
 * // vCPU 0: 2 faults, 3 ms blocked; vCPU 1: none; 1 ms of it overlapped
 * postcopyBlocktimeInfo(stats)['postcopy-vcpu-latency'] //=> [1500000n, 0n]
 */
export function postcopyBlocktimeInfo(stats: unknown): PostcopyBlocktimeInfo {
  return entry(WHERE, () => readPostcopyInfo('stats', stats));
}

/**
 * {@link postcopyBlocktimeInfo} for a call that takes the stats as `path` (`context.postcopyBlocktime`);
 * its errors are named by the public call (see `fault`).
 * @internal
 */
export function readPostcopyInfo(path: string, stats: unknown): PostcopyBlocktimeInfo {
  let reader: ReturnType<typeof requireAnyStats>;
  try {
    reader = requireAnyStats(stats);
  } catch (error) {
    throw error instanceof TypeError ? typeFault(error.message.replace(/^stats /, `${path} `)) : error;
  }
  const read = (name: string, shape: 'value' | 'vector' | 'histogram'): unknown => metricOf(path, reader, name, shape).read();
  const total = read('blocktime', 'value') as bigint;
  const vcpuBlocktime = read('vcpuBlocktime', 'vector') as readonly bigint[];
  const vcpuFaults = read('vcpuFaults', 'vector') as readonly bigint[];
  const nonVcpuBlocktime = read('nonVcpuBlocktime', 'value') as bigint;
  const nonVcpuFaults = read('nonVcpuFaults', 'value') as bigint;
  const { buckets } = read('latency', 'histogram') as { buckets: readonly bigint[] };
  if (vcpuBlocktime.length !== vcpuFaults.length) {
    throw typeFault(`${path} must be postcopy stats: its vcpuBlocktime has ${vcpuBlocktime.length} elements and vcpuFaults ${vcpuFaults.length}`);
  }
  const u64 = (value: bigint): bigint => BigInt.asUintN(64, value);
  const ms32 = (ns: bigint): bigint => BigInt.asUintN(32, ns / NS_PER_MS);
  let latencyTotal = 0n;
  let faults = 0n;
  const vcpuLatency = vcpuBlocktime.map((blocked, i) => {
    const count = vcpuFaults[i]!;
    latencyTotal = u64(latencyTotal + blocked);
    faults = u64(faults + count);
    return count === 0n ? 0n : blocked / count;
  });
  latencyTotal = u64(latencyTotal + nonVcpuBlocktime);
  faults = u64(faults + nonVcpuFaults);
  return {
    'postcopy-blocktime': ms32(total),
    'postcopy-vcpu-blocktime': vcpuBlocktime.map(ms32),
    'postcopy-latency': faults === 0n ? 0n : latencyTotal / faults,
    'postcopy-latency-dist': [...buckets],
    'postcopy-vcpu-latency': vcpuLatency,
    'postcopy-non-vcpu-latency': nonVcpuFaults === 0n ? 0n : nonVcpuBlocktime / nonVcpuFaults,
  };
}

/**
 * QEMU 10.1's `format_time_str()` (`migration/migration-hmp-cmds.c`): microseconds in the largest
 * of `us`, `ms`, `sec` that leaves at least 1, dividing by 1000 with truncation (`1024` → `1 ms`,
 * `2^25` → `33 sec`).
 * @param us - microseconds, a non-negative bigint
 */
export function formatTimeUs(us: bigint): string {
  const units = ['us', 'ms', 'sec'] as const;
  let index = 0;
  while (us >= 1000n && index + 1 < units.length) {
    us /= 1000n;
    index++;
  }
  return `${us} ${units[index]}`;
}
