import { describe, expect, it } from 'vitest';
import {
  completedMbps,
  formatQmp,
  MIGRATION_STATUSES,
  MigrationStats,
  queryMigrate,
  type BackendName,
  type MigrationInfo,
  type QueryMigrateContext,
} from '../dist/index.js';
import { qdictOrder, tdbHash } from '../dist/qemu/qdict.js';

const U64_MAX = 2n ** 64n - 1n;

const RUNNING: QueryMigrateContext = {
  status: 'active',
  setupTimeMs: 12,
  totalTimeMs: 2400,
  expectedDowntimeMs: 300,
  ramTotalBytes: 4_315_938_816n,
  remainingBytes: 1_048_576,
  mbps: 1000,
  pagesPerSecond: 32_768.9,
};

describe('QEMU dictionary order', () => {
  it('hashes keys with tdb_hash into 512 buckets', () => {
    expect(tdbHash('status') % 512).toBe(202);
    expect(tdbHash('ram') % 512).toBe(430);
    expect(tdbHash('')).toBe(12345);
  });

  it('orders the members of a completed query-migrate as a real QEMU reply does', () => {
    // Member order of a reply captured from QEMU (iotest 183 output, before QEMU dropped "skipped").
    expect(qdictOrder(['status', 'ram', 'total-time', 'downtime', 'setup-time'])).toEqual(['status', 'setup-time', 'downtime', 'total-time', 'ram']);
    const ram = ['transferred', 'remaining', 'total', 'duplicate', 'skipped', 'normal', 'normal-bytes', 'dirty-pages-rate', 'mbps', 'dirty-sync-count', 'postcopy-requests', 'page-size', 'multifd-bytes', 'pages-per-second', 'precopy-bytes', 'downtime-bytes', 'postcopy-bytes'];
    expect(qdictOrder(ram)).toEqual([
      'total', 'postcopy-requests', 'dirty-sync-count', 'multifd-bytes', 'pages-per-second', 'downtime-bytes', 'page-size',
      'remaining', 'postcopy-bytes', 'mbps', 'transferred', 'precopy-bytes', 'duplicate', 'dirty-pages-rate', 'skipped',
      'normal-bytes', 'normal',
    ]);
  });

  it('prints keys that share a bucket newest first', () => {
    // Find two keys in one bucket: QEMU inserts at the head of the bucket's list.
    const byBucket = new Map<number, string>();
    let pair: [string, string] | undefined;
    for (let i = 0; pair === undefined; i++) {
      const key = `k${i}`;
      const bucket = tdbHash(key) % 512;
      const other = byBucket.get(bucket);
      if (other !== undefined) pair = [other, key];
      byBucket.set(bucket, key);
    }
    expect(qdictOrder(pair)).toEqual([pair[1], pair[0]]);
  });
});

