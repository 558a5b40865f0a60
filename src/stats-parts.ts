/**
 * The parts a stats object is built from: the memory, its Wasm module and core, the definition and
 * the layout; made new by `create` (which writes the header) or read from a handle by `attach`
 * (which checks it), on the backend the options name.
 * @packageDocumentation
 */
import { LAYOUT_VERSION } from './backend/abi.js';
import type { BackendName, Core } from './backend/core.js';
import { writeExpTable } from './backend/exp-index.js';
import { definitionBytes, readHeader, writeHeader } from './backend/header.js';
import { JsCore } from './backend/js-core.js';
import { planLayout, type Layout } from './backend/layout.js';
import { compileCore, LayoutVersionError, wasmCore } from './backend/wasm-core.js';
import { decodeDefinition, type Definition } from './definition.js';
import { explainCompileError, handleError, optionError, rangeFault } from './errors.js';
import { checkHandle } from './handle.js';
import { readOptions, type OptionSpec } from './options.js';

/** Options of `create` and `attach`. */
export interface StatsOptions {
  /** `'wasm'` (default): the AssemblyScript core; `'js'`: `Atomics` on a `BigUint64Array`. */
  backend?: BackendName;
  /**
   * Claim a lane for this instance's adds (default `true`). A thread that only reads may pass
   * `false` to leave the lanes to writers.
   */
  lane?: boolean;
}

const OPTIONS: OptionSpec<StatsOptions> = { names: { backend: true, lane: true }, example: "{ backend: 'wasm' | 'js' }" };
const BACKENDS: readonly BackendName[] = ['wasm', 'js'];

// Written `const f = (function (…) {…})`: V8 compiles a parenthesized function when the module
// loads, not at its first call, which in a new worker is after the handle arrived (design.md).
/** Checks `create`/`attach` options. @internal */
export const checkStatsOptions = (function (options: unknown): Required<StatsOptions> {
  const { backend = 'wasm', lane = true } = readOptions(options, OPTIONS);
  if (!BACKENDS.includes(backend)) throw optionError('options.backend', backend, "'wasm' or 'js'");
  if (typeof lane !== 'boolean') throw optionError('options.lane', lane, 'true or false');
  return { backend, lane };
});

/** What a stats object is built from. @internal */
export interface StatsParts {
  readonly core: Core;
  readonly memory: WebAssembly.Memory;
  readonly module: WebAssembly.Module;
  readonly definition: Definition;
  readonly layout: Layout;
  /** Whether the memory came from a handle (attach), rather than made here (create). */
  readonly fromHandle: boolean;
}

/** Every JS core of this thread, by memory (one per memory, so call sites stay monomorphic). */
const jsCores = new WeakMap<WebAssembly.Memory, JsCore>();

const makeCore = (function (backend: BackendName, module: WebAssembly.Module, memory: WebAssembly.Memory): Core {
  if (backend === 'js') {
    let core = jsCores.get(memory);
    if (!core) jsCores.set(memory, (core = new JsCore(memory.buffer)));
    return core;
  }
  try {
    return wasmCore(module, memory);
  } catch (error) {
    if (error instanceof WebAssembly.LinkError) throw handleError(`.memory does not fit the Wasm core (${error.message})`);
    if (error instanceof LayoutVersionError) {
      throw handleError(`.module is built for layout version ${String(error.version)}; this version of migration-stats reads layout version ${LAYOUT_VERSION}`);
    }
    // WebKit's CSP lets the module compile and refuses the instance.
    throw explainCompileError(error);
  }
});

/**
 * Makes a new memory for `definition` with `lanes` lanes, writes its header, and returns the parts.
 * @internal
 */
export async function createParts(definition: Definition, lanes: number, backend: BackendName): Promise<StatsParts> {
  const json = definitionBytes(definition);
  const layout = planLayout(definition, lanes, json.length);
  if (typeof layout === 'string') throw rangeFault(`the definition does not fit: ${layout}`);
  const memory = new WebAssembly.Memory({ initial: layout.pages, maximum: layout.pages, shared: true });
  let module: WebAssembly.Module;
  try {
    // Chromium and Firefox reject the compile under a CSP without 'wasm-unsafe-eval' (caught here
    // also if thrown at once); WebKit refuses the instance instead (makeCore).
    module = await compileCore();
  } catch (error) {
    throw explainCompileError(error);
  }
  const core = makeCore(backend, module, memory);
  // Before the header's magic: no thread can attach a memory whose table is not written yet.
  if (layout.tableBytes > 0) writeExpTable(memory.buffer, layout.tableOffset);
  writeHeader(memory.buffer, layout, json);
  return { core, memory, module, definition, layout, fromHandle: false };
}

/**
 * Checks a handle and its memory's header and returns the parts.
 * @param maker - what makes such memories, for the message about a blank one
 * @internal
 */
export const attachParts = (function (maker: string, handle: unknown, backend: BackendName): StatsParts {
  const { memory, module } = checkHandle(handle);
  const { definition, layout } = readHeader(memory.buffer, maker, decodeDefinition);
  const core = makeCore(backend, module, memory);
  return { core, memory, module, definition, layout, fromHandle: true };
});
