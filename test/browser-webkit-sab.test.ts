// The browser suite (test/browser-suite.ts) in WebKitGTK with JSC_useSharedArrayBuffer=1 in the
// browser's environment: SharedArrayBuffer is on, workers share the counters with exact totals
// (then even on a page without isolation). Skipped and enabled as test/browser-webkit.test.ts.
import { browserSuite } from './browser-suite.js';

browserSuite('webkit-sab');
