// One implementation's single-thread scenarios, in a worker of its own so that its JIT feedback
// is never mixed with another implementation's. bench/suites/single.mjs asks for one fixed-time
// run at a time: { scenario, ms } → { scenario, nsPerOp, calls, sink }.
import { parentPort, workerData } from 'node:worker_threads';
import { fixedTime } from './measure.mjs';

const { impl, library = new URL('../dist/index.js', import.meta.url).href, ownOnly = false } = workerData;

/**
 * A Wasm module with one empty export `call(i32, f64)`: the cost of crossing from JS into Wasm and
 * back with the same argument types as `addNum(addr, value)`, and nothing else.
 */
const EMPTY_CALL_WASM = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
  0x01, 0x06, 0x01, 0x60, 0x02, 0x7f, 0x7c, 0x00, // type section: (i32, f64) → ()
  0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
  0x07, 0x08, 0x01, 0x04, 0x63, 0x61, 0x6c, 0x6c, 0x00, 0x00, // export "call" = function 0
  0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b, // code section: no locals, end
]);

/** Builds the scenarios of this implementation: name → { batch(n), opsPerCall, check() }. */
async function scenarios() {
  if (impl === 'prom') {
    const { Counter } = await import('prom-client');
    const counter = new Counter({ name: 'bench_pages_total', help: 'Pages.', registers: [] });
    let expected = 0;
    return {
      addNumber: {
        batch(n) {
          for (let i = 0; i < n; i++) counter.inc(1);
          expected += n;
          return 0;
        },
        async check() {
          const { values } = await counter.get();
          return values[0].value === expected ? null : `prom-client counter is ${values[0].value}, expected ${expected}`;
        },
      },
    };
  }

  const { MigrationStats, defineStats } = await import(library);
  if (ownOnly) return ownScenarios(defineStats);
  const stats = await MigrationStats.create({ backend: impl });
  // A previous release may have no defineStats: then no record scenario.
  const own =
    defineStats &&
    (await defineStats({
      latency: { kind: 'histogram', unit: 'microseconds', help: 'Latency.', buckets: 24 },
      perWorker: { kind: 'counter', unit: 'bytes', help: 'Bytes by worker.', length: 8, label: 'worker' },
    }).create({ backend: impl }));
  const latency = own?.latency;
  let recorded = 0n;
  let vectorAdds = 0n;
  if (stats.lane < 0) throw new Error('the bench instance got no lane');
  // A limit high enough never to be reached: migrationRateExceeded() then does all its work.
  stats.migrationRateSet(1e15);
  stats.migrationRateReset();
  const zero = stats.zeroPages;
  // A previous release (bench --only release) may have no batched writer.
  const zeroBatch = typeof zero.batch === 'function' ? zero.batch(1024) : undefined;
  const plain = { n: 0 };
  const expected = { zeroPages: 0n, normalPages: 0n, multifdBytes: 0n };
  const check = () => {
    for (const [name, value] of Object.entries(expected)) {
      const got = stats[name].get();
      if (got !== value) return `${impl}: ${name} is ${got}, expected ${value}: adds were lost`;
    }
    return null;
  };

  const list = {
    addNumber: {
      batch(n) {
        for (let i = 0; i < n; i++) zero.add(1);
        expected.zeroPages += BigInt(n);
        return 0;
      },
      check,
    },
    addBigint: {
      batch(n) {
        for (let i = 0; i < n; i++) zero.add(1n);
        expected.zeroPages += BigInt(n);
        return 0;
      },
      check,
    },
    batchAdd: zeroBatch && {
      batch(n) {
        for (let i = 0; i < n; i++) zeroBatch.add(1);
        expected.zeroPages += BigInt(n);
        return 0;
      },
      check: () => {
        zeroBatch.flush();
        return check();
      },
    },
    plainIncrement: {
      // The ceiling a batched writer is measured against: a plain JS number in one thread.
      batch(n) {
        for (let i = 0; i < n; i++) plain.n += 1;
        return plain.n & 1;
      },
    },
    get: {
      // Every result is compared with the previous one, so none can be dropped as unused.
      batch(n) {
        let last = 0n;
        let backwards = 0;
        for (let i = 0; i < n; i++) {
          const v = zero.get();
          if (v < last) backwards++;
          last = v;
        }
        return backwards + Number(last & 1n);
      },
    },
    getNumber: {
      batch(n) {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += zero.getNumber();
        return sum;
      },
    },
    rateExceeded: {
      batch(n) {
        let hits = 0;
        for (let i = 0; i < n; i++) if (stats.migrationRateExceeded()) hits++;
        return hits;
      },
    },
    record: latency && {
      batch(n) {
        for (let i = 0; i < n; i++) latency.record(i & 1023);
        recorded += BigInt(n);
        return 0;
      },
      check: () => (latency.count() === recorded ? check() : `${impl}: the histogram counts ${latency.count()}, expected ${recorded}: records were lost`),
    },
    vectorAdd: own && {
      batch(n) {
        for (let i = 0; i < n; i++) own.perWorker.at(i & 7).add(1);
        vectorAdds += BigInt(n);
        return 0;
      },
      check: () => (own.perWorker.total() === vectorAdds ? null : `${impl}: the vector totals ${own.perWorker.total()}, expected ${vectorAdds}: adds were lost`),
    },
    packetPerUpdate: {
      opsPerCall: 3,
      batch(n) {
        for (let i = 0; i < n; i++) stats.addMultifdPacket(1, 2, 4096);
        expected.normalPages += BigInt(n);
        expected.zeroPages += 2n * BigInt(n);
        expected.multifdBytes += 4096n * BigInt(n);
        return 0;
      },
      check,
    },
  };
  if (impl === 'wasm') {
    // Calibration: the same work without the public API (no argument checks, no lane lookup), by
    // calling the core's exports directly from a separate instance on the same memory; and the
    // JS-to-Wasm crossing alone.
    const { call } = (await WebAssembly.instantiate(EMPTY_CALL_WASM)).instance.exports;
    const raw = (await WebAssembly.instantiate(stats.handle.module, { env: { memory: stats.handle.memory } })).exports;
    // This instance's lane cells, from the library's own plan of the memory (the header gives the
    // lane count and the definition's length, which the plan needs).
    const { planLayout } = await import('../dist/backend/layout.js');
    const { QEMU_DEFINITION } = await import('../dist/counters.js');
    const header = new Uint32Array(stats.handle.memory.buffer, 0, 16);
    const layout = planLayout(QEMU_DEFINITION, header[2], header[11]);
    const laneCell = (name) => layout.lanesOffset + stats.lane * layout.laneStride + layout.metrics.find((m) => m.spec.name === name).lane;
    const zeroAt = laneCell('zeroPages');
    const normalAt = laneCell('normalPages');
    const bytesAt = laneCell('multifdBytes');
    list.rawExportAdd = {
      batch(n) {
        for (let i = 0; i < n; i++) raw.addNum(zeroAt, 1);
        expected.zeroPages += BigInt(n);
        return 0;
      },
      check,
    };
    list.rawExportPacketPerUpdate = {
      opsPerCall: 3,
      batch(n) {
        for (let i = 0; i < n; i++) raw.add3(normalAt, 1, zeroAt, 2, bytesAt, 4096);
        expected.normalPages += BigInt(n);
        expected.zeroPages += 2n * BigInt(n);
        expected.multifdBytes += 4096n * BigInt(n);
        return 0;
      },
      check,
    };
    list.emptyWasmCall = {
      batch(n) {
        for (let i = 0; i < n; i++) call(1024, 1);
        return 0;
      },
    };
  }
  return list;
}

