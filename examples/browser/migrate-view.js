// The migrate view: a pre-copy live migration of a simulated guest's RAM, run by the library's
// simulator in Web Workers (a guest dirtying pages, multifd channels sending them under the
// bandwidth limit) while this page shows the shared counters live, then QEMU's `info migrate`.
// With the postcopy switch on, the destination's vCPUs (more Web Workers) run after the switch and
// fault in the pages they touch; the report is then `info migrate -a`, and a bar chart shows the
// latency distribution of those faults (QEMU's postcopy-latency-dist).
//
// URL parameters preset the form (sizes in MiB): ?ram=16&dirty=8&bandwidth=64&backend=js&postcopy&vcpus=2&start
import { COUNTERS, infoMigrate, sizeToStr } from 'migration-stats';
import { DEFAULT_SETTINGS, simulateMigration } from 'migration-stats/simulate';

export const title = 'Migrate';

const MiB = 1024 * 1024;

/** The form's fields: name, label, unit, default (the CLI's, but a 64 MiB guest for a browser tab). */
const FIELDS = [
  ['ram', 'Guest RAM', 'MiB', 64],
  ['zero', 'Zero pages', '%', DEFAULT_SETTINGS.zeroShare * 100],
  ['dirty', 'Dirty rate', 'MiB/s', DEFAULT_SETTINGS.dirtyBytesPerSecond / MiB],
  ['bandwidth', 'Bandwidth (0 = unlimited)', 'MiB/s', Number(DEFAULT_SETTINGS.bandwidthBytesPerSecond) / MiB],
  ['switchover', 'Switch-over bandwidth (0 = measured)', 'MiB/s', 0],
  ['channels', 'Channels', '', DEFAULT_SETTINGS.channels],
  ['downtime', 'Downtime limit', 'ms', DEFAULT_SETTINGS.downtimeLimitMs],
  ['passes', 'Cancel after pass', '', DEFAULT_SETTINGS.maxPasses],
  ['vcpus', 'Destination vCPUs (postcopy)', '', DEFAULT_SETTINGS.vcpus],
];

const SVG = 'http://www.w3.org/2000/svg';

/** QEMU's format_time_str() of 2^k µs, for the chart's labels. */
function bucketLabel(k) {
  let us = 2 ** k;
  let unit = 'us';
  for (const next of ['ms', 'sec']) {
    if (us < 1000) break;
    us = Math.floor(us / 1000);
    unit = next;
  }
  return `${us} ${unit}`;
}

/**
 * Draws the latency distribution as bars, one per bucket (plain SVG).
 * @param {SVGSVGElement} svg
 * @param {bigint[]} buckets - the 24 counts of postcopy-latency-dist
 */
function drawChart(svg, buckets) {
  const width = 480;
  const height = 120;
  const bar = width / buckets.length;
  const most = buckets.reduce((a, b) => (b > a ? b : a), 0n);
  svg.replaceChildren();
  svg.setAttribute('viewBox', `0 0 ${width} ${height + 40}`);
  buckets.forEach((count, k) => {
    const h = most === 0n ? 0 : Math.max(count > 0n ? 1 : 0, Number((count * BigInt(height)) / most));
    const rect = document.createElementNS(SVG, 'rect');
    rect.setAttribute('x', String(k * bar + 1));
    rect.setAttribute('y', String(height - h));
    rect.setAttribute('width', String(bar - 2));
    rect.setAttribute('height', String(h));
    rect.dataset.count = String(count);
    const tip = document.createElementNS(SVG, 'title');
    tip.textContent = `[${bucketLabel(k)}, ${bucketLabel(k + 1)}): ${count} faults`;
    rect.append(tip);
    svg.append(rect);
    if (k % 4 === 0) {
      const label = document.createElementNS(SVG, 'text');
      label.setAttribute('x', String(k * bar + 1));
      label.setAttribute('y', String(height + 14));
      label.textContent = bucketLabel(k);
      svg.append(label);
    }
  });
}

/** QEMU's statuses as the view names them (stop-and-copy keeps QEMU's `active`: see `stopAndCopy`). */
const STAGE = {
  setup: 'setup',
  active: 'active',
  'pre-switchover': 'pre-switchover',
  device: 'device',
  'postcopy-active': 'postcopy',
  completed: 'completed',
  cancelling: 'cancelling',
  cancelled: 'cancelled',
  failed: 'failed',
};

/**
 * @param {HTMLElement} root - where to draw
 * @param {{ canShare: boolean }} context
 * @returns {() => void} stops drawing (a running migration finishes on its own)
 */
