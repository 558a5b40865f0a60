/**
 * WebKitGTK (Debian's webkit2gtk-driver and xvfb): `WebKitWebDriver` started on a private Xvfb
 * display, driven over WebDriver classic by selenium-webdriver, with `MiniBrowser --automation` as
 * the browser. WebKitGTK has no headless mode, and with no display the new-session request hangs
 * without a word, so each step here is bounded. With `sharedArrayBuffer`, the driver (and so the
 * browser) gets JavaScriptCore's `JSC_useSharedArrayBuffer=1`, without which WebKitGTK 2.50 has no
 * SharedArrayBuffer even on a cross-origin isolated page.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Builder, type WebDriver } from 'selenium-webdriver';
import { miniBrowser, which } from '../requirements.js';
import { freePort } from '../tools.js';
import { SAFETY_NET_MS } from '../wait.js';
import type { Engine, EnginePage } from './engine.js';

/**
 * How long a step that can hang (a display, a driver, a session) may take before it counts as hung:
 * the suite's safety net (test/wait.ts), far above a start on a busy machine.
 */
const STEP_LIMIT_MS = SAFETY_NET_MS;

function withLimit<T>(what: string, promise: Promise<T>, output: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${STEP_LIMIT_MS / 1000} s (it hangs, e.g. without a display). Output so far: ${output()}`)), STEP_LIMIT_MS);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

/** Keeps a child's output for error messages. */
function record(child: ChildProcess): () => string {
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return () => output.trim().slice(-2000) || '(nothing)';
}

/** Stops a process this file started, and its process group when it leads one: SIGTERM, then SIGKILL. */
async function stopProcess(child: ChildProcess, group: boolean): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = (name: NodeJS.Signals) => {
    try {
      if (group) process.kill(-child.pid!, name);
      else child.kill(name);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  const killer = setTimeout(() => signal('SIGKILL'), 10_000);
  await exited;
  clearTimeout(killer);
  if (group) signal('SIGKILL'); // whatever of the group outlived its leader (browser processes)
}

/** Starts Xvfb on a display it picks itself (`-displayfd`); resolves once it accepts clients. */
async function startXvfb(): Promise<{ child: ChildProcess; display: string }> {
  const child = spawn(which('Xvfb')!, ['-displayfd', '3', '-nolisten', 'tcp', '-screen', '0', '1280x1024x24'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  const output = record(child);
  const display = new Promise<string>((resolve, reject) => {
    let text = '';
    child.stdio[3]!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) resolve(`:${text.trim()}`);
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`Xvfb exited (${code}) before it was ready: ${output()}`)));
  });
  try {
    return { child, display: await withLimit('Xvfb', display, output) };
  } catch (error) {
    await stopProcess(child, false);
    throw error;
  }
}

/** Starts WebKitWebDriver on a free port and waits until it answers /status. */
async function startDriver(display: string, extraEnv: Record<string, string>): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const port = await freePort();
  // Its own process group, so that stopping it stops the browser processes it started.
  // JavaScriptCore reads JSC_* from the environment: only what this engine variant asks for.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('JSC_')));
  const child = spawn(which('WebKitWebDriver')!, [`--port=${port}`], {
    env: { ...env, DISPLAY: display, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const output = record(child);
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`WebKitWebDriver exited (${code}): ${output()}`))));
  exited.catch(() => {});
  // Asked until it answers, it exits, or withLimit gives up (then `gaveUp` ends the questions).
  let gaveUp = false;
  const ready = (async () => {
    while (!gaveUp) {
      const ok = await fetch(`${url}/status`).then(
        (response) => response.ok,
        () => false,
      );
      if (ok) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  try {
    await withLimit('WebKitWebDriver', Promise.race([ready, exited]), output);
    return { child, url, output };
  } catch (error) {
    gaveUp = true;
    await stopProcess(child, true);
    throw error;
  }
}

/** Launches WebKitGTK's MiniBrowser, with or without SharedArrayBuffer turned on. */
export async function launchWebKit(options: { sharedArrayBuffer: boolean }): Promise<Engine> {
  const binary = miniBrowser()!;
  const xvfb = await startXvfb();
  let driverProcess: Awaited<ReturnType<typeof startDriver>> | undefined;
  let driver: WebDriver | undefined;
  const stopAll = async () => {
    if (driverProcess) await stopProcess(driverProcess.child, true);
    await stopProcess(xvfb.child, false);
  };
  try {
    driverProcess = await startDriver(xvfb.display, options.sharedArrayBuffer ? { JSC_useSharedArrayBuffer: '1' } : {});
    const capabilities = { browserName: 'MiniBrowser', 'webkitgtk:browserOptions': { binary, args: ['--automation'] } };
    driver = await withLimit('a WebKitWebDriver session', Promise.resolve(new Builder().usingServer(driverProcess.url).withCapabilities(capabilities).build()), driverProcess.output);
    await driver.manage().setTimeouts({ script: SAFETY_NET_MS, pageLoad: SAFETY_NET_MS });
  } catch (error) {
    await stopAll();
    throw error;
  }
  const session = driver;
  const version = String((await session.getCapabilities()).get('browserVersion') ?? '?');
  return {
    id: options.sharedArrayBuffer ? 'webkit-sab' : 'webkit',
    description: `WebKitGTK ${version} MiniBrowser (${binary})${options.sharedArrayBuffer ? ' with JSC_useSharedArrayBuffer=1' : ''}`,
    async open(url) {
      await session.get(url);
      const page: EnginePage = {
        async evaluate(fn, arg) {
          // WebDriver classic: an async script gets its arguments and, last, the callback to answer with.
          const script = `const done = arguments[arguments.length - 1];
            Promise.resolve(arguments[0]).then((arg) => (${fn.toString()})(arg)).then(
              (value) => done({ ok: value === undefined ? null : value }),
              (error) => done({ error: String((error && error.message) || error) }));`;
          const answer = (await session.executeAsyncScript(script, arg === undefined ? null : arg)) as { ok?: unknown; error?: string };
          if (answer.error !== undefined) throw new Error(answer.error);
          return answer.ok as never;
        },
        problems: () => [], // WebDriver classic reports no page events: pages report their own (pageErrors)
        async close() {
          await session.get('about:blank'); // ends the page and its workers
        },
      };
      return page;
    },
    async close() {
      await withLimit('closing the WebKitWebDriver session', session.quit(), driverProcess!.output).catch(() => {});
      await stopAll();
    },
  };
}
