// The runtime suite's exponential histograms (defineStats with `scale`): real workers of the runtime
// record on both backends into a scale-3 and a scale-8 histogram, and every bucket's total must be
// the model's (exp-model.mjs) times the writers and rounds; an interval reader gives each phase's
// change; a timer records once; the protobuf body of createMetricsHandler decodes to the native
// histogram the model gives, byte for byte the same in every runtime.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { attachStats, createMetricsHandler, defineStats, PROTOBUF_CONTENT_TYPE } from 'migration-stats';
import { modelCounts, modelLowest, modelNative, plus, times, U64_MAX } from './exp-model.mjs';
import { test } from './harness.mjs';

const BACKENDS = ['wasm', 'js'];

const Pool = defineStats({
  runTime: { kind: 'histogram', unit: 'microseconds', help: 'Task run time', scale: 3 },
  fine: { kind: 'histogram', unit: 'nanoseconds', help: 'Finest buckets', scale: 8 },
  timed: { kind: 'histogram', unit: 'nanoseconds', help: 'Timed by startTimer', scale: 0 },
  records: { kind: 'counter', unit: 'records', help: 'Records made' },
});

/**
 * Phase 1's values: 0, 2^64 − 1, and at each index of scale 3, and at every 61st of scale 8, the
 * bucket's lowest integer and the one below it (the highest of the bucket under it). Phase 2's:
 * every fifth of those.
 */
const PHASE1 = [
  ...new Set([
    0n,
    U64_MAX,
    ...Array.from({ length: 512 }, (_, i) => modelLowest(i, 3)),
    ...Array.from({ length: 16384 / 61 }, (_, k) => modelLowest(k * 61, 8)),
  ]),
].flatMap((v) => (v > 1n ? [v - 1n, v] : [v]));
const PHASE2 = PHASE1.filter((_, i) => i % 5 === 0);
const PHASE2_ROUNDS = 2;
const sum = (values) => values.reduce((a, b) => a + b, 0n);

/** Starts a recording-worker.mjs with one of the runtime's worker APIs; `call` sends a request and resolves to its reply. */
async function startRecorder(api) {
  let worker;
  let listen;
  if (api === 'web') {
    worker = new Worker(new URL('./recording-worker.mjs', import.meta.url), { type: 'module' });
    listen = (resolve, reject) => {
      worker.onmessage = (event) => resolve(event.data);
      worker.onerror = (event) => {
        event.preventDefault?.();
        reject(new Error(`web worker failed: ${event.message}`));
      };
    };
  } else {
    const { Worker: ThreadWorker } = await import('node:worker_threads');
    worker = new ThreadWorker(new URL('./recording-worker.mjs', import.meta.url));
    listen = (resolve, reject) => {
      worker.removeAllListeners();
      worker.once('message', resolve);
      worker.once('error', reject);
    };
  }
  return {
    async call(request) {
      const reply = await new Promise((resolve, reject) => {
        listen(resolve, reject);
        worker.postMessage({ api, ...request });
      });
      assert.equal(reply.ok, true, reply.error);
      return reply;
    },
    stop: () => worker.terminate(),
  };
}

/** A histogram's reading (snapshot(), next()) against the model's counts: buckets, count and sum. */
function assertReading(reading, counts, total, what) {
  assert.deepEqual(reading.buckets, counts, `${what}: buckets`);
  assert.equal(reading.count, sum(counts), `${what}: count`);
  assert.equal(reading.sum, BigInt.asUintN(64, total), `${what}: sum`);
}

/**
 * Registers the tests. `apis` are the worker APIs to record with, one per worker (the runtime's
 * own mix); each test makes the memory with one backend, and the workers alternate wasm and js.
 */
