// The counters view: Web Workers send multifd packets into the shared counters while the page reads
// them at every frame. Without cross-origin isolation the page sends the packets itself.
//
// URL parameters preset the form: ?workers=4&packets=250000&start
import { COUNTERS } from 'migration-stats';

export const title = 'Counters';

/** One illustrative multifd packet: 48 data pages, 16 zero pages, 48 × 4 KiB + a 64-byte header. */
const PACKET = Object.freeze({ normalPages: 48, zeroPages: 16, bytes: 48 * 4096 + 64 });
/** Packets the page sends per frame when it counts on its own thread. */
const PACKETS_PER_FRAME = 50_000;

const nextFrame = () => new Promise((resolve) => requestAnimationFrame(resolve));

/**
 * @param {HTMLElement} root - where to draw
 * @param {{ stats: import('migration-stats').MigrationStats, canShare: boolean }} context
 * @returns {() => void} stops the workers and the drawing
 */
export function mount(root, { stats, canShare }) {
  const params = new URLSearchParams(location.search);
  root.innerHTML = `
    <form>
      <label>Workers <input name="workers" type="number" min="1" max="16" value="4"></label>
      <label>Packets per worker <input name="packets" type="number" min="1" step="1" value="10000000"></label>
      <button type="submit">Start</button>
    </form>
    <p class="status" aria-live="polite"></p>
    <table>
      <thead><tr><th>Counter</th><th>Unit</th><th>Value</th><th>Expected</th><th></th></tr></thead>
      <tbody></tbody>
    </table>`;
  const form = root.querySelector('form');
  const status = root.querySelector('.status');
  const tbody = root.querySelector('tbody');
  form.workers.value = params.get('workers') ?? form.workers.value;
  form.packets.value = params.get('packets') ?? form.packets.value;
  if (!canShare) {
    form.workers.value = '0';
    form.workers.disabled = true;
    form.workers.title = 'Workers cannot share memory here: the page sends the packets itself';
  }

  const rows = new Map();
  for (const counter of [...COUNTERS.map((c) => c.name), 'transferred']) {
    const info = COUNTERS.find((c) => c.name === counter);
    const row = tbody.insertRow();
    row.dataset.counter = counter;
    row.innerHTML = `<td><code>${info?.cName ?? 'transferred'}</code></td>
      <td>${info?.unit ?? 'bytes'}</td><td class="num value"></td><td class="num expected"></td><td class="check"></td>`;
    // Set as a property: the help text has quotes, which would end an attribute written in the HTML.
    row.cells[0].title = info?.help ?? 'migration_transferred_bytes()';
    rows.set(counter, row);
  }

  let expected = {};
  let workers = [];
  let running = false;
  let stopped = false;

  function draw() {
    const values = stats.snapshot();
    values.transferred = stats.migrationTransferredBytes();
    for (const [name, row] of rows) {
      row.querySelector('.value').textContent = values[name].toLocaleString('en-US');
      const want = expected[name];
      row.querySelector('.expected').textContent = want === undefined ? '' : want.toLocaleString('en-US');
      row.className = want === undefined || running ? '' : values[name] === want ? 'exact' : 'wrong';
    }
  }

  function setState(state, text) {
    root.dataset.state = state;
    status.textContent = text;
  }

  async function run() {
    const workerCount = canShare ? Number(form.workers.value) : 1;
    const packets = Number(form.packets.value);
    const total = BigInt(workerCount) * BigInt(packets);
    stats.reset();
    expected = {
      normalPages: total * BigInt(PACKET.normalPages),
      zeroPages: total * BigInt(PACKET.zeroPages),
      multifdBytes: total * BigInt(PACKET.bytes),
      transferred: total * BigInt(PACKET.bytes),
    };
    running = true;
    const started = performance.now();
    setState('running', canShare ? `${workerCount} workers sending ${packets.toLocaleString('en-US')} packets each…` : 'Sending packets on the page…');
    const drawing = (async () => {
      while (running && !stopped) {
        draw();
        await nextFrame();
      }
    })();
    try {
      if (canShare) {
        await Promise.all(Array.from({ length: workerCount }, (_, i) => runWorker(i, packets)));
      } else {
        for (let sent = 0; sent < packets && !stopped; ) {
          const end = Math.min(packets, sent + PACKETS_PER_FRAME);
          for (; sent < end; sent++) stats.addMultifdPacket(PACKET.normalPages, PACKET.zeroPages, PACKET.bytes);
          await nextFrame();
        }
      }
      running = false;
      await drawing;
      draw();
      const seconds = (performance.now() - started) / 1000;
      const exact = [...rows.values()].every((row) => row.className !== 'wrong');
      setState(exact ? 'done' : 'wrong', `${exact ? 'Done, every total exact' : 'Done, but a total differs'}: ${total.toLocaleString('en-US')} packets in ${seconds.toFixed(2)} s.`);
    } catch (error) {
      running = false;
      setState('error', `Failed: ${error.message}`);
    }
  }

  function runWorker(index, packets) {
    const backend = index % 2 === 0 ? 'wasm' : 'js'; // both backends on one memory
    const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: `counter-${index}-${backend}` });
    workers.push(worker);
    return new Promise((resolve, reject) => {
      worker.onmessage = ({ data }) => {
        if (data.type === 'done') resolve();
        if (data.type === 'error') reject(new Error(`worker ${index} (${backend}): ${data.message}`));
      };
      worker.onerror = (event) => reject(new Error(`worker ${index} (${backend}) failed to start: ${event.message ?? 'see the console'}`));
      worker.postMessage({ handle: stats.handle, backend, packets, packet: PACKET });
    }).finally(() => worker.terminate());
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!running) void run();
  });
  draw();
  setState('idle', canShare ? 'Ready.' : 'Ready (one thread).');
  if (params.has('start')) void run();

  return () => {
    stopped = true;
    running = false;
    for (const worker of workers) worker.terminate();
    workers = [];
  };
}
