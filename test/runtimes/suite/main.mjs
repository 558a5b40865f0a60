// The runtime suite: the same checks in every runtime (Node 20, 22, 24, 26, Bun, Deno), run by
// test/runtimes/run.mjs from a project of its own where the packed tarball is installed, so
// `migration-stats` here is the package as users get it. Where runtimes differ (worker API,
// navigator.locks, Wasm SIMD), FACTS says what each one does, and the tests check exactly that.
//
//   <runtime> main.mjs --runtime ID --version VERSION --app DIR [--only TEXT]
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import {
  completedMbps,
  formatQmp,
  infoMigrate,
  MigrationStats,
  MigrationWindow,
  prometheusText,
  createMetricsHandler,
  queryMigrate,
  SharedStats,
  sizeToStr,
} from 'migration-stats';
import { simulateMigration, zeroScanner } from 'migration-stats/simulate';
import { registerPromClient } from 'migration-stats/prom-client';
import { Registry } from 'prom-client';
import { exponentialTests } from './exponential.mjs';
import { run, test } from './harness.mjs';

const args = globalThis.Deno ? globalThis.Deno.args : process.argv.slice(2);
const arg = (name) => {
  const at = args.indexOf(name);
  if (at < 0 || args[at + 1] === undefined) throw new Error(`main.mjs needs ${name}`);
  return args[at + 1];
};
const RUNTIME = arg('--runtime');
const VERSION = arg('--version');
const APP = arg('--app');

/**
 * What each runtime has where runtimes differ, as measured; a change in a runtime fails the test
 * that states it. `locks`: 'none' (no navigator.locks); 'shared' (another thread's held lock is
 * refused and listed by query()); 'unlisted' (refused, but query() does not list it). In every
 * runtime that has them, a terminated worker's locks are freed.
 */
const NODE_WORKER_SCOPE = { threads: { self: false, workerGlobalScope: false, parentPort: true } };
const FACTS = {
  node20: { kind: 'node', webWorker: false, navigator: false, locks: 'none', simd: true, scope: NODE_WORKER_SCOPE },
  node22: { kind: 'node', webWorker: false, navigator: true, locks: 'none', simd: true, scope: NODE_WORKER_SCOPE },
  node24: { kind: 'node', webWorker: false, navigator: true, locks: 'unlisted', simd: true, scope: NODE_WORKER_SCOPE },
  node26: { kind: 'node', webWorker: false, navigator: true, locks: 'unlisted', simd: true, scope: NODE_WORKER_SCOPE },
  // Bun: one kind of worker behind both APIs, with `self` and parentPort, and no WorkerGlobalScope.
  bun: {
    kind: 'bun', webWorker: true, navigator: true, locks: 'none', simd: true,
    scope: { web: { self: true, workerGlobalScope: false, parentPort: true }, threads: { self: true, workerGlobalScope: false, parentPort: true } },
  },
  // Deno: a Web Worker is a WorkerGlobalScope without parentPort; a worker_threads one the reverse.
  deno: {
    kind: 'deno', webWorker: true, navigator: true, locks: 'shared', simd: true,
    scope: { web: { self: true, workerGlobalScope: true, parentPort: false }, threads: { self: false, workerGlobalScope: false, parentPort: true } },
  },
};
const facts = FACTS[RUNTIME];
if (!facts) throw new Error(`main.mjs: no FACTS for runtime ${RUNTIME}`);

const U64_MAX = 2n ** 64n - 1n;
const BACKENDS = ['wasm', 'js'];

function runningRuntime() {
  if (globalThis.Deno) return { kind: 'deno', version: globalThis.Deno.version.deno };
  if (globalThis.Bun) return { kind: 'bun', version: globalThis.Bun.version };
  return { kind: 'node', version: process.versions.node };
}

// ─── the runtime and the package ─────────────────────────────────────────────────────────────

test('runs in the runtime and version the driver asked for', () => {
  assert.deepEqual(runningRuntime(), { kind: facts.kind, version: VERSION });
});

