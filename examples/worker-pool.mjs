// A pool of worker threads copying files under one bandwidth limit, with statistics of its own
// (defineStats) in shared memory that every thread updates, served on /metrics.
//   node examples/worker-pool.mjs [workers=4] [files=300]
//
// The main thread makes a source tree of small files in a temporary folder, hands the files to the
// workers one at a time, and opens a new rate-limit window every 100 ms (rateReset). Each worker
// copies a file in chunks, checking rateExceeded() before each chunk and waiting for the next
// window when the budget is spent. At the end the main thread compares every copy with its source,
// scrapes its own /metrics endpoint once and prints part of it. Exit status 0 when every copy
// matches and every total is exact.
import { mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { BUFFER_DELAY, createMetricsHandler, defineStats } from 'migration-stats';

/** The shared bandwidth limit: bytes per second over all workers. */
const BYTES_PER_SECOND = 6_000_000;
/** Each read and write of a copy. */
const CHUNK = 4096;

/** The statistics of a pool of `workers`: every thread makes the same definition. */
function copyStats(workers) {
  return defineStats(
    {
      copiedBytes: { kind: 'counter', unit: 'bytes', help: 'Bytes written to the destination.' },
      copiedFiles: { kind: 'counter', unit: 'files', help: 'Files copied.' },
      queueDepth: { kind: 'gauge', unit: 'files', help: 'Files waiting for a worker.' },
      workerBytes: { kind: 'counter', unit: 'bytes', help: 'Bytes copied by each worker.', length: workers, label: 'worker' },
      latency: { kind: 'histogram', unit: 'microseconds', help: 'Time to copy one file in microseconds, waiting for the limit included.', buckets: 24 },
    },
    // The limit is over copiedBytes: every worker's chunks count against one budget per window.
    { namespace: 'copy', rateLimit: ['copiedBytes'] },
  );
}

/** The size of file `i` of the source tree, in bytes: from 100 to 20,099. */
function fileSize(i) {
  return 100 + ((i * 7919) % 20_000);
}

/** The bytes of file `i`: a pattern that differs from file to file. */
function fileBytes(i) {
  const bytes = Buffer.alloc(fileSize(i));
  for (let j = 0; j < bytes.length; j++) bytes[j] = (i * 31 + j * 7) & 0xff;
  return bytes;
}

if (isMainThread) {
  const workers = Number(process.argv[2] ?? 4);
  const files = Number(process.argv[3] ?? 300);
  const stats = await copyStats(workers).create();
  stats.rateSet(BYTES_PER_SECOND);

  // The source tree: `files` files in 10 folders; the destination mirrors it.
  const root = mkdtempSync(join(tmpdir(), 'worker-pool-'));
  const tasks = [];
  let totalBytes = 0;
  for (let i = 0; i < files; i++) {
    const folder = `dir${i % 10}`;
    for (const side of ['source', 'destination']) mkdirSync(join(root, side, folder), { recursive: true });
    const name = join(folder, `file${i}.bin`);
    writeFileSync(join(root, 'source', name), fileBytes(i));
    tasks.push({ from: join(root, 'source', name), to: join(root, 'destination', name) });
    totalBytes += fileSize(i);
  }
  console.log(`worker-pool: ${workers} workers copy ${files} files (${totalBytes} bytes) at most ${BYTES_PER_SECOND} bytes/s`);

  // /metrics on a free loopback port, read at each request.
  const server = http.createServer(createMetricsHandler(stats, { labels: { job: 'worker-pool' } }));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/metrics`;

  // A new rate-limit window every BUFFER_DELAY (100) ms; waiting workers are woken through `window`.
  const window = new Int32Array(new SharedArrayBuffer(4));
  const timer = setInterval(() => {
    stats.rateReset();
    Atomics.add(window, 0, 1);
    Atomics.notify(window, 0);
  }, BUFFER_DELAY);

  const queue = [...tasks];
  stats.queueDepth.set(queue.length);
  const started = performance.now();
  const done = Array.from({ length: workers }, (_, id) => {
    const backend = id % 2 === 0 ? 'wasm' : 'js';
    const worker = new Worker(new URL(import.meta.url), { workerData: { handle: stats.handle, backend, id, workers, window } });
    return new Promise((resolve, reject) => {
      worker.on('error', reject);
      worker.on('message', (message) => {
        if (message === 'done') return resolve(worker.terminate());
        // The worker is ready for a file: the next one, or none.
        const task = queue.shift() ?? null;
        stats.queueDepth.set(queue.length);
        worker.postMessage(task);
      });
    });
  });
  await Promise.all(done);
  clearInterval(timer);
  const ms = performance.now() - started;
  console.log(`copied in ${ms.toFixed(0)} ms (${((totalBytes / ms) * 1000).toFixed(0)} bytes/s)`);

  const matching = tasks.filter(({ from, to }) => readFileSync(from).equals(readFileSync(to))).length;
  console.log(`verified: ${matching} of ${files} copies match`);
  const perWorker = stats.workerBytes.values();
  console.log(`counted: ${stats.copiedFiles.get()} files, ${stats.copiedBytes.get()} bytes, per worker ${perWorker.join(' + ')} = ${stats.workerBytes.total()}`);
  console.log(`latency: ${stats.latency.count()} files, median at most ${stats.latency.percentile(50)} µs, 99th percentile at most ${stats.latency.percentile(99)} µs`);

  const scraped = await (await fetch(url)).text();
  console.log(`scraped ${url} (the totals):`);
  for (const line of scraped.split('\n')) {
    if (/^copy_(copied_|queue_depth|worker_bytes|latency_(count|sum))/.test(line)) console.log(`  ${line}`);
  }
  server.close();
  rmSync(root, { recursive: true, force: true });

  const exact =
    stats.copiedFiles.get() === BigInt(files) &&
    stats.copiedBytes.get() === BigInt(totalBytes) &&
    stats.workerBytes.total() === BigInt(totalBytes) &&
    stats.latency.count() === BigInt(files);
  process.exitCode = matching === files && exact ? 0 : 1;
} else {
  const { handle, backend, id, workers, window } = workerData;
  const stats = await copyStats(workers).attach(handle, { backend });
  // Batched writers for what nobody waits on; copiedBytes is added at once, as the limit reads it.
  const files = stats.copiedFiles.batch(16);
  const mine = stats.workerBytes.at(id).batch(64);
  const latencies = stats.latency.batch(16);
  const buffer = Buffer.allocUnsafe(CHUNK);

  /** Waits until the current window has budget left: the main thread opens the next one. */
  const waitForBudget = () => {
    for (;;) {
      const seen = Atomics.load(window, 0);
      if (!stats.rateExceeded()) return;
      Atomics.wait(window, 0, seen, 1000);
    }
  };

  const copy = ({ from, to }) => {
    const started = performance.now();
    const source = openSync(from, 'r');
    const target = openSync(to, 'w');
    for (;;) {
      waitForBudget();
      const n = readSync(source, buffer, 0, CHUNK, null);
      if (n === 0) break;
      writeSync(target, buffer, 0, n);
      stats.copiedBytes.add(n);
      mine.add(n);
    }
    closeSync(source);
    closeSync(target);
    files.add(1);
    latencies.record(Math.round((performance.now() - started) * 1000));
  };

  parentPort.on('message', (task) => {
    if (task !== null) {
      copy(task);
      parentPort.postMessage('ready');
      return;
    }
    for (const writer of [files, mine, latencies]) writer.close();
    stats.close();
    parentPort.postMessage('done');
  });
  parentPort.postMessage('ready');
}
