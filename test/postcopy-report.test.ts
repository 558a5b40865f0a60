// The destination's postcopy statistics: QEMU 10.1's arithmetic (fill_destination_postcopy_migration_info) and its QMP and HMP text, on worked examples.
import { describe, expect, it } from 'vitest';
import {
  definePostcopyStats,
  formatQmp,
  infoMigrate,
  MigrationStats,
  postcopyBlocktimeInfo,
  POSTCOPY_LATENCY_BUCKETS,
  queryMigrate,
  type MigrationInfo,
  type QueryMigrateContext,
} from '../dist/index.js';
import { BACKENDS } from './helpers.js';

const COMPLETED: QueryMigrateContext = {
  status: 'completed',
  setupTimeMs: 5,
  totalTimeMs: 900,
  downtimeMs: 8,
  ramTotalBytes: 16_777_216,
  mbps: 1000,
  pagesPerSecond: 0,
};

/**
 * A worked example of fill_destination_postcopy_migration_info() (migration/postcopy-ram.c, QEMU 10.1):
 * vCPU 0: 2 faults, 3,999,999 ns blocked; vCPU 1: 3 faults, 5,000,000 ns; non-vCPU: 1 fault, 1,000,000 ns;
 * 2,500,000 ns with both vCPUs blocked; faults of 1000, 1500, 3, 0, 2^24 and 2^30 µs.
 */
async function workedExample(backend: (typeof BACKENDS)[number]) {
  const stats = await definePostcopyStats(2).create({ backend });
  stats.vcpuBlocktime.at(0).add(3_999_999);
  stats.vcpuFaults.at(0).add(2);
  stats.vcpuBlocktime.at(1).add(5_000_000);
  stats.vcpuFaults.at(1).add(3);
  stats.nonVcpuBlocktime.add(1_000_000);
  stats.nonVcpuFaults.add(1);
  stats.blocktime.add(2_500_000);
  for (const us of [1000, 1500, 3, 0, 2 ** 24, 2 ** 30]) stats.latency.record(us);
  return stats;
}

/** The 24 buckets of that example: 0 µs in bucket 0, 3 in 1, 1000 and 1500 in 9 and 10, 2^24 and 2^30 in the last. */
const DIST = Array.from({ length: 24 }, (_, k) => (k === 0 || k === 1 || k === 9 || k === 10 ? 1n : k === 23 ? 2n : 0n));