test('imports migration-stats from the installed tarball', () => {
  const url = import.meta.resolve('migration-stats');
  const expected = new URL(`file://${APP}/node_modules/migration-stats/`).href;
  assert.ok(url.startsWith(expected), `${url} is not under ${expected}`);
});

// ─── where runtimes differ ───────────────────────────────────────────────────────────────────

test(`has ${facts.webWorker ? 'both' : 'only node:worker_threads, no'} Web Worker${facts.webWorker ? 's and node:worker_threads' : 's'}`, async () => {
  assert.equal(typeof globalThis.Worker, facts.webWorker ? 'function' : 'undefined');
  const { Worker } = await import('node:worker_threads');
  assert.equal(typeof Worker, 'function');
});

test(`${facts.locks === 'none' ? 'has no navigator.locks' : `navigator.locks: another thread's lock is refused${facts.locks === 'shared' ? ' and listed' : ' but not listed by query()'}, and freed when that thread is terminated`}`, async () => {
  assert.equal(typeof globalThis.navigator, facts.navigator ? 'object' : 'undefined');
  if (facts.locks === 'none') {
    assert.equal(globalThis.navigator?.locks, undefined);
    return;
  }
  const name = `migration-stats-suite-${RUNTIME}`;
  const { Worker } = await import('node:worker_threads');
  const worker = new Worker(new URL('./lock-worker.mjs', import.meta.url));
  const holding = new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  worker.postMessage({ name });
  assert.equal(await holding, 'holding');
  const granted = await navigator.locks.request(name, { ifAvailable: true }, (lock) => lock !== null);
  assert.equal(granted, false, 'a lock held by another thread was granted');
  const listed = (await navigator.locks.query()).held.some((lock) => lock.name === name);
  assert.equal(listed, facts.locks === 'shared');
  await worker.terminate();
  // Freed once the runtime has torn the worker down, which no event announces: asked again and
  // again, with a limit (2 minutes) that only a lock never freed reaches, never a busy machine.
  let freed = false;
  for (const started = Date.now(); !freed && Date.now() - started < 120_000; ) {
    freed = await navigator.locks.request(name, { ifAvailable: true }, (lock) => lock !== null);
    if (!freed) await new Promise((resolve) => setTimeout(resolve, 25));
  }
  assert.equal(freed, true, "the terminated worker's lock was never freed (asked for 2 minutes)");
});

test(`${facts.simd ? 'runs' : 'cannot run'} Wasm SIMD: the zero scan ${facts.simd ? 'is the v128 loop' : 'falls back to JS'}`, async () => {
  // (module (func (result v128) (v128.const i32x4 0 0 0 0)))
  const simd = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11]);
  assert.equal(WebAssembly.validate(simd), facts.simd);
  const ram = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  const scanner = await zeroScanner(ram, 4096);
  assert.equal(scanner.kind, facts.simd ? 'wasm-simd' : 'js');
  assert.equal(scanner.isZeroPage(0), true);
  new Uint8Array(ram.buffer)[4095] = 1;
  assert.equal(scanner.isZeroPage(0), false);
});

// ─── both backends, one thread ───────────────────────────────────────────────────────────────

