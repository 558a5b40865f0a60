// The browser suite (test/browser-suite.ts) in headless Firefox ESR (Debian's firefox-esr, driven
// by puppeteer-core over WebDriver BiDi). Skipped where Firefox is missing, with a note saying how
// to install it; a failure instead under MIGRATION_STATS_REQUIRE_ALL=1.
import { browserSuite } from './browser-suite.js';

browserSuite('firefox');