export function exponentialTests({ apis }) {
  const workers = apis.length;
  for (const creator of BACKENDS) {
    test(`${workers} workers (${apis.join(', ')}; wasm and js alternating) record scale-3 and scale-8 exponential histograms exactly; an interval reader gives each phase; startTimer records once (made by ${creator})`, async () => {
      const stats = await Pool.create({ backend: creator });
      const reader = stats.interval();
      const recorders = await Promise.all(apis.map(startRecorder));
      try {
        const attached = await Promise.all(recorders.map((r, i) => r.call({ op: 'attach', handle: stats.handle, backend: BACKENDS[i % 2] })));
        assert.deepEqual(attached.map((a) => a.backend), apis.map((_, i) => BACKENDS[i % 2]));

        // Phase 1: every worker records PHASE1 once in each histogram, then times one thing.
        const names = ['runTime', 'fine'];
        const first = await Promise.all(recorders.map((r) => r.call({ op: 'record', names, values: PHASE1.map(String), rounds: 1, timer: 'timed' })));
        const timed = first.map(({ timed: [once, again] }) => {
          assert.equal(again, once, 'a second end() gives the first value and records nothing');
          return BigInt(once);
        });
        const want1 = { runTime: times(modelCounts(PHASE1, 3), workers), fine: times(modelCounts(PHASE1, 8), workers), timed: modelCounts(timed, 0) };
        const interval1 = reader.next();
        for (const name of names) assertReading(interval1[name], want1[name], BigInt(workers) * sum(PHASE1), `interval 1, ${name}`);
        assertReading(interval1.timed, want1.timed, sum(timed), 'interval 1, timed');
        assert.equal(interval1.records, BigInt(workers * PHASE1.length * names.length));

        // Phase 2: every worker records PHASE2 twice; the interval holds that alone.
        await Promise.all(recorders.map((r) => r.call({ op: 'record', names, values: PHASE2.map(String), rounds: PHASE2_ROUNDS })));
        const k = workers * PHASE2_ROUNDS;
        const want2 = { runTime: times(modelCounts(PHASE2, 3), k), fine: times(modelCounts(PHASE2, 8), k) };
        const interval2 = reader.next();
        for (const name of names) assertReading(interval2[name], want2[name], BigInt(k) * sum(PHASE2), `interval 2, ${name}`);
        assertReading(interval2.timed, modelCounts([], 0), 0n, 'interval 2, timed');
        assert.equal(interval2.records, BigInt(k * PHASE2.length * names.length));

        // The totals, read on both backends from a memory joined by its handle.
        for (const backend of BACKENDS) {
          const seen = await attachStats(stats.handle, { backend });
          const snapshot = seen.snapshot();
          for (const name of names) {
            assertReading(snapshot[name], plus(want1[name], want2[name]), BigInt(workers) * sum(PHASE1) + BigInt(k) * sum(PHASE2), `totals read by ${backend}, ${name}`);
            assert.deepEqual(seen.metric(name).buckets(), snapshot[name].buckets);
          }
          assertReading(snapshot.timed, want1.timed, sum(timed), `totals read by ${backend}, timed`);
          seen.close();
        }
      } finally {
        await Promise.all(recorders.map((r) => r.stop()));
      }
    });
  }

  for (const backend of BACKENDS) {
    test(`createMetricsHandler answers Prometheus' protobuf format with a native histogram over node:http (${backend})`, async () => {
      const Example = defineStats({
        runTime: { kind: 'histogram', unit: 'microseconds', help: 'Task run time', scale: 3 },
        tasksDone: { kind: 'counter', unit: 'tasks', help: 'Tasks done' },
      });
      const stats = await Example.create({ backend });
      const values = [0n, 1n, 2n, 3n, 130n, 130n, 1000n, 5000n];
      for (const v of values) stats.runTime.record(v);
      stats.tasksDone.add(values.length);
      const server = createServer(createMetricsHandler(stats, { labels: { vm: 'guest1' } }));
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      let body;
      try {
        const response = await fetch(`http://127.0.0.1:${server.address().port}/metrics`, {
          headers: { accept: 'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,text/plain;q=0.5' },
        });
        assert.equal(response.status, 200);
        assert.equal(response.headers.get('content-type'), PROTOBUF_CONTENT_TYPE);
        body = new Uint8Array(await response.arrayBuffer());
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
      const families = decodeDelimited(body).map(decodeFamily);
      assert.deepEqual(families.map((f) => [f.name, f.help, f.type]), [['run_time', 'Task run time', 4], ['tasks_done_total', 'Tasks done', 0]]);
      const [histogram] = families[0].metrics;
      assert.deepEqual(histogram.labels, [['vm', 'guest1']]);
      const { spans, deltas } = modelNative(values, 3);
      assert.deepEqual(histogram.native, { schema: 3, zeroThreshold: 0, zeroCount: 1n, sampleCount: 8n, sampleSum: 6266, spans, deltas });
      // The model agrees with the worked example of docs/stats.md.
      assert.deepEqual(spans.map((s) => s.offset), [0, 7, 4, 43, 22, 18]);
      assert.deepEqual(deltas, [1n, 0n, 0n, 1n, -1n, 0n]);
      assert.equal(families[1].metrics[0].counter, 8);
      // Every runtime sends the same bytes.
      assert.equal([...body].map((b) => b.toString(16).padStart(2, '0')).join(''), PROTOBUF_BODY);
    });
  }
}

// ─── a small reader of the protobuf wire format, for the fields metrics.proto gives them ─────

/** The body of the protobuf test, as Node sends it: every runtime must send these bytes. */
const PROTOBUF_BODY =
  '710a0872756e5f74696d65120d5461736b2072756e2074696d65180422540a0c0a02766d12066775657374313a4408081100000000007ab840280631000000000000000038016204080010016204080e10016204080810016204085610016204082c10016204082410016a060200000201003b0a107461736b735f646f6e655f746f74616c120a5461736b7320646f6e65180022190a0c0a02766d12066775657374311a09090000000000002040';

/** Reads the fields of one message: [field number, wire type, value] with value a bigint (varint), a DataView (fixed64) or bytes. */
function fields(bytes) {
  const out = [];
  let at = 0;
  const varint = () => {
    let value = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const byte = bytes[at++];
      assert.ok(byte !== undefined, 'a varint runs past the end');
      value |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return value;
    }
  };
  while (at < bytes.length) {
    const key = Number(varint());
    const [field, wire] = [key >> 3, key & 7];
    if (wire === 0) out.push([field, wire, varint()]);
    else if (wire === 1) {
      out.push([field, wire, new DataView(bytes.buffer, bytes.byteOffset + at, 8).getFloat64(0, true)]);
      at += 8;
    } else if (wire === 2) {
      const length = Number(varint());
      out.push([field, wire, bytes.subarray(at, at + length)]);
      at += length;
    } else throw new Error(`wire type ${wire} is not used by metrics.proto's fields here`);
  }
  assert.equal(at, bytes.length);
  return out;
}