for (const backend of BACKENDS) {
  test(`Stat64 get/set/add/min/max, 64-bit values and wrap-around (${backend})`, async () => {
    const stats = await MigrationStats.create({ backend });
    assert.equal(stats.backend, backend);
    assert.equal(stats.lane, 0);
    const { zeroPages, rateLimitMax } = stats;
    zeroPages.add(1);
    zeroPages.add(2n ** 63n);
    assert.equal(zeroPages.get(), 2n ** 63n + 1n);
    zeroPages.set(U64_MAX);
    assert.equal(zeroPages.get(), 18446744073709551615n);
    zeroPages.add(2);
    assert.equal(zeroPages.get(), 1n); // mod 2^64
    zeroPages.max(10);
    zeroPages.min(7n);
    assert.equal(zeroPages.getNumber(), 7);
    rateLimitMax.set(2n ** 53n);
    assert.throws(() => rateLimitMax.getNumber(), { name: 'RangeError', message: /above Number\.MAX_SAFE_INTEGER/ });
    stats.addMultifdPacket(3, 4, 5);
    assert.deepEqual([stats.normalPages.get(), stats.zeroPages.get(), stats.multifdBytes.get()], [3n, 11n, 5n]);
    assert.equal(Object.keys(stats.snapshot()).length, 15);
    stats.reset();
    assert.ok(Object.values(stats.snapshot()).every((value) => value === 0n));
  });

  test(`bad input gets a TypeError or RangeError naming the call, the argument and the value (${backend})`, async () => {
    const stats = await MigrationStats.create({ backend });
    assert.throws(() => stats.zeroPages.add(-1), { name: 'RangeError', message: /^zeroPages\.add: value must be .*; received -1, which is negative$/ });
    assert.throws(() => stats.zeroPages.add('1'), { name: 'TypeError', message: /^zeroPages\.add: value must be .*; received "1"$/ });
    assert.throws(() => stats.zeroPages.add(2 ** 53), { name: 'RangeError', message: /pass a bigint \(e\.g\. 9007199254740992n\)/ });
    assert.throws(() => stats.zeroPages.set(2n ** 64n), { name: 'RangeError', message: /above 2\^64 − 1/ });
    assert.throws(() => stats.migrationRateSet(1.5), { name: 'RangeError', message: /^migrationRateSet: bytesPerSecond must be/ });
    await assert.rejects(MigrationStats.create({ backend: 'c' }), { name: 'TypeError', message: /backend/ });
    await assert.rejects(MigrationStats.attach({}), { name: 'TypeError', message: /^MigrationStats\.attach: handle/ });
    assert.equal(stats.zeroPages.get(), 0n); // nothing changed
  });

  test(`rate limiter: QEMU's worked example at 1 GiB/s (${backend})`, async () => {
    const stats = await MigrationStats.create({ backend });
    stats.migrationRateSet(1073741824);
    assert.equal(stats.migrationRateGet(), 107374182n);
    stats.migrationRateReset();
    stats.qemuFileTransferred.add(107374182);
    assert.equal(stats.migrationRateExceeded(), false);
    stats.qemuFileTransferred.add(1);
    assert.equal(stats.migrationRateExceeded(), true);
    stats.migrationRateReset();
    assert.equal(stats.rateLimitStart.get(), 107374183n);
    stats.multifdBytes.add(50000000);
    stats.rdmaBytes.add(57374182);
    assert.equal(stats.migrationRateExceeded(), false);
    assert.equal(stats.migrationTransferredBytes(), 214748365n);
    stats.rdmaBytes.add(1);
    assert.equal(stats.migrationRateExceeded(), true);
    assert.equal(stats.migrationRateExceeded(-5), true);
    stats.migrationRateSet(0);
    assert.equal(stats.migrationRateExceeded(), false);
    stats.migrationRateSet(U64_MAX);
    assert.equal(stats.migrationRateGet(), 1844674407370955161n);
  });

  test(`a handle survives structuredClone, and an instance of the other backend sees the same counters (${backend})`, async () => {
    assert.equal(MigrationStats.canShareMemory(), true);
    const stats = await MigrationStats.create({ backend });
    const other = await MigrationStats.attach(structuredClone(stats.handle), { backend: backend === 'wasm' ? 'js' : 'wasm' });
    other.zeroPages.add(7);
    stats.zeroPages.add(1);
    assert.equal(stats.zeroPages.get(), 8n);
    assert.equal(other.zeroPages.get(), 8n);
    assert.notEqual(other.lane, stats.lane);
  });
}

// ─── real workers on one handle, both backends ───────────────────────────────────────────────

const WORKERS = 4;
const ADDS = 50_000;

/** Starts a counting worker with one of the runtime's worker APIs. */
async function startCounter(api) {
  if (api === 'web') {
    const worker = new Worker(new URL('./counting-worker.mjs', import.meta.url), { type: 'module' });
    const reply = new Promise((resolve, reject) => {
      worker.onmessage = (event) => resolve(event.data);
      worker.onerror = (event) => {
        event.preventDefault?.();
        reject(new Error(`web worker failed: ${event.message}`));
      };
    });
    return { post: (message) => worker.postMessage(message), reply, stop: async () => worker.terminate() };
  }
  const { Worker: ThreadWorker } = await import('node:worker_threads');
  const worker = new ThreadWorker(new URL('./counting-worker.mjs', import.meta.url));
  const reply = new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return { post: (message) => worker.postMessage(message), reply, stop: () => worker.terminate() };
}