/**
 * A counter's add(1) and a vector's at(i).add(1) on one memory, in a worker that has no other
 * (`ownOnly`): a second memory in a thread is a second Wasm instance, and Stat64's call into the
 * core then sees two targets (src/backend/wasm-core.ts), which slows both.
 */
async function ownScenarios(defineStats) {
  const own = await defineStats({
    perWorker: { kind: 'counter', unit: 'bytes', help: 'Bytes by worker.', length: 8, label: 'worker' },
    pages: { kind: 'counter', unit: 'pages', help: 'Pages.' },
  }).create({ backend: impl });
  let pages = 0n;
  let vector = 0n;
  return {
    ownAdd: {
      batch(n) {
        const counter = own.pages;
        for (let i = 0; i < n; i++) counter.add(1);
        pages += BigInt(n);
        return 0;
      },
      check: () => (own.pages.get() === pages ? null : `${impl}: the counter is ${own.pages.get()}, expected ${pages}: adds were lost`),
    },
    vectorAdd: {
      batch(n) {
        // Written as the add beside it: the metric taken from the stats object once, outside the loop.
        const perWorker = own.perWorker;
        for (let i = 0; i < n; i++) perWorker.at(i & 7).add(1);
        vector += BigInt(n);
        return 0;
      },
      check: () => (own.perWorker.total() === vector ? null : `${impl}: the vector totals ${own.perWorker.total()}, expected ${vector}: adds were lost`),
    },
  };
}

const list = await scenarios();
parentPort.on('message', async ({ scenario, ms }) => {
  const s = list[scenario];
  if (!s) {
    parentPort.postMessage({ scenario, skipped: true });
    return;
  }
  const { nsPerOp, calls, sink } = fixedTime(s.batch, ms, s.opsPerCall ?? 1);
  const error = s.check ? await s.check() : null;
  parentPort.postMessage({ scenario, nsPerOp, calls, sink, error });
});
parentPort.postMessage({ ready: Object.keys(list) });
