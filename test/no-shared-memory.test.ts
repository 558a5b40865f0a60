// An engine that isolates the page but has no SharedArrayBuffer (WebKitGTK 2.50 without
// JSC_useSharedArrayBuffer=1): the browser would refuse to post shared memory with a bare
// DataCloneError, so canShareMemory() says no and stats.handle throws the library's own error,
// which says that headers cannot help. These tests make globalThis look like such a page (isolation
// true, no SharedArrayBuffer global), and restore it afterwards; test/browser.test.ts checks the
// real engine.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MigrationStats } from '../dist/index.js';
import { BACKENDS, expectHandlePostRefused } from './helpers.js';


function setIsolation(value: boolean | undefined): void {
  if (value === undefined) delete (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated;
  else (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated = value;
}

/** A page of an engine with SharedArrayBuffer turned off: isolated unless said otherwise. */
function beAnEngineWithoutSharedArrayBuffer(isolation: boolean | 'unknown' = true): void {
  setIsolation(isolation === 'unknown' ? undefined : isolation);
  vi.stubGlobal('SharedArrayBuffer', undefined);
}

function handleError(stats: MigrationStats): Error {
  try {
    void stats.handle;
  } catch (caught) {
    return caught as Error;
  }
  throw new Error('stats.handle did not throw');
}

afterEach(() => {
  setIsolation(undefined);
  vi.unstubAllGlobals();
});

describe('on an isolated page of an engine without SharedArrayBuffer', () => {
  it('cannot share memory, although the page is isolated', () => {
    beAnEngineWithoutSharedArrayBuffer();
    expect(globalThis.crossOriginIsolated).toBe(true);
    expect(MigrationStats.canShareMemory()).toBe(false);
  });

  it.each(BACKENDS)('refuses stats.handle with an error saying this engine cannot share memory, and why (%s)', async (backend) => {
    beAnEngineWithoutSharedArrayBuffer();
    const stats = await MigrationStats.create({ backend });
    const error = handleError(stats);
    expect(error.name).toBe('Error');
    expect(error.message).toMatch(/^MigrationStats\.handle: this JavaScript engine cannot share memory with workers: this page is cross-origin isolated/);
    expect(error.message).toContain('it has no SharedArrayBuffer');
    expect(error.message).toContain('DataCloneError');
    expect(error.message).toContain('JSC_useSharedArrayBuffer=1');
    expect(error.message).toContain('MigrationStats.canShareMemory()');
    // The page already sends the headers: the error does not send the user after them.
    expect(error.message).not.toContain('Cross-Origin-Embedder-Policy');
  });

  it.each(BACKENDS)('fails a postMessage of the handle with that error, before the message is sent (%s)', async (backend) => {
    beAnEngineWithoutSharedArrayBuffer();
    const stats = await MigrationStats.create({ backend });
    await expectHandlePostRefused(stats, /^MigrationStats\.handle: this JavaScript engine cannot share memory/);
  });

  it.each(BACKENDS)('still counts on one thread (%s)', async (backend) => {
    beAnEngineWithoutSharedArrayBuffer();
    const stats = await MigrationStats.create({ backend });
    for (let i = 0; i < 1000; i++) stats.zeroPages.add(1);
    stats.addMultifdPacket(3, 4, 5);
    expect(stats.snapshot()).toMatchObject({ zeroPages: 1004n, normalPages: 3n, multifdBytes: 5n });
  });

  it('shares again once the engine has SharedArrayBuffer (JSC_useSharedArrayBuffer=1)', async () => {
    beAnEngineWithoutSharedArrayBuffer();
    const stats = await MigrationStats.create();
    expect(() => stats.handle).toThrow('cannot share memory');
    vi.unstubAllGlobals();
    expect(MigrationStats.canShareMemory()).toBe(true);
    expect(stats.handle.kind).toBe('migration-stats');
  });
});

describe('in an engine without SharedArrayBuffer that knows nothing of isolation', () => {
  it('cannot share memory, and says so without claiming the page is isolated', async () => {
    beAnEngineWithoutSharedArrayBuffer('unknown');
    expect('crossOriginIsolated' in globalThis).toBe(false);
    expect(MigrationStats.canShareMemory()).toBe(false);
    const error = handleError(await MigrationStats.create());
    expect(error.message).toMatch(/^MigrationStats\.handle: this JavaScript engine cannot share memory with workers: it has no SharedArrayBuffer/);
  });
});

describe('on a page that is not isolated, in an engine without SharedArrayBuffer there', () => {
  it('names the two headers first (without them no engine shares)', async () => {
    beAnEngineWithoutSharedArrayBuffer(false);
    const error = handleError(await MigrationStats.create());
    expect(error.message).toMatch(/^MigrationStats\.handle: this page is not cross-origin isolated/);
    expect(error.message).toContain('Cross-Origin-Embedder-Policy: require-corp');
  });
});