/** Runs WORKERS workers with the given APIs (one entry each) on one handle; checks exact totals. */
async function countInWorkers(apis) {
  const stats = await MigrationStats.create();
  const workers = await Promise.all(apis.map(startCounter));
  try {
    workers.forEach((worker, index) => worker.post({ api: apis[index], handle: stats.handle, backend: BACKENDS[index % 2], adds: ADDS, index, workers: apis.length }));
    const replies = await Promise.all(workers.map((worker) => worker.reply));
    for (const reply of replies) assert.equal(reply.ok, true, reply.error);
    assert.deepEqual(
      replies.map((r) => `${r.api}:${r.backend}`),
      apis.map((api, i) => `${api}:${BACKENDS[i % 2]}`),
    );
    // What a worker's global scope has, by the API that started it (the simulator's worker-port
    // picks its channel from these).
    for (const [i, reply] of replies.entries()) assert.deepEqual(reply.scope, facts.scope[apis[i]], `a ${apis[i]} worker's scope`);
    // No worker closed its stats: each holds a lane of its own as far as the memory has lanes (its
    // header's lane count, u32 at byte 8: about twice the cores), and the page's is lane 0.
    const laneCount = new Uint32Array(stats.handle.memory.buffer, 0, 4)[2];
    assert.equal(new Set([stats.lane, ...replies.map((r) => r.lane)]).size, Math.min(apis.length + 1, laneCount));
    const rounds = BigInt(apis.length * ADDS);
    const totals = stats.snapshot();
    assert.deepEqual(
      { zeroPages: totals.zeroPages, precopyBytes: totals.precopyBytes, normalPages: totals.normalPages, multifdBytes: totals.multifdBytes, dirtyPagesRate: totals.dirtyPagesRate },
      { zeroPages: rounds * 3n, precopyBytes: rounds * 4096n, normalPages: rounds, multifdBytes: rounds * 3n, dirtyPagesRate: rounds - 1n },
    );
    assert.equal(stats.migrationTransferredBytes(), rounds * 3n);
  } finally {
    await Promise.all(workers.map((worker) => worker.stop()));
  }
}

test(`${WORKERS} node:worker_threads workers, wasm and js alternating, add exactly`, () => countInWorkers(Array(WORKERS).fill('threads')));

if (facts.webWorker) {
  test(`${WORKERS} Web Workers, wasm and js alternating, add exactly`, () => countInWorkers(Array(WORKERS).fill('web')));
  test(`2 Web Workers and 2 node:worker_threads workers on one handle add exactly`, () => countInWorkers(['web', 'threads', 'threads', 'web']));
}

// Exponential histograms from the runtime's workers, an interval reader, startTimer, protobuf.
exponentialTests({ apis: facts.webWorker ? ['web', 'threads', 'threads', 'web'] : Array(WORKERS).fill('threads') });

for (const backend of BACKENDS) {
  test(`simulateMigration: a 4 MiB guest migrates over its workers to a byte-identical destination (${backend})`, async () => {
    const result = await simulateMigration({ ramBytes: 4 * 1024 * 1024, dirtyBytesPerSecond: 0, backend });
    assert.equal(result.status, 'completed');
    assert.equal(result.verified, true);
    assert.equal(result.scan, backend === 'js' ? 'js' : facts.simd ? 'wasm-simd' : 'js');
    assert.deepEqual([result.stats.normalPages.get(), result.stats.zeroPages.get()], [768n, 256n]);
    assert.equal(result.info.ram.normal, 768n);
    // The package's entries share one copy of the library: the simulator's stats are migration-stats' own.
    assert.ok(result.stats instanceof MigrationStats && SharedStats.isInstance(result.stats));
  });
}

