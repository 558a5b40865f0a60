// Several worker threads count into the same counters while the main thread prints them.
//   node examples/node-workers.mjs [workers=4] [pagesPerWorker=5000000]
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { MigrationStats } from 'migration-stats';

const PAGE_SIZE = 4096;

if (isMainThread) {
  const workers = Number(process.argv[2] ?? 4);
  const pagesPerWorker = Number(process.argv[3] ?? 5_000_000);
  const stats = await MigrationStats.create();
  stats.migrationRateSet(0); // RATE_LIMIT_DISABLED

  const started = performance.now();
  const done = [];
  for (let id = 0; id < workers; id++) {
    const backend = id % 2 === 0 ? 'wasm' : 'js';
    const worker = new Worker(new URL(import.meta.url), { workerData: { handle: stats.handle, backend, pagesPerWorker } });
    done.push(new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject)));
  }
  console.log(`${workers} workers (Wasm and pure-JS backends alternating), ${pagesPerWorker} pages each`);
  const print = () => {
    const s = stats.snapshot();
    const ms = (performance.now() - started).toFixed(0).padStart(6);
    console.log(
      `${ms} ms  normal ${String(s.normalPages).padStart(9)}  zero ${String(s.zeroPages).padStart(9)}  ` +
        `precopy ${String(s.precopyBytes).padStart(13)} B  transferred ${stats.migrationTransferredBytes()} B`,
    );
  };
  const timer = setInterval(print, 100);
  await Promise.all(done);
  clearInterval(timer);
  print();
  const pages = stats.normalPages.get() + stats.zeroPages.get();
  const expected = BigInt(workers * pagesPerWorker);
  console.log(`pages counted: ${pages} of ${expected} sent: ${pages === expected ? 'exact' : 'MISMATCH'}`);
  process.exitCode = pages === expected ? 0 : 1;
} else {
  const { handle, backend, pagesPerWorker } = workerData;
  const stats = await MigrationStats.attach(handle, { backend });
  // Every 8th page is all zeros; the others are sent in full.
  for (let page = 0; page < pagesPerWorker; page++) {
    if (page % 8 === 0) stats.zeroPages.add(1);
    else {
      stats.normalPages.add(1);
      stats.precopyBytes.add(PAGE_SIZE);
      stats.qemuFileTransferred.add(PAGE_SIZE + 8);
    }
  }
  stats.close();
  parentPort.postMessage('done');
}
