// The browser suite (test/browser-suite.ts) in WebKitGTK's MiniBrowser on a private Xvfb, as Debian
// ships it: a cross-origin isolated page but no SharedArrayBuffer, so the library must refuse to
// share with its own error. Skipped where webkit2gtk-driver or xvfb is missing, with a note saying
// how to install them; a failure instead under MIGRATION_STATS_REQUIRE_ALL=1.
import { browserSuite } from './browser-suite.js';

browserSuite('webkit');