describe.each(BACKENDS)('postcopy blocktime members (%s backend)', (backend) => {
  it('computes them as QEMU 10.1 does: ms truncated, averages by integer division, non-vCPU faults in the overall latency', async () => {
    const stats = await workedExample(backend);
    expect(postcopyBlocktimeInfo(stats)).toEqual({
      'postcopy-blocktime': 2n, // 2,500,000 ns / SCALE_MS
      'postcopy-vcpu-blocktime': [3n, 5n],
      'postcopy-latency': 1_666_666n, // (3,999,999 + 5,000,000 + 1,000,000) / (2 + 3 + 1)
      'postcopy-latency-dist': DIST,
      'postcopy-vcpu-latency': [1_999_999n, 1_666_666n],
      'postcopy-non-vcpu-latency': 1_000_000n,
    });
  });

  it('gives 0 for averages without faults, and casts blocktimes to uint32 as C does', async () => {
    const stats = await definePostcopyStats(3).create({ backend });
    stats.blocktime.add(2n ** 32n * 1_000_000n + 7_999_999n);
    stats.vcpuBlocktime.at(2).add(2n ** 32n * 1_000_000n + 1_000_000n);
    expect(postcopyBlocktimeInfo(stats)).toEqual({
      'postcopy-blocktime': 7n,
      'postcopy-vcpu-blocktime': [0n, 0n, 1n],
      'postcopy-latency': 0n,
      'postcopy-latency-dist': Array.from({ length: POSTCOPY_LATENCY_BUCKETS }, () => 0n),
      'postcopy-vcpu-latency': [0n, 0n, 0n],
      'postcopy-non-vcpu-latency': 0n,
    });
  });

  it('sums in u64 arithmetic: totals wrap at 2^64 as in C', async () => {
    const stats = await definePostcopyStats(2).create({ backend });
    stats.vcpuBlocktime.at(0).add(2n ** 64n - 2n);
    stats.vcpuFaults.at(0).add(1);
    stats.vcpuBlocktime.at(1).add(10);
    stats.vcpuFaults.at(1).add(1);
    // (2^64 − 2 + 10) mod 2^64 = 8, over 2 faults
    expect(postcopyBlocktimeInfo(stats)['postcopy-latency']).toBe(4n);
  });

  it('adds them to a completed query-migrate, in QEMU hash order with uint32 and uint64 lists', async () => {
    const stats = await MigrationStats.create({ backend });
    const info = queryMigrate(stats, { ...COMPLETED, postcopyBlocktime: await workedExample(backend) });
    expect(formatQmp(info)).toBe(
      '{"postcopy-blocktime": 2, "postcopy-non-vcpu-latency": 1000000, "postcopy-vcpu-latency": [1999999, 1666666], "status": "completed", ' +
        '"postcopy-latency-dist": [1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], "setup-time": 5, "downtime": 8, ' +
        '"total-time": 900, "postcopy-latency": 1666666, "postcopy-vcpu-blocktime": [3, 5], "ram": {"total": 16777216, "postcopy-requests": 0, ' +
        '"dirty-sync-count": 0, "multifd-bytes": 0, "pages-per-second": 0, "downtime-bytes": 0, "page-size": 4096, "remaining": 0, ' +
        '"postcopy-bytes": 0, "mbps": 1000, "transferred": 0, "dirty-sync-missed-zero-copy": 0, "precopy-bytes": 0, "duplicate": 0, ' +
        '"dirty-pages-rate": 0, "normal-bytes": 0, "normal": 0}}',
    );
  });

  it('leaves them out of a reply that is not completed, but checks them', async () => {
    const stats = await MigrationStats.create({ backend });
    const running = { ...COMPLETED, status: 'postcopy-active' as const, remainingBytes: 4096 };
    const info = queryMigrate(stats, { ...running, postcopyBlocktime: await workedExample(backend) });
    expect(Object.keys(info).filter((key) => key.startsWith('postcopy'))).toEqual([]);
    expect(() => queryMigrate(stats, { ...running, postcopyBlocktime: stats })).toThrow(
      'queryMigrate: context.postcopyBlocktime must be postcopy stats (from definePostcopyStats(vcpus).create or attach): its blocktime is missing',
    );
    expect(() => queryMigrate(stats, { ...running, postcopyBlocktime: { blocktime: 1n } })).toThrow(
      /^queryMigrate: context\.postcopyBlocktime must be a stats object .*received \{…\}|^queryMigrate: context\.postcopyBlocktime must be a stats object/,
    );
  });
});

