import { describe, expect, it } from 'vitest';
import { infoMigrate, MigrationStats, queryMigrate, sizeToStr, type MigrationInfo } from '../dist/index.js';
import { reference } from './c-reference.js';

describe('sizeToStr', () => {
  it("prints sizes as QEMU's size_to_str does", () => {
    expect(sizeToStr(1016)).toBe('0.992 KiB');
    expect(sizeToStr(1024)).toBe('1 KiB');
    expect(sizeToStr(1023999)).toBe('1e+03 KiB');
    expect(sizeToStr(2n ** 64n - 1n)).toBe('16 EiB');
  });

  it('prints bytes below 1000 in B and switches prefix at 1000 of the unit', () => {
    expect(sizeToStr(0)).toBe('0 B');
    expect(sizeToStr(999)).toBe('999 B');
    expect(sizeToStr(1000)).toBe('0.977 KiB');
    expect(sizeToStr(4096)).toBe('4 KiB');
    expect(sizeToStr(4_315_938_816)).toBe('4.02 GiB');
  });

  it(`agrees with the C rule on ${reference.sizeToStr.length} sizes`, () => {
    const wrong = reference.sizeToStr.filter((c) => sizeToStr(BigInt(c.bytes)) !== c.text);
    expect(wrong).toEqual([]);
  });

  it('rejects what is not an unsigned 64-bit integer', () => {
    expect(() => sizeToStr(-1)).toThrow(/sizeToStr: bytes must be .*received -1, which is negative/);
    expect(() => sizeToStr(2n ** 64n)).toThrow(RangeError);
    expect(() => sizeToStr('1' as never)).toThrow(TypeError);
  });
});