export function mount(root, { canShare }) {
  const params = new URLSearchParams(location.search);
  root.innerHTML = `
    <form>
      ${FIELDS.map(([name, label, unit]) => `<label>${label}${unit ? ` (${unit})` : ''} <input name="${name}" type="number" min="0" step="any"></label>`).join('')}
      <label>Backend <select name="backend"><option>wasm</option><option>js</option></select></label>
      <label><input name="postcopy" type="checkbox"> Postcopy (switch after one pass that does not converge)</label>
      <button type="submit">Migrate</button>
    </form>
    <p class="status" aria-live="polite"></p>
    <progress max="1" value="0"></progress>
    <table class="live">
      <thead><tr><th>Pass</th><th>Stage</th><th>Time</th><th>Transferred</th><th>Remaining</th><th>Throughput</th><th>Dirty rate</th></tr></thead>
      <tbody><tr><td class="pass"></td><td class="stage"></td><td class="num time"></td><td class="num transferred"></td><td class="num remaining"></td><td class="num mbps"></td><td class="num dirty"></td></tr></tbody>
    </table>
    <table class="counters">
      <thead><tr><th>Counter</th><th>Unit</th><th>Value</th></tr></thead>
      <tbody></tbody>
    </table>
    <figure class="latency" hidden>
      <figcaption>Postcopy fault latency (QEMU's postcopy-latency-dist: faults per log2 bucket of µs)</figcaption>
      <svg class="chart" role="img" aria-label="latency distribution"></svg>
    </figure>
    <pre class="report"></pre>`;
  const form = root.querySelector('form');
  const status = root.querySelector('.status');
  const bar = root.querySelector('progress');
  const live = root.querySelector('.live tbody tr');
  const report = root.querySelector('.report');
  for (const [name, , , fallback] of FIELDS) form[name].value = params.get(name) ?? String(fallback);
  form.backend.value = params.get('backend') === 'js' ? 'js' : 'wasm';
  form.postcopy.checked = params.has('postcopy');
  const figure = root.querySelector('.latency');
  const chart = root.querySelector('.chart');

  const rows = new Map();
  for (const info of COUNTERS) {
    const row = root.querySelector('.counters tbody').insertRow();
    row.innerHTML = `<td><code>${info.cName}</code></td><td>${info.unit}</td><td class="num"></td>`;
    row.cells[0].title = info.help; // a property: the help text has quotes
    rows.set(info.name, row.cells[2]);
  }

  let latest;
  let running = false;
  let unmounted = false;

  function draw() {
    if (!latest) return;
    const p = latest;
    const cell = (name, text) => (live.querySelector(`.${name}`).textContent = text);
    // The pass is QEMU's dirty-sync-count; stop-and-copy is the last one.
    cell('pass', p.stopAndCopy ? `${p.pass} (final)` : String(p.pass));
    cell('stage', p.stopAndCopy && p.status === 'active' ? 'stop-and-copy' : STAGE[p.status]);
    cell('time', `${(p.elapsedMs / 1000).toFixed(1)} s`);
    cell('transferred', sizeToStr(p.transferredBytes));
    cell('remaining', sizeToStr(p.remainingBytes));
    cell('mbps', `${p.mbps.toFixed(1)} Mbps`);
    cell('dirty', `${p.dirtyPagesRate.toLocaleString('en-US')} pages/s`);
    bar.value = 1 - p.remainingBytes / p.ramBytes;
    const values = p.stats.snapshot();
    for (const [name, td] of rows) td.textContent = values[name].toLocaleString('en-US');
  }

  function setState(state, text) {
    root.dataset.state = state;
    status.textContent = text;
  }

  async function run() {
    const number = (name) => Number(form[name].value);
    const settings = {
      ramBytes: number('ram') * MiB,
      zeroShare: number('zero') / 100,
      dirtyBytesPerSecond: number('dirty') * MiB,
      bandwidthBytesPerSecond: number('bandwidth') * MiB,
      availSwitchoverBandwidth: number('switchover') * MiB,
      channels: number('channels'),
      downtimeLimitMs: number('downtime'),
      maxPasses: number('passes'),
      backend: form.backend.value,
      postcopy: form.postcopy.checked,
      vcpus: number('vcpus'),
    };
    running = true;
    report.textContent = '';
    figure.hidden = true;
    setState('running', `Migrating a ${sizeToStr(settings.ramBytes)} guest over ${settings.channels} channels…`);
    const drawing = (async () => {
      while (running && !unmounted) {
        draw();
        await new Promise((resolve) => requestAnimationFrame(resolve));
      }
    })();
    try {
      const result = await simulateMigration({ ...settings, onProgress: (p) => (latest = p) });
      running = false;
      await drawing;
      draw();
      const postcopied = result.postcopy !== undefined && result.status === 'completed';
      // A cancelled migration's figures are those of the moment of the cancel (QEMU's final reply has the status alone).
      report.textContent = `${infoMigrate(result.cancelledInfo ?? result.info, { all: postcopied })}\n${result.message}\n`;
      if (postcopied) {
        drawChart(chart, result.info['postcopy-latency-dist']);
        figure.hidden = false;
      }
      const ok = result.status === 'completed' && result.verified;
      setState(ok ? 'done' : result.status, ok ? 'Done: the destination equals the source byte for byte.' : result.message);
    } catch (error) {
      running = false;
      setState('error', `Failed: ${error.message}`);
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!running) void run();
  });
  if (!canShare) {
    form.querySelector('button').disabled = true;
    setState(
      'unavailable',
      self.crossOriginIsolated
        ? 'The simulator needs workers that share memory, and this browser cannot share memory with workers even on this cross-origin isolated page (see above).'
        : 'The simulator needs workers that share memory: serve this page cross-origin isolated (server.mjs does).',
    );
  } else {
    setState('idle', 'Ready.');
    if (params.has('start')) void run();
  }

  return () => {
    unmounted = true;
  };
}
