// Text output of the bench: Markdown tables (readable in a terminal, pasteable into docs/benchmarks.md).

/** A number with `digits` decimals, or `–` when there is none. */
export function num(value, digits = 2) {
  return Number.isFinite(value) ? value.toFixed(digits) : '–';
}

/** A ratio as `1.23×`, or `–`. */
export function times(value) {
  return Number.isFinite(value) ? `${value.toFixed(2)}×` : '–';
}

/**
 * A Markdown table with padded columns: text columns left-aligned, the others right-aligned.
 * @param headers - column titles (with units)
 * @param rows - cells as strings
 * @param textColumns - how many leading columns hold text
 */
export function table(headers, rows, textColumns = 1) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const pad = (cell, i) => (i < textColumns ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i]));
  const line = (cells) => `| ${cells.map(pad).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i < textColumns ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}