describe('infoMigrate', () => {
  const ram = {
    transferred: 1_518_500_000n,
    remaining: 2_641_000_000n,
    total: 4_315_938_816n,
    duplicate: 41_195n,
    normal: 367_713n,
    'normal-bytes': 367_713n * 4096n,
    'dirty-pages-rate': 4n,
    mbps: 1342.8251,
    'dirty-sync-count': 2n,
    'postcopy-requests': 57_503n,
    'page-size': 4096n,
    'multifd-bytes': 0n,
    'pages-per-second': 40_900n,
    'precopy-bytes': 15_938_355n,
    'downtime-bytes': 0n,
    'postcopy-bytes': 1_492_501_000n,
    'dirty-sync-missed-zero-copy': 0n,
  };

  it("prints QEMU 10.1's layout for a postcopy migration", () => {
    const info: MigrationInfo = { status: 'postcopy-active', ram, 'total-time': 47_317n, downtime: 8n, 'setup-time': 5n };
    expect(infoMigrate(info)).toBe(
      [
        'Status: \t\tpostcopy-active',
        'Time (ms): \t\ttotal=47317, setup=5, down=8',
        'RAM info:',
        '  Throughput (Mbps): \t1342.83',
        '  Sizes: \t\tpagesize=4 KiB, total=4.02 GiB',
        '  Transfers: \t\ttransferred=1.41 GiB, remain=2.46 GiB',
        '    Channels: \t\tprecopy=15.2 MiB, multifd=0 B, postcopy=1.39 GiB',
        '    Page Types: \tnormal=367713, zero=41195',
        '  Page Rates (pps): \ttransfer=40900, dirty=4',
        '  Others: \t\tdirty_syncs=2, postcopy_req=57503',
        '',
      ].join('\n'),
    );
  });

  it('adds the optional parts only when QEMU prints them', () => {
    const quiet = { ...ram, 'dirty-pages-rate': 0n, 'postcopy-requests': 0n };
    const loud = { ...ram, 'downtime-bytes': 4096n, 'dirty-sync-missed-zero-copy': 2n };
    const running: MigrationInfo = { status: 'active', ram: quiet, 'total-time': 900n, 'expected-downtime': 300n, 'setup-time': 5n };
    const text = infoMigrate(running);
    expect(text).toContain('Time (ms): \t\ttotal=900, setup=5, exp_down=300\n');
    expect(text).toContain('  Page Rates (pps): \ttransfer=40900\n');
    expect(text).toContain('  Others: \t\tdirty_syncs=2\n');
    expect(infoMigrate({ ...running, ram: loud })).toContain('  Others: \t\tdirty_syncs=2, postcopy_req=57503, downtime_bytes=4096, zerocopy_fallbacks=2\n');
  });

  it('prints the status alone in setup, with the error when failed, and nothing before any migration', async () => {
    const stats = await MigrationStats.create();
    expect(infoMigrate(queryMigrate(stats, { status: 'setup' }))).toBe('Status: \t\tsetup\n');
    expect(infoMigrate(queryMigrate(stats, { status: 'failed', errorDesc: 'Connection reset' }))).toBe('Status: \t\tfailed (Connection reset)\n');
    expect(infoMigrate(queryMigrate(stats, { status: 'cancelled', errorDesc: 'x' }))).toBe('Status: \t\tcancelled\n');
    expect(infoMigrate(queryMigrate(stats, { status: 'none' }))).toBe('');
  });

  it("ends lines in \\r\\n when asked, as human-monitor-command returns QEMU's text over QMP", () => {
    const info: MigrationInfo = { status: 'failed', 'error-desc': 'boom' };
    expect(infoMigrate(info, { lineEnd: '\r\n' })).toBe('Status: \t\tfailed (boom)\r\n');
    const all = infoMigrate(info, { all: true, lineEnd: '\r\n' });
    expect(all.split('\r\n').join('\n')).toBe(infoMigrate(info, { all: true }));
    expect(all).not.toMatch(/[^\r]\n/);
    expect(() => infoMigrate(info, { lineEnd: '\r' as never })).toThrow(new TypeError("infoMigrate: options.lineEnd must be '\\n' or '\\r\\n'; received \"\\r\""));
  });

  it('leaves out the time line while the total time is 0', () => {
    expect(infoMigrate({ status: 'active', ram, 'total-time': 0n, 'setup-time': 0n })).toMatch(/^Status: \t\tactive\nRAM info:\n/);
  });

  it('prints int members holding 2^63 or more as the unsigned values they are', () => {
    const text = infoMigrate({ status: 'active', ram: { ...ram, total: 2n ** 64n - 1n, normal: 2n ** 63n }, 'total-time': 1n });
    expect(text).toContain('total=16 EiB');
    expect(text).toContain('normal=9223372036854775808,');
  });

  it('prints a completed migration read from the counters', async () => {
    const stats = await MigrationStats.create();
    stats.qemuFileTransferred.add(465_224);
    stats.zeroPages.add(32_849);
    stats.normalPages.add(49);
    stats.dirtySyncCount.add(3);
    const info = queryMigrate(stats, { status: 'completed', setupTimeMs: 3, totalTimeMs: 67, downtimeMs: 12, ramTotalBytes: 134_750_208, mbps: 58.153, pagesPerSecond: 0 });
    expect(infoMigrate(info)).toBe(
      'Status: \t\tcompleted\nTime (ms): \t\ttotal=67, setup=3, down=12\nRAM info:\n  Throughput (Mbps): \t58.15\n' +
        '  Sizes: \t\tpagesize=4 KiB, total=129 MiB\n  Transfers: \t\ttransferred=454 KiB, remain=0 B\n' +
        '    Channels: \t\tprecopy=0 B, multifd=0 B, postcopy=0 B\n    Page Types: \tnormal=49, zero=32849\n' +
        '  Page Rates (pps): \ttransfer=0\n  Others: \t\tdirty_syncs=3\n',
    );
  });

  it('rejects what is not an info object', () => {
    expect(() => infoMigrate(null as never)).toThrow(/infoMigrate: info must be the object from queryMigrate\(\); received null/);
  });

  it('names the member that is missing or not what queryMigrate returns, instead of failing inside', () => {
    const bad = (info: unknown) => () => infoMigrate(info as MigrationInfo);
    const { normal: _, ...withoutNormal } = ram;
    expect(bad({ status: 'active', ram: withoutNormal, 'total-time': 1n })).toThrow(
      new TypeError('infoMigrate: info.ram.normal must be a bigint from -2^63 to 2^64 − 1 (as queryMigrate returns it); received undefined'),
    );
    expect(bad({ status: 'active', 'total-time': 67 })).toThrow(
      new TypeError("infoMigrate: info['total-time'] must be a bigint from -2^63 to 2^64 − 1 (as queryMigrate returns it); received 67"),
    );
    expect(bad({ status: 'active', ram: { ...ram, 'page-size': 2n ** 64n } })).toThrow(RangeError);
    expect(bad({ status: 'active', ram: { ...ram, 'page-size': 2n ** 64n } })).toThrow(/info\.ram\['page-size'\] must be a bigint .*received 18446744073709551616n/);
    expect(bad({ ram: { ...ram, mbps: '58.15' } })).toThrow(new TypeError('infoMigrate: info.ram.mbps must be a number; received "58.15"'));
    expect(bad({ ram: [] })).toThrow(/infoMigrate: info\.ram must be the ram object of queryMigrate\(\); received an object \(Array\)/);
    expect(bad({ status: 'running' })).toThrow(new TypeError(`infoMigrate: info.status must be a migration status such as 'active'; received "running"`));
    expect(bad({ status: 'failed', 'error-desc': 5 })).toThrow(new TypeError("infoMigrate: info['error-desc'] must be a string; received 5"));
  });
});
