// The sizes the README and docs/ quote, against the build they describe: each figure is read from
// its sentence and compared with the file it names (exact where the text gives bytes, within 5%
// where it says "about" or rounds to kB). A sentence that changes its wording fails here until
// this table follows it.
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url));
const text = (path: string) => read(path).toString('utf8');

const wasm = () => read('build/release.wasm').length;
const base64 = () => read('build/release.wasm').toString('base64').length;
const browser = () => read('dist/browser/migration-stats.js').length;
const browserGzip = () => gzipSync(read('dist/browser/migration-stats.js')).length;

/** The files the main Node entry loads: dist/node/index.js and the chunks it imports, transitively. */
function mainEntryFiles(): number {
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    for (const [, spec] of text(`dist/node/${name}`).matchAll(/(?:\bfrom\s*|\bimport\s*)['"]\.\/([^'"]+)['"]/g)) visit(spec!);
  };
  visit('index.js');
  return seen.size;
}

/** [document, the sentence with the figure as a group, what it measures, exact or within 5%]. */
const FIGURES: [string, RegExp, () => number, 'bytes' | 'kB' | 'count'][] = [
  ['README.md', /the Wasm core is (\d+) bytes/, wasm, 'bytes'],
  ['README.md', /`build\/release\.wasm`, ([\d.]+) kB\)/, wasm, 'kB'],
  ['README.md', /`dist\/browser\/migration-stats\.js`, about ([\d.]+) kB,/, browser, 'kB'],
  ['README.md', /`dist\/browser\/migration-stats\.js`, about [\d.]+ kB, ([\d.]+) kB gzipped/, browserGzip, 'kB'],
  ['docs/api.md', /`build\/release\.wasm`, ([\d.]+) kB\)/, wasm, 'kB'],
  ['docs/design.md', /imports only `env\.memory` and is about ([\d.]+) kB/, wasm, 'kB'],
  ['docs/design.md', /embedded in the JS as base64 \(about\s+([\d.]+) kB\)/, base64, 'kB'],
  ['docs/design.md', /Wasm core inside as base64, about ([\d.]+) kB/, browser, 'kB'],
  ['docs/design.md', /Wasm core inside as base64, about [\d.]+ kB\s+\(([\d.]+) kB gzipped/, browserGzip, 'kB'],
  ['docs/design.md', /the main entry\s+is (\d+) files instead of/, mainEntryFiles, 'count'],
];

describe('the sizes the README and docs/ quote', () => {
  it.each(FIGURES.map(([doc, pattern, measure, unit]) => [`${doc}: ${pattern.source}`, doc, pattern, measure, unit] as const))('%s', (_, doc, pattern, measure, unit) => {
    const found = pattern.exec(text(doc));
    expect(found, `${doc} no longer has a sentence matching ${pattern}`).not.toBeNull();
    const quoted = Number(found![1]);
    const actual = measure();
    if (unit === 'kB') expect(Math.abs(actual / 1000 - quoted) / quoted, `${doc} says ${quoted} kB; the build has ${actual} bytes`).toBeLessThanOrEqual(0.05);
    else expect(quoted, `${doc} says ${quoted}`).toBe(actual);
  });
});
