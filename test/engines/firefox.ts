/**
 * Firefox ESR (Debian's firefox-esr, or `FIREFOX_PATH`), driven by puppeteer-core over WebDriver
 * BiDi: no geckodriver. puppeteer-core stays on major 24, the last that runs on Node 20.
 */
import puppeteer, { type Browser } from 'puppeteer-core';
import type { Engine, EnginePage } from './engine.js';

/** Launches Firefox headless with a fresh profile (puppeteer makes and removes it). */
export async function launchFirefox(): Promise<Engine> {
  const path = process.env.FIREFOX_PATH || '/usr/bin/firefox-esr';
  const browser: Browser = await puppeteer.launch({ browser: 'firefox', executablePath: path, headless: true });
  return {
    id: 'firefox',
    description: `${await browser.version()} (${path})`,
    async open(url) {
      const context = await browser.createBrowserContext();
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('pageerror', (error) => problems.push(`the page threw ${error instanceof Error ? error.message : String(error)}`));
      page.on('response', (response) => {
        if (response.status() >= 400) problems.push(`${response.url()} answered ${response.status()}`);
      });
      page.on('requestfailed', (request) => problems.push(`${request.url()} failed (${request.failure()?.errorText})`));
      await page.goto(url);
      const opened: EnginePage = {
        // The drivers' own generics describe handles and serialisation; here everything is JSON.
        evaluate: (fn, arg) => (page as unknown as { evaluate(f: unknown, a: unknown): Promise<never> }).evaluate(fn, arg),
        problems: () => [...problems],
        close: () => context.close(),
      };
      return opened;
    },
    close: () => browser.close(),
  };
}