// ─── reports ─────────────────────────────────────────────────────────────────────────────────

async function completedExample() {
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
    mbps: completedMbps(stats.migrationTransferredBytes(), 67, 3),
    pagesPerSecond: 0,
  });
  return { stats, info };
}

test('formatQmp prints query-migrate byte for byte as QEMU does', async () => {
  const { info } = await completedExample();
  assert.equal(
    formatQmp(info, { response: true }),
    '{"return": {"status": "completed", "setup-time": 3, "downtime": 12, "total-time": 67, "ram": {"total": 134750208, ' +
      '"postcopy-requests": 0, "dirty-sync-count": 3, "multifd-bytes": 0, "pages-per-second": 0, "downtime-bytes": 0, ' +
      '"page-size": 4096, "remaining": 0, "postcopy-bytes": 0, "mbps": 58.152999999999999, "transferred": 465224, ' +
      '"dirty-sync-missed-zero-copy": 0, "precopy-bytes": 462848, "duplicate": 32849, "dirty-pages-rate": 0, ' +
      '"normal-bytes": 200704, "normal": 49}}}',
  );
});

test("infoMigrate prints HMP's info migrate, and sizeToStr QEMU's sizes, quirks included", async () => {
  const { info } = await completedExample();
  assert.equal(
    infoMigrate(info),
    'Status: \t\tcompleted\nTime (ms): \t\ttotal=67, setup=3, down=12\nRAM info:\n  Throughput (Mbps): \t58.15\n' +
      '  Sizes: \t\tpagesize=4 KiB, total=129 MiB\n  Transfers: \t\ttransferred=454 KiB, remain=0 B\n' +
      '    Channels: \t\tprecopy=452 KiB, multifd=0 B, postcopy=0 B\n    Page Types: \tnormal=49, zero=32849\n' +
      '  Page Rates (pps): \ttransfer=0\n  Others: \t\tdirty_syncs=3\n',
  );
  assert.deepEqual([sizeToStr(1016), sizeToStr(1024), sizeToStr(1023999), sizeToStr(U64_MAX)], ['0.992 KiB', '1 KiB', '1e+03 KiB', '16 EiB']);
});

test("MigrationWindow: QEMU's per-window figures", async () => {
  const stats = await MigrationStats.create();
  const window = new MigrationWindow(stats, { nowMs: 0, downtimeLimitMs: 300 });
  stats.qemuFileTransferred.add(12_500_000);
  stats.dirtyPagesRate.set(1);
  stats.dirtyBytesLastSync.set(50_000_000);
  assert.equal(window.update(99), null);
  assert.deepEqual(window.update(100), {
    transferred: 12500000n,
    timeSpentMs: 100,
    bandwidth: 125000,
    thresholdSize: 37500000n,
    mbps: 1000,
    pagesPerSecond: 0,
    expectedDowntimeMs: 400,
  });
});

test('prometheusText and createMetricsHandler serve the 15 counters over node:http', async () => {
  const { stats } = await completedExample();
  const text = prometheusText(stats, { labels: { vm: 'guest1' } });
  assert.equal(text.trimEnd().split('\n').length, 45);
  assert.match(text, /^qemu_migration_zero_pages_total\{vm="guest1"\} 32849$/m);
  const server = createServer(createMetricsHandler(stats, { labels: { vm: 'guest1' } }));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const response = await fetch(`http://127.0.0.1:${server.address().port}/metrics`);
    assert.equal(response.status, 200);
    assert.equal(await response.text(), text);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test('the prom-client adapter registers the counters in a Registry', async () => {
  const { stats } = await completedExample();
  const registry = new Registry();
  const { names, unregister } = registerPromClient(stats, { registry, labels: { vm: 'guest1' } });
  assert.equal(names.length, 15);
  assert.match(await registry.metrics(), /^qemu_migration_zero_pages_total\{vm="guest1"\} 32849$/m);
  unregister();
  assert.doesNotMatch(await registry.metrics(), /qemu_migration/);
});

const only = args.indexOf('--only');
process.exitCode = (await run(only < 0 ? undefined : args[only + 1])) === 0 ? 0 : 1;
