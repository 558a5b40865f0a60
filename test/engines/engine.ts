/**
 * What the browser tests need of a browser engine, whatever drives it (playwright-core for
 * Chromium, puppeteer-core over WebDriver BiDi for Firefox, WebDriver classic for WebKitGTK):
 * launch, open a URL, evaluate a function in the page, close. One adapter per engine implements it.
 */
import { SAFETY_NET_MS } from '../wait.js';

/**
 * The engines the browser suite runs in. `chromium` is the first Chromium found (see
 * chromium.ts), `chromium-npm` always the one from npm; `webkit-sab` is WebKitGTK with
 * JSC_useSharedArrayBuffer=1.
 */
export type EngineId = 'chromium' | 'chromium-npm' | 'firefox' | 'webkit' | 'webkit-sab';

/** One open page (a tab, or the session's window under WebDriver classic). */
export interface EnginePage {
  /**
   * Runs `fn(arg)` in the page and resolves to its (awaited) result. `fn` is sent as source text,
   * so it may use only its argument and the page's globals; argument and result are JSON.
   * @throws Error with the page's message when `fn` throws or rejects
   */
  evaluate<A, R>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R>;
  /** What went wrong on the page so far that the driver saw (errors, failed requests), if it reports such things. */
  problems(): string[];
  close(): Promise<void>;
}

/** A running browser. */
export interface Engine {
  readonly id: EngineId;
  /** For messages: the product, its version and where it came from. */
  readonly description: string;
  open(url: string): Promise<EnginePage>;
  /** Stops the browser and every process started for it. */
  close(): Promise<void>;
}

/**
 * Waits until `probe()` is true in the page (return a boolean: a DOM node does not cross every
 * driver), asking again `pauseMs` after each answer. Fails at once with the reason when the page
 * reports errors (`window.pageErrors`, see test/fixtures/browser/page-errors.js) or the driver saw a
 * problem. Never asserts on time: its only limit is test/wait.ts's safety net against a hang.
 * @param what - what is awaited, for the error message
 */
export async function waitInPage(page: EnginePage, what: string, probe: () => unknown, pauseMs = 100): Promise<void> {
  const started = Date.now();
  let last = 'not yet';
  for (let tries = 1; ; tries++) {
    let ready = false;
    try {
      ready = Boolean(await page.evaluate(probe, undefined));
    } catch (error) {
      last = (error as Error).message; // a page still loading, or navigating
    }
    const errors = await page.evaluate(() => ((window as unknown as { pageErrors?: unknown[] }).pageErrors ?? []).map(String), undefined).catch(() => []);
    const problems = [...errors, ...page.problems()];
    if (problems.length > 0) throw new Error(`${what}: the page reported ${problems.join('; ')}`);
    if (ready) return;
    if (Date.now() - started >= SAFETY_NET_MS) {
      throw new Error(`${what}: still not there after ${tries} tries over ${SAFETY_NET_MS / 1000} s (a hang: this limit is a safety net; last: ${last})`);
    }
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
}

/** The part of a playwright-core or puppeteer-core page that {@link openDriverPage} uses. */
interface DriverPage {
  on(event: string, listener: (value: never) => void): unknown;
  setDefaultTimeout(timeout: number): void;
  goto(url: string, options: { timeout: number }): Promise<unknown>;
  evaluate(fn: unknown, arg: unknown): Promise<unknown>;
}

/**
 * Opens `url` in a page of playwright-core or puppeteer-core (their page events have the same
 * names and shapes) and collects what goes wrong on it: page errors, answers of 400 and above,
 * failed requests.
 * @param close - closes the page's browser context
 */
export async function openDriverPage(driverPage: unknown, url: string, close: () => Promise<void>): Promise<EnginePage> {
  const page = driverPage as DriverPage;
  const problems: string[] = [];
  page.on('pageerror', (error: unknown) => problems.push(`the page threw ${error instanceof Error ? error.message : String(error)}`));
  page.on('response', (response: { status(): number; url(): string }) => {
    if (response.status() >= 400) problems.push(`${response.url()} answered ${response.status()}`);
  });
  page.on('requestfailed', (request: { url(): string; failure(): { errorText: string } | null }) =>
    problems.push(`${request.url()} failed (${request.failure()?.errorText})`),
  );
  // The drivers' own limits (30 s for a navigation) would fail a slow machine: the safety net instead.
  page.setDefaultTimeout(SAFETY_NET_MS);
  await page.goto(url, { timeout: SAFETY_NET_MS });
  return {
    // The drivers' own generics describe handles and serialisation; here everything is JSON.
    evaluate: (fn, arg) => page.evaluate(fn, arg) as Promise<never>,
    problems: () => [...problems],
    close,
  };
}
