// The browser suite (test/browser-suite.ts) in headless Chromium: CHROMIUM_PATH, else Debian's
// chromium, else the Chromium of the @sparticuz/chromium npm package, so it runs on every machine.
import { browserSuite } from './browser-suite.js';

browserSuite('chromium');
