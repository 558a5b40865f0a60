// The page: makes the shared counters once, shows whether workers can share them, and mounts one
// view at a time. A view is a module exporting `title` and `mount(root, context)`; mount may
// return a function that unmounts it. To add a view, write its module and list it in VIEWS.
import { MigrationStats } from 'migration-stats';
import * as counters from './counters-view.js';
import * as migrate from './migrate-view.js';

/** The views, by the name used in the URL (`#counters`). The first is the default. */
const VIEWS = { counters, migrate };

const stats = await MigrationStats.create();
const canShare = MigrationStats.canShareMemory();
/** What every view receives. */
const context = { stats, canShare };

const isolation = document.getElementById('isolation');
isolation.dataset.isolated = String(canShare);
if (canShare) {
  isolation.textContent = self.crossOriginIsolated
    ? 'Cross-origin isolated: Web Workers share these counters.'
    : 'Not cross-origin isolated, but this browser lets Web Workers share these counters anyway.';
} else {
  try {
    void stats.handle; // what a call to postMessage(stats.handle) would meet
  } catch (error) {
    isolation.textContent = `Workers cannot share memory here, so this page counts on its own thread.\n${error.message}`;
  }
}

const nav = document.getElementById('views');
const root = document.getElementById('view');
let unmount;

function show() {
  const name = location.hash.slice(1) in VIEWS ? location.hash.slice(1) : Object.keys(VIEWS)[0];
  unmount?.();
  root.replaceChildren();
  root.dataset.view = name;
  for (const link of nav.querySelectorAll('a')) {
    if (link.hash === `#${name}`) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  unmount = VIEWS[name].mount(root, context);
}

for (const [name, view] of Object.entries(VIEWS)) {
  const link = document.createElement('a');
  link.href = `#${name}`;
  link.textContent = view.title;
  nav.append(link);
}
addEventListener('hashchange', show);
show();
