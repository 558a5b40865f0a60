// The browser suite (test/browser-suite.ts) in the Chromium of the @sparticuz/chromium npm package,
// even where Debian's chromium is installed: the Chromium a fresh clone with nothing from apt gets
// (test/browser.test.ts then runs in it too). Never skipped: npm provides it.
import { browserSuite } from './browser-suite.js';

browserSuite('chromium-npm');