/** The length-delimited messages of a body. */
function decodeDelimited(body) {
  const messages = [];
  let at = 0;
  while (at < body.length) {
    let length = 0;
    let shift = 0;
    for (let byte = 0x80; byte >= 0x80; shift += 7) length |= ((byte = body[at++]) & 0x7f) << shift;
    messages.push(body.subarray(at, at + length));
    at += length;
  }
  return messages;
}

const text = (bytes) => new TextDecoder().decode(bytes);
const unzigzag = (n) => (n & 1n ? -(n >> 1n) - 1n : n >> 1n);
const packed = (bytes) => fields(Uint8Array.from([...bytes].flatMap((b, i, all) => (i === 0 || all[i - 1] < 0x80 ? [8, b] : [b])))).map(([, , v]) => unzigzag(v));

function decodeFamily(message) {
  const family = { metrics: [] };
  for (const [field, , value] of fields(message)) {
    if (field === 1) family.name = text(value);
    else if (field === 2) family.help = text(value);
    else if (field === 3) family.type = Number(value);
    else if (field === 4) family.metrics.push(decodeMetric(value));
  }
  return family;
}

function decodeMetric(message) {
  const metric = { labels: [] };
  for (const [field, , value] of fields(message)) {
    if (field === 1) metric.labels.push(fields(value).map(([, , v]) => text(v)));
    else if (field === 3) metric.counter = fields(value).find(([f]) => f === 1)?.[2];
    else if (field === 7) metric.native = decodeNative(value);
  }
  return metric;
}

function decodeNative(message) {
  const h = { spans: [], deltas: [] };
  for (const [field, , value] of fields(message)) {
    if (field === 1) h.sampleCount = value;
    else if (field === 2) h.sampleSum = value;
    else if (field === 5) h.schema = Number(unzigzag(value));
    else if (field === 6) h.zeroThreshold = value;
    else if (field === 7) h.zeroCount = value;
    else if (field === 12) {
      const span = { offset: 0, length: 0 };
      for (const [f, , v] of fields(value)) {
        if (f === 1) span.offset = Number(unzigzag(v));
        else if (f === 2) span.length = Number(v);
      }
      h.spans.push(span);
    } else if (field === 13) h.deltas.push(...packed(value));
  }
  return { schema: h.schema, zeroThreshold: h.zeroThreshold, zeroCount: h.zeroCount, sampleCount: h.sampleCount, sampleSum: h.sampleSum, spans: h.spans, deltas: h.deltas };
}
