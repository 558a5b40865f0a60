// The bench's suites, in the order `bench/run.mjs` runs them; adding a suite is one module here.
//
// A suite is the default export of one module, an object with:
//   name         what `--only` selects it by, and its key in the JSON (its `data` goes there)
//   usesNative   whether it runs the native C reference (`context.native`), which is then built
//   optIn        (optional) true: left out of a run unless `--only` names it (a suite that takes
//                much memory or time)
//   settings     `{ quick, full }`: its own settings, merged into the run's `config`
//   describe     `(config) => text`: what it runs, for the report's second line
//   run          `async (config, context) => result`, where `context` is `{ log, native, consume }`
//                (`consume(x)` keeps a result of the measured work alive) and `result` is
//                `{ title?, table?: { headers, rows, textColumns? }, notes?, ratios, data }`:
//                the report prints the title, the table and the notes (lines; '' is a blank
//                line), and the JSON keeps the ratios (merged with the other suites') and data.
// A suite throws an Error whose message starts with "bench stopped:" when a total is not exact.
import aggregate from './aggregate.mjs';
import attach from './attach.mjs';
import churn from './churn.mjs';
import expIndex from './exp-index.mjs';
import exposition from './exposition.mjs';
import histogram from './histogram.mjs';
import release from './release.mjs';
import simulate from './simulate.mjs';
import single from './single.mjs';
import threads from './threads.mjs';

/** Every suite, in the order they run (those marked `optIn` only when `--only` names them). */
export const SUITES = [single, threads, attach, histogram, aggregate, release, exposition, churn, simulate, expIndex];
