/** Plain-text reporting of metrics: Markdown tables that read well both raw and rendered. */
import type { Interval } from './metrics.js';

export interface TableOptions {
  /** Decimal places for non-integer numbers (default 3, the usual precision for AUROC in papers). */
  digits?: number;
}

/** Fixed digits, or none for integers when `integer` (counts, sizes); non-finite spelled out. */
export function formatNumber(x: number, digits = 3, integer = false): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  return integer ? String(x) : x.toFixed(digits);
}

/** `0.912 [0.905, 0.919]`: point estimate with its bootstrap interval. */
export function formatInterval(iv: Interval, digits = 3): string {
  return `${formatNumber(iv.value, digits)} [${formatNumber(iv.low, digits)}, ${formatNumber(iv.high, digits)}]`;
}

function escapeCell(s: string): string {
  // A bare pipe would end the cell; newlines would end the row.
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/**
 * A GitHub-flavoured Markdown table, padded so that the raw text lines up in a terminal.
 * Columns whose cells are all numbers are right-aligned so that decimal points line up.
 */
export function markdownTable(headers: string[], rows: (string | number)[][], opts: TableOptions = {}): string {
  const digits = opts.digits ?? 3;
  const ncol = headers.length;
  for (const [i, r] of rows.entries()) {
    if (r.length !== ncol) throw new Error(`markdownTable: row ${i} has ${r.length} cells, expected ${ncol}`);
  }
  const numeric = headers.map((_, j) => rows.length > 0 && rows.every((r) => typeof r[j] === 'number'));
  // Decided per column so that an AUROC of exactly 1 still prints as 1.000 beside 0.912.
  const integer = headers.map((_, j) => rows.every((r) => typeof r[j] !== 'number' || Number.isInteger(r[j])));
  const cells = rows.map((r) =>
    r.map((c, j) => escapeCell(typeof c === 'number' ? formatNumber(c, digits, integer[j]) : c)),
  );
  const head = headers.map(escapeCell);
  // Three dashes is the minimum delimiter width the GFM spec accepts.
  const width = head.map((h, j) => Math.max(3, h.length, ...cells.map((r) => r[j]!.length)));
  const pad = (s: string, j: number) => (numeric[j] ? s.padStart(width[j]!) : s.padEnd(width[j]!));
  const line = (cs: string[]) => `| ${cs.map(pad).join(' | ')} |`;
  const rule = `| ${width.map((w, j) => (numeric[j] ? '-'.repeat(w - 1) + ':' : '-'.repeat(w))).join(' | ')} |`;
  return [line(head), rule, ...cells.map(line)].join('\n');
}
