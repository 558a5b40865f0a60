/**
 * The browser engines the browser suite runs in, what each needs, and how to launch it.
 * Chromium always runs (npm provides one when Debian's is missing); Firefox and WebKitGTK need
 * Debian packages, and their tests are skipped without them (see test/requirements.ts).
 */
import { browserGate, type Gate, type PartId } from '../requirements.js';
import { launchChromium } from './chromium.js';
import type { Engine, EngineId } from './engine.js';
import { launchFirefox } from './firefox.js';
import { launchWebKit } from './webkit.js';

export type { Engine, EngineId, EnginePage } from './engine.js';
export { waitInPage } from './engine.js';

/** What the tests call each engine. */
export const ENGINE_NAMES: Record<EngineId, string> = {
  chromium: 'Chromium',
  'chromium-npm': 'the Chromium of @sparticuz/chromium (npm)',
  firefox: 'Firefox ESR',
  webkit: 'WebKitGTK',
  'webkit-sab': 'WebKitGTK with JSC_useSharedArrayBuffer=1',
};

const PART: Record<EngineId, PartId | undefined> = { chromium: undefined, 'chromium-npm': undefined, firefox: 'firefox', webkit: 'webkit', 'webkit-sab': 'webkit' };

/** Whether an engine's tests can run here, and what they do if not. */
export function engineGate(id: EngineId): Gate {
  return browserGate(PART[id]);
}

/** Launches an engine. */
export function launchEngine(id: EngineId): Promise<Engine> {
  switch (id) {
    case 'chromium':
      return launchChromium({ npm: false });
    case 'chromium-npm':
      return launchChromium({ npm: true });
    case 'firefox':
      return launchFirefox();
    case 'webkit':
      return launchWebKit({ sharedArrayBuffer: false });
    case 'webkit-sab':
      return launchWebKit({ sharedArrayBuffer: true });
  }
}