describe('infoMigrate -a with postcopy members', () => {
  const bounds = [
    ['1 us', '2 us'], ['2 us', '4 us'], ['4 us', '8 us'], ['8 us', '16 us'], ['16 us', '32 us'], ['32 us', '64 us'],
    ['64 us', '128 us'], ['128 us', '256 us'], ['256 us', '512 us'], ['512 us', '1 ms'], ['1 ms', '2 ms'], ['2 ms', '4 ms'],
    ['4 ms', '8 ms'], ['8 ms', '16 ms'], ['16 ms', '32 ms'], ['32 ms', '65 ms'], ['65 ms', '131 ms'], ['131 ms', '262 ms'],
    ['262 ms', '524 ms'], ['524 ms', '1 sec'], ['1 sec', '2 sec'], ['2 sec', '4 sec'], ['4 sec', '8 sec'], ['8 sec', '16 sec'],
  ];

  it("prints migration_dump_blocktime()'s lines after the globals, every bucket with format_time_str() bounds", async () => {
    const stats = await MigrationStats.create();
    const info = queryMigrate(stats, { ...COMPLETED, postcopyBlocktime: await workedExample('wasm') });
    const text = infoMigrate(info, { all: true });
    const tail = text.slice(text.indexOf('Globals:'));
    expect(tail).toBe(
      [
        'Globals:',
        '  store-global-state: on',
        '  only-migratable: off',
        '  send-configuration: on',
        '  send-section-footer: on',
        '  send-switchover-start: on',
        '  clear-bitmap-shift: 18',
        'Postcopy Blocktime (ms): 2',
        'Postcopy vCPU Blocktime (ms):',
        ' [3, 5]',
        'Postcopy Latency (ns): 1666666',
        'Postcopy non-vCPU Latencies (ns): 1000000',
        'Postcopy vCPU Latencies (ns):',
        ' [1999999, 1666666]',
        'Postcopy Latency Distribution:',
        ...bounds.map(([from, to], k) => `  [ ${from!.padStart(8)} - ${to!.padStart(8)} ]: ${String(DIST[k]).padStart(10)}`),
        '',
      ].join('\n'),
    );
    // The exact width of three of them, spelled out.
    expect(tail).toContain('\n  [     1 us -     2 us ]:          1\n');
    expect(tail).toContain('\n  [   512 us -     1 ms ]:          1\n');
    expect(tail).toContain('\n  [    8 sec -   16 sec ]:          2\n');
    // Without -a, the text is what it was: no globals, no postcopy lines.
    expect(infoMigrate(info)).toBe(text.slice(0, text.indexOf('Globals:')));
  });

  it('prints per-vCPU lists ten to a line, and an empty list as []', () => {
    const twelve = Array.from({ length: 12 }, (_, i) => BigInt(i));
    const text = infoMigrate({ status: 'completed', 'postcopy-vcpu-blocktime': twelve, 'postcopy-vcpu-latency': [] } as MigrationInfo, { all: true });
    expect(text).toContain('Postcopy vCPU Blocktime (ms):\n [0, 1, 2, 3, 4, 5, 6, 7, 8, 9,\n  10, 11]\nPostcopy vCPU Latencies (ns):\n []\n');
    const ten = infoMigrate({ status: 'completed', 'postcopy-vcpu-blocktime': twelve.slice(0, 10) } as MigrationInfo, { all: true });
    expect(ten).toContain(' [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n');
  });

  it('refuses members of the wrong type or range, and a bad all, before printing anything', () => {
    expect(() => infoMigrate({ status: 'completed', 'postcopy-blocktime': 2n ** 32n } as MigrationInfo)).toThrow(
      "infoMigrate: info['postcopy-blocktime'] must be a bigint from 0 to 2^32 − 1 (as queryMigrate returns it); received 4294967296n",
    );
    expect(() => infoMigrate({ status: 'completed', 'postcopy-vcpu-latency': [1] } as unknown as MigrationInfo)).toThrow(TypeError);
    expect(() => infoMigrate({ status: 'completed', 'postcopy-latency-dist': 3n } as unknown as MigrationInfo)).toThrow(
      /infoMigrate: info\['postcopy-latency-dist'\] must be an array of at most 63 bigints/,
    );
    expect(() => infoMigrate({ status: 'completed' }, { all: 1 } as never)).toThrow('infoMigrate: options.all must be true or false; received 1');
    expect(() => infoMigrate({ status: 'completed' }, { every: true } as never)).toThrow(TypeError);
  });
});

describe('definePostcopyStats', () => {
  it('refuses a vCPU count that is not a whole number from 1 to 64', () => {
    expect(() => definePostcopyStats(0)).toThrow('definePostcopyStats: vcpus must be a whole number from 1 to 64; received 0');
    expect(() => definePostcopyStats(65)).toThrow(RangeError);
    expect(() => definePostcopyStats('2' as never)).toThrow(TypeError);
  });

  it('names its metrics for the exporters under qemu.migration.postcopy', () => {
    const { definition } = definePostcopyStats(2);
    expect(definition.namespace).toBe('qemu.migration.postcopy');
    expect(definition.metrics.map((m) => [m.name, m.kind, m.length, m.label, m.buckets])).toEqual([
      ['blocktime', 'counter', 0, '', 0],
      ['vcpuBlocktime', 'counter', 2, 'vcpu', 0],
      ['vcpuFaults', 'counter', 2, 'vcpu', 0],
      ['nonVcpuBlocktime', 'counter', 0, '', 0],
      ['nonVcpuFaults', 'counter', 0, '', 0],
      ['latency', 'histogram', 0, '', 24],
    ]);
  });
});
