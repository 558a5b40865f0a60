// Sharing is refused up front where a browser would refuse it (a page without cross-origin
// isolation), and allowed everywhere else, Node included. Node has no `crossOriginIsolated` and
// always has `SharedArrayBuffer`; these tests make globalThis look like such a page (isolation
// false, no SharedArrayBuffer global), and restore it afterwards.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MigrationStats } from '../dist/index.js';
import { BACKENDS, expectHandlePostRefused } from './helpers.js';

const HEADERS = ['Cross-Origin-Opener-Policy: same-origin', 'Cross-Origin-Embedder-Policy: require-corp'] as const;

function setIsolation(value: boolean | undefined): void {
  if (value === undefined) delete (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated;
  else (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated = value;
}

/** A page served without COOP and COEP: not isolated, and the browser hides SharedArrayBuffer. */
function beAPageWithoutIsolation(): void {
  setIsolation(false);
  vi.stubGlobal('SharedArrayBuffer', undefined);
}

afterEach(() => {
  setIsolation(undefined);
  vi.unstubAllGlobals();
});

describe('in Node', () => {
  it('can share memory', () => {
    expect('crossOriginIsolated' in globalThis).toBe(false);
    expect(MigrationStats.canShareMemory()).toBe(true);
  });

  it.each(BACKENDS)('gives a handle that a structured clone carries to another instance (%s)', async (backend) => {
    const stats = await MigrationStats.create({ backend });
    const other = await MigrationStats.attach(structuredClone(stats.handle), { backend });
    other.zeroPages.add(7);
    expect(stats.zeroPages.get()).toBe(7n);
  });
});

describe('on a page served without COOP and COEP', () => {
  it('cannot share memory', () => {
    beAPageWithoutIsolation();
    expect(MigrationStats.canShareMemory()).toBe(false);
  });

  it('can share memory where the browser still exposes SharedArrayBuffer (allowed by policy)', async () => {
    setIsolation(false);
    expect(typeof SharedArrayBuffer).toBe('function');
    expect(MigrationStats.canShareMemory()).toBe(true);
    const stats = await MigrationStats.create();
    expect(stats.handle.kind).toBe('migration-stats');
  });

  it.each(BACKENDS)('refuses stats.handle with an error that names both headers (%s)', async (backend) => {
    beAPageWithoutIsolation();
    const stats = await MigrationStats.create({ backend });
    let error: unknown;
    try {
      void stats.handle;
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(Error);
    const { message } = error as Error;
    expect(message).toMatch(/^MigrationStats\.handle: this page is not cross-origin isolated/);
    for (const header of HEADERS) expect(message).toContain(header);
    expect(message).toContain('MigrationStats.canShareMemory()');
  });

  it.each(BACKENDS)('fails a postMessage of the handle with that error, before the message is sent (%s)', async (backend) => {
    beAPageWithoutIsolation();
    const stats = await MigrationStats.create({ backend });
    await expectHandlePostRefused(stats, HEADERS[1]);
  });

  it.each(BACKENDS)('still counts and limits the rate on one thread (%s)', async (backend) => {
    beAPageWithoutIsolation();
    const stats = await MigrationStats.create({ backend });
    for (let i = 0; i < 1000; i++) stats.zeroPages.add(1);
    stats.addMultifdPacket(3, 4, 5);
    expect(stats.zeroPages.get()).toBe(1004n);
    expect(stats.multifdBytes.get()).toBe(5n);
    stats.migrationRateSet(1073741824);
    stats.migrationRateReset();
    stats.qemuFileTransferred.add(107374182);
    expect(stats.migrationRateExceeded()).toBe(false);
    stats.qemuFileTransferred.add(1);
    expect(stats.migrationRateExceeded()).toBe(true);
  });

  it('gives the handle again once isolation is true', async () => {
    beAPageWithoutIsolation();
    const stats = await MigrationStats.create();
    expect(() => stats.handle).toThrow(HEADERS[0]);
    setIsolation(true);
    vi.unstubAllGlobals();
    expect(MigrationStats.canShareMemory()).toBe(true);
    expect(stats.handle.kind).toBe('migration-stats');
  });
});

describe('under a Content-Security-Policy without wasm-unsafe-eval', () => {
  it("says to add 'wasm-unsafe-eval' when the browser refuses to compile", async () => {
    vi.resetModules(); // a fresh loader, which has not compiled the core yet
    const { MigrationStats: Fresh } = await import('../dist/index.js');
    const refusal = new WebAssembly.CompileError(
      "WebAssembly.compile(): Refused to compile or instantiate WebAssembly module because 'unsafe-eval' is not an allowed source of script in the following Content Security Policy directive: \"script-src 'self'\"",
    );
    const compile = vi.spyOn(WebAssembly, 'compile').mockRejectedValueOnce(refusal);
    try {
      const error = await Fresh.create().then(
        () => undefined,
        (caught: unknown) => caught as Error,
      );
      expect(error?.message).toMatch(/^MigrationStats\.create: this page's Content-Security-Policy forbids compiling WebAssembly/);
      expect(error?.message).toContain("'wasm-unsafe-eval'");
      expect(error?.message).toContain(refusal.message);
      expect(error?.cause).toBe(refusal);
    } finally {
      compile.mockRestore();
    }
  });

  it('says so too when compile throws the refusal at once instead of rejecting', async () => {
    vi.resetModules();
    const { MigrationStats: Fresh } = await import('../dist/index.js');
    const refusal = new WebAssembly.CompileError(
      "Refused to create a WebAssembly object because 'unsafe-eval' or 'wasm-unsafe-eval' is not an allowed source of script in the following Content Security Policy directive: \"script-src 'self'\".",
    );
    const compile = vi.spyOn(WebAssembly, 'compile').mockImplementationOnce(() => {
      throw refusal;
    });
    try {
      const error = await Fresh.create().then(
        () => undefined,
        (caught: unknown) => caught as Error,
      );
      expect(error?.message).toMatch(/^MigrationStats\.create: this page's Content-Security-Policy forbids compiling WebAssembly/);
      expect(error?.cause).toBe(refusal);
    } finally {
      compile.mockRestore();
    }
  });

  it("says so when the CSP lets the module compile and refuses the instance, as WebKit does", async () => {
    const refusal = new WebAssembly.CompileError(
      "Refused to create a WebAssembly object because 'unsafe-eval' or 'wasm-unsafe-eval' is not an allowed source of script in the following Content Security Policy directive: \"script-src 'self'\".",
    );
    const instance = vi.spyOn(WebAssembly, 'Instance').mockImplementation(function refuse(): never {
      throw refusal;
    });
    try {
      const error = await MigrationStats.create().then(
        () => undefined,
        (caught: unknown) => caught as Error,
      );
      expect(error?.message).toMatch(/^MigrationStats\.create: this page's Content-Security-Policy forbids compiling WebAssembly/);
      expect(error?.cause).toBe(refusal);
      // The 'js' backend instantiates nothing: it works under such a policy.
      expect((await MigrationStats.create({ backend: 'js' })).backend).toBe('js');
    } finally {
      instance.mockRestore();
    }
  });

  it('passes on other compile errors unchanged', async () => {
    vi.resetModules();
    const { MigrationStats: Fresh } = await import('../dist/index.js');
    const other = new WebAssembly.CompileError('WebAssembly.compile(): shared memory is not supported');
    const compile = vi.spyOn(WebAssembly, 'compile').mockRejectedValueOnce(other);
    try {
      await expect(Fresh.create()).rejects.toBe(other);
    } finally {
      compile.mockRestore();
    }
  });
});
