/**
 * Firefox ESR (Debian's firefox-esr, or `FIREFOX_PATH`), driven by puppeteer-core over WebDriver
 * BiDi: no geckodriver. puppeteer-core stays on major 24, the last that runs on Node 20.
 */
import puppeteer, { type Browser } from 'puppeteer-core';
import { openDriverPage, type Engine } from './engine.js';
import { SAFETY_NET_MS } from '../wait.js';

/** Launches Firefox headless with a fresh profile (puppeteer makes and removes it). */
export async function launchFirefox(): Promise<Engine> {
  const path = process.env.FIREFOX_PATH || '/usr/bin/firefox-esr';
  // Its limits are the suite's safety net (test/wait.ts), not puppeteer's own (30 s to start the browser).
  const browser: Browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: path,
    headless: true,
    timeout: SAFETY_NET_MS,
    protocolTimeout: SAFETY_NET_MS,
  });
  return {
    id: 'firefox',
    description: `${await browser.version()} (${path})`,
    async open(url) {
      const context = await browser.createBrowserContext();
      return openDriverPage(await context.newPage(), url, () => context.close());
    },
    close: () => browser.close(),
  };
}
