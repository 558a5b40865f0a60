// One measurement of the simulate suite, in a process of its own (fresh memory, as the command has):
// a one-thread first-touch copy, or one migration. Prints one line of JSON on stdout.
//
//   node bench/simulate-run.mjs copy BYTES
//   node bench/simulate-run.mjs migrate BYTES CHANNELS BACKEND
//
// `copy` fills a source of BYTES (every page touched first), then times copying it into a fresh
// SharedArrayBuffer in one thread: the page faults of first-touching BYTES of new memory plus the
// copy, the floor of any thread that writes that much fresh memory. `migrate` runs
// `simulateMigration` with no bandwidth limit and an idle guest, and times its three parts from the
// progress reports: before the migration starts (the workers start and fill the guest's RAM), the
// migration (its `totalTimeMs`, and the CPU cores the process got meanwhile), and after it
// completes (the byte-for-byte verification).
const [kind, bytesText, channelsText, backend] = process.argv.slice(2);
const bytes = Number(bytesText);
const print = (result) => process.stdout.write(`${JSON.stringify(result)}\n`);

if (kind === 'copy') {
  const source = new Uint8Array(new SharedArrayBuffer(bytes));
  source.fill(1);
  const t0 = performance.now();
  const destination = new Uint8Array(new SharedArrayBuffer(bytes));
  destination.set(source);
  const copyMs = performance.now() - t0;
  if (destination[bytes - 1] !== 1) throw new Error('bench stopped: the copy is not complete');
  print({ copyMs });
} else if (kind === 'migrate') {
  const { simulateMigration } = await import('../dist/simulate/index.js');
  let setupAt;
  let completedAt;
  let cpuAtSetup;
  let cpuInMigration;
  const t0 = performance.now();
  const result = await simulateMigration({
    ramBytes: bytes,
    channels: Number(channelsText),
    backend,
    bandwidthBytesPerSecond: 0,
    dirtyBytesPerSecond: 0,
    onProgress: (p) => {
      const now = performance.now();
      if (p.status === 'setup' && setupAt === undefined) {
        setupAt = now;
        cpuAtSetup = process.cpuUsage();
      }
      if (p.status === 'completed') {
        completedAt = now;
        cpuInMigration = process.cpuUsage(cpuAtSetup);
      }
    },
  });
  const endAt = performance.now();
  if (result.status !== 'completed' || result.verified !== true) {
    throw new Error(`bench stopped: the migration ended ${result.status}, verified ${result.verified}: ${result.message}`);
  }
  print({
    bootMs: setupAt - t0,
    migrationMs: result.totalTimeMs,
    // CPU time of every thread of the process ÷ wall time, over the migration: the cores it got.
    migrationCores: (cpuInMigration.user + cpuInMigration.system) / 1000 / (completedAt - setupAt),
    setupMs: result.setupTimeMs,
    verifyMs: endAt - completedAt,
    scan: result.scan,
  });
} else {
  throw new Error(`usage: node bench/simulate-run.mjs copy BYTES | migrate BYTES CHANNELS BACKEND; received "${kind}"`);
}