describe.each<BackendName>(['wasm', 'js'])('queryMigrate (%s backend)', (backend) => {
  async function statsWithCounts(): Promise<MigrationStats> {
    const stats = await MigrationStats.create({ backend });
    stats.qemuFileTransferred.add(1000);
    stats.multifdBytes.add(20_000);
    stats.rdmaBytes.add(300);
    stats.zeroPages.add(41);
    stats.normalPages.add(5);
    stats.dirtyPagesRate.set(77);
    stats.dirtySyncCount.add(2);
    stats.dirtySyncMissedZeroCopy.add(1);
    stats.postcopyRequests.add(3);
    stats.precopyBytes.add(4);
    stats.downtimeBytes.add(6);
    stats.postcopyBytes.add(8);
    return stats;
  }

  it('returns {} before any migration and the status alone in setup, failed, cancelled, colo and wait-unplug', async () => {
    const stats = await statsWithCounts();
    expect(queryMigrate(stats, { status: 'none', errorDesc: 'ignored' })).toEqual({});
    for (const status of ['setup', 'failed', 'cancelled', 'colo', 'wait-unplug'] as const) {
      expect(queryMigrate(stats, { status })).toEqual({ status });
    }
    expect(queryMigrate(stats, { status: 'failed', errorDesc: 'Unable to write' })).toEqual({ status: 'failed', 'error-desc': 'Unable to write' });
  });

  it('fills the 17 ram members from the counters while a migration runs', async () => {
    const stats = await statsWithCounts();
    expect(queryMigrate(stats, RUNNING)).toEqual({
      status: 'active',
      ram: {
        transferred: 21_300n,
        remaining: 1_048_576n,
        total: 4_315_938_816n,
        duplicate: 41n,
        normal: 5n,
        'normal-bytes': 20_480n,
        'dirty-pages-rate': 77n,
        mbps: 1000,
        'dirty-sync-count': 2n,
        'postcopy-requests': 3n,
        'page-size': 4096n,
        'multifd-bytes': 20_000n,
        'pages-per-second': 32_768n,
        'precopy-bytes': 4n,
        'downtime-bytes': 6n,
        'postcopy-bytes': 8n,
        'dirty-sync-missed-zero-copy': 1n,
      },
      'total-time': 2400n,
      'expected-downtime': 300n,
      'setup-time': 12n,
    } satisfies MigrationInfo);
  });

  it('reports downtime instead of expected-downtime once completed or in postcopy, and zeroes remaining and dirty-pages-rate once completed', async () => {
    const stats = await statsWithCounts();
    const done = queryMigrate(stats, { ...RUNNING, status: 'completed', downtimeMs: 5, remainingBytes: undefined });
    expect(done.downtime).toBe(5n);
    expect(done['expected-downtime']).toBeUndefined();
    expect(done.ram?.remaining).toBe(0n);
    expect(done.ram?.['dirty-pages-rate']).toBe(0n);
    const postcopy = queryMigrate(stats, { ...RUNNING, status: 'postcopy-active', downtimeMs: 9 });
    expect(postcopy.downtime).toBe(9n);
    expect(postcopy.ram?.remaining).toBe(1_048_576n);
    expect(postcopy.ram?.['dirty-pages-rate']).toBe(77n);
    expect(queryMigrate(stats, { ...RUNNING, status: 'postcopy-recover-setup' }).downtime).toBe(0n);
  });

  it('defaults the page size to 4096 and the downtimes to 0, as QEMU starts them', async () => {
    const stats = await statsWithCounts();
    const { expectedDowntimeMs, ...rest } = RUNNING;
    expect(expectedDowntimeMs).toBe(300);
    const info = queryMigrate(stats, { ...rest, pageSize: 65536 });
    expect(info['expected-downtime']).toBe(0n);
    expect(info.ram?.['page-size']).toBe(65536n);
    expect(info.ram?.['normal-bytes']).toBe(5n * 65536n);
  });

  it('wraps normal-bytes modulo 2^64, as the C multiplication does', async () => {
    const stats = await MigrationStats.create({ backend });
    stats.normalPages.set(2n ** 62n + 1n);
    expect(queryMigrate(stats, RUNNING).ram?.['normal-bytes']).toBe(4096n);
  });

  it('keeps its list of statuses unchangeable, so no caller can widen what it accepts', async () => {
    expect(Object.isFrozen(MIGRATION_STATUSES)).toBe(true);
    expect(() => (MIGRATION_STATUSES as unknown as string[]).push('running')).toThrow(TypeError);
    const stats = await MigrationStats.create();
    expect(() => queryMigrate(stats, { status: 'running' as never })).toThrow(/context\.status must be one of/);
  });

  it('names the missing or wrong context member', async () => {
    const stats = await statsWithCounts();
    expect(() => queryMigrate(stats, { status: 'running' as never })).toThrow(/context.status must be one of 'none', 'setup', .*; received "running"/);
    expect(() => queryMigrate(stats, { status: 'active' })).toThrow(/context.setupTimeMs is required when the status is 'active'; received undefined/);
    expect(() => queryMigrate(stats, { ...RUNNING, mbps: undefined })).toThrow(/context.mbps is required/);
    expect(() => queryMigrate(stats, { ...RUNNING, mbps: NaN })).toThrow(/context.mbps must be a finite non-negative number .*received NaN/);
    expect(() => queryMigrate(stats, { ...RUNNING, pagesPerSecond: 2 ** 64 })).toThrow(/context.pagesPerSecond must be a finite number from 0 to below 2\^64/);
    expect(() => queryMigrate(stats, { ...RUNNING, totalTimeMs: 2n ** 63n })).toThrow(/context.totalTimeMs must fit QEMU's int64 milliseconds/);
    expect(() => queryMigrate(stats, { ...RUNNING, setupTimeMs: -1 })).toThrow(/context.setupTimeMs must be .*received -1/);
    expect(() => queryMigrate(stats, { ...RUNNING, pageSize: 0 })).toThrow(/context.pageSize must be at least 1 byte/);
    expect(() => queryMigrate(stats, { ...RUNNING, setupTimeMs: 11, totalTimeMs: 10 })).toThrow(
      /context.setupTimeMs must not exceed context.totalTimeMs \(set-up is part of the total\); received 11 and 10/,
    );
    expect(() => queryMigrate(stats, { ...RUNNING, errorDesc: 5 as never })).toThrow(/context.errorDesc must be a string/);
    expect(() => queryMigrate({} as MigrationStats, RUNNING)).toThrow(/stats must be a MigrationStats/);
  });

  it('checks every context member given, also those its status does not report', async () => {
    const stats = await statsWithCounts();
    const refused: [QueryMigrateContext, typeof TypeError | typeof RangeError, RegExp][] = [
      [{ status: 'setup', setupTimeMs: NaN }, RangeError, /^queryMigrate: context\.setupTimeMs must be .*received NaN/],
      [{ status: 'setup', ramTotalBytes: 1e21 }, RangeError, /^queryMigrate: context\.ramTotalBytes must be .*received 1e\+21/],
      [{ ...RUNNING, downtimeMs: -5 }, RangeError, /^queryMigrate: context\.downtimeMs must be .*received -5/],
      [{ ...RUNNING, status: 'completed', expectedDowntimeMs: -1 }, RangeError, /^queryMigrate: context\.expectedDowntimeMs must be .*received -1/],
      [{ ...RUNNING, status: 'completed', remainingBytes: 'lots' as never }, TypeError, /^queryMigrate: context\.remainingBytes must be .*received "lots"/],
      [{ status: 'none', mbps: 'fast' as never }, TypeError, /^queryMigrate: context\.mbps must be a finite non-negative number/],
      [{ status: 'failed', pagesPerSecond: -1 }, RangeError, /^queryMigrate: context\.pagesPerSecond must be/],
      [{ status: 'cancelled', pageSize: 0 }, RangeError, /^queryMigrate: context\.pageSize must be at least 1 byte/],
      [{ status: 'colo', setupTimeMs: 5, totalTimeMs: 4 }, RangeError, /^queryMigrate: context\.setupTimeMs must not exceed context\.totalTimeMs/],
      [{ status: 'wait-unplug', totalTimeMs: 2n ** 63n }, RangeError, /^queryMigrate: context\.totalTimeMs must fit QEMU's int64 milliseconds/],
    ];
    for (const [context, error, message] of refused) {
      expect(() => queryMigrate(stats, context), JSON.stringify(context, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))).toThrow(error);
      expect(() => queryMigrate(stats, context)).toThrow(message);
    }
    // Members given but not reported are still allowed when they are valid.
    expect(queryMigrate(stats, { ...RUNNING, status: 'setup', downtimeMs: 0 })).toEqual({ status: 'setup' });
  });

  it('takes the window’s expected downtime exactly even above 2^53', async () => {
    const stats = await statsWithCounts();
    const info = queryMigrate(stats, { ...RUNNING, expectedDowntimeMs: 9223372036854774784 });
    expect(info['expected-downtime']).toBe(9223372036854774784n);
  });
});

describe('formatQmp', () => {
  it('prints a completed migration as QEMU does, mbps 58.152999999999999 for 465224 bytes in 67 ms with 3 ms setup', async () => {
    const stats = await MigrationStats.create();
    stats.qemuFileTransferred.add(465_224);
    stats.precopyBytes.add(462_848);
    stats.zeroPages.add(32_849);
    stats.normalPages.add(49);
    stats.dirtySyncCount.add(3);
    const info = queryMigrate(stats, {
      status: 'completed',
      setupTimeMs: 3,
      totalTimeMs: 67,
      downtimeMs: 12,
      ramTotalBytes: 134_750_208,
      mbps: completedMbps(stats.migrationTransferredBytes(), 67, 3)!,
      pagesPerSecond: 0,
    });
    expect(formatQmp(info, { response: true })).toBe(
      '{"return": {"status": "completed", "setup-time": 3, "downtime": 12, "total-time": 67, "ram": {"total": 134750208, ' +
        '"postcopy-requests": 0, "dirty-sync-count": 3, "multifd-bytes": 0, "pages-per-second": 0, "downtime-bytes": 0, ' +
        '"page-size": 4096, "remaining": 0, "postcopy-bytes": 0, "mbps": 58.152999999999999, "transferred": 465224, ' +
        '"dirty-sync-missed-zero-copy": 0, "precopy-bytes": 462848, "duplicate": 32849, "dirty-pages-rate": 0, ' +
        '"normal-bytes": 200704, "normal": 49}}}',
    );
  });

  it('puts expected-downtime first while running', async () => {
    const stats = await MigrationStats.create();
    expect(formatQmp(queryMigrate(stats, RUNNING))).toMatch(/^\{"expected-downtime": 300, "status": "active", "setup-time": 12, "total-time": 2400, "ram": \{"total": 4315938816, /);
  });

  it('prints 2^53 + 1 and 2^64 − 1 exactly, and int members of 2^63 or more negative as QEMU does', () => {
    const ram = { transferred: 2n ** 53n + 1n, total: U64_MAX, 'multifd-bytes': U64_MAX, 'precopy-bytes': 2n ** 53n + 1n, remaining: 2n ** 63n };
    expect(formatQmp(ram, { type: 'MigrationStats' })).toBe(
      '{"total": -1, "multifd-bytes": 18446744073709551615, "remaining": -9223372036854775808, "transferred": 9007199254740993, "precopy-bytes": 9007199254740993}',
    );
    expect(formatQmp({ n: U64_MAX, m: -(2n ** 63n) }, { type: null })).toBe('{"n": 18446744073709551615, "m": -9223372036854775808}');
  });

  it('prints doubles as %.17g', () => {
    expect(formatQmp([58.153, 1000, 0.4, 1e-5, 1e21, -0, 7], { type: null })).toBe(
      '[58.152999999999999, 1000, 0.40000000000000002, 1.0000000000000001e-05, 1e+21, -0, 7]',
    );
    expect(formatQmp({ ram: { mbps: 1000 } })).toBe('{"ram": {"mbps": 1000}}');
  });

  it('escapes strings as QEMU does: control characters and everything beyond ASCII as \\uXXXX', () => {
    expect(formatQmp({ 'error-desc': 'a "b" \\ \n\t\r\b\f \u0001 \u007f é € 😀 \ud800' })).toBe(
      '{"error-desc": "a \\"b\\" \\\\ \\n\\t\\r\\b\\f \\u0001 \\u007F \\u00E9 \\u20AC \\uD83D\\uDE00 \\uFFFD"}',
    );
  });

  it('prints empty containers, booleans and null, and skips undefined members', () => {
    // Buckets: d 42, a 233, b 340, c 447.
    expect(formatQmp({})).toBe('{}');
    expect(formatQmp({ a: [], b: true, c: false, d: null, e: undefined }, { type: null })).toBe('{"d": null, "a": [], "b": true, "c": false}');
    expect(formatQmp({}, { response: true })).toBe('{"return": {}}');
  });

  it('inserts schema members in schema order whatever the object order, so collisions resolve as in QEMU', () => {
    const a = formatQmp({ 'setup-time': 1n, status: 'active', 'total-time': 2n });
    const b = formatQmp({ 'total-time': 2n, status: 'active', 'setup-time': 1n });
    expect(a).toBe(b);
  });

  it('rejects what QMP cannot carry, naming where it is', () => {
    expect(() => formatQmp({ ram: { mbps: 5n } } as never)).toThrow(/value.ram.mbps is a schema number and must be a JS number; received 5n/);
    expect(() => formatQmp({ ram: { total: 1.5 } } as never)).toThrow(/value.ram.total is a schema integer and must be a bigint or a safe-integer number; received 1.5/);
    expect(() => formatQmp({ ram: { 'multifd-bytes': -1n } } as never)).toThrow(/value.ram.multifd-bytes must be an integer from 0 to 2\^64 − 1 \(a schema uint64\); received -1n/);
    expect(() => formatQmp({ x: 2n ** 64n }, { type: null })).toThrow(RangeError);
    expect(() => formatQmp({ f: () => 1 } as never, { type: null })).toThrow(/value.f cannot be printed in QMP; received a function/);
    expect(() => formatQmp({ d: new Date(0) } as never, { type: null })).toThrow(/value.d must be a plain object/);
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    expect(() => formatQmp(loop as never, { type: null })).toThrow(/value.self refers back to itself/);
    expect(() => formatQmp({}, { type: 'Nope' as never })).toThrow(/options.type must be 'MigrationInfo', 'MigrationStats' or null; received "Nope"/);
  });

  it('takes options.type only as one of its strings or null, never coerced', () => {
    const refused: [unknown, string][] = [
      [['MigrationStats'], 'an object (Array)'],
      [new String('MigrationInfo'), 'an object (String)'],
      [Object.create(null), 'an object (Object)'],
      [{ toString: () => 'MigrationInfo' }, 'an object (Object)'],
      [Symbol('MigrationInfo'), 'Symbol(MigrationInfo)'],
      ['toString', '"toString"'],
      ['__proto__', '"__proto__"'],
    ];
    for (const [type, shown] of refused) {
      expect(() => formatQmp({}, { type: type as never })).toThrow(
        new TypeError(`formatQmp: options.type must be 'MigrationInfo', 'MigrationStats' or null; received ${shown}`),
      );
    }
  });

  it('prints values nested at any depth without running out of stack', () => {
    let array: unknown = [];
    let object: unknown = 1n;
    for (let i = 0; i < 100_000; i++) {
      array = [array];
      object = { a: object };
    }
    expect(formatQmp(array as never, { type: null })).toBe(`${'['.repeat(100_001)}${']'.repeat(100_001)}`);
    expect(formatQmp(object as never, { type: null })).toBe(`${'{"a": '.repeat(100_000)}1${'}'.repeat(100_000)}`);
    // A cycle deep inside is still found, and a value shared by two members is not a cycle.
    const shared = { x: 1n };
    expect(formatQmp({ a: shared, b: [shared] }, { type: null })).toBe('{"a": {"x": 1}, "b": [{"x": 1}]}');
    const loop: unknown[] = [];
    let deep: unknown = loop;
    for (let i = 0; i < 10_000; i++) deep = [deep];
    loop.push(deep);
    expect(() => formatQmp(loop as never, { type: null })).toThrow(/^formatQmp: value\[0\](\[0\]){10000} refers back to itself; QMP values are trees$/);
  });

  it('refuses a hole or an undefined item in an array instead of printing invalid JSON', () => {
    // eslint-disable-next-line no-sparse-arrays
    expect(() => formatQmp([1n, , 3n] as never, { type: null })).toThrow(new TypeError('formatQmp: value[1] cannot be printed in QMP; received undefined'));
    expect(() => formatQmp({ a: [undefined] } as never, { type: null })).toThrow(new TypeError('formatQmp: value.a[0] cannot be printed in QMP; received undefined'));
  });
});
