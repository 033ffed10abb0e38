import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatInterval, formatNumber, markdownTable } from '../../src/eval/report.js';

test('markdownTable: aligned columns, numbers right-aligned with fixed digits, integers kept', () => {
  const t = markdownTable(['metric', 'value', 'n'], [['AUROC', 0.91234, 1000], ['FPR95TPR', 0.05, 20], ['AUPR-IN', 1, 3]]);
  assert.equal(
    t,
    [
      '| metric   | value |    n |',
      '| -------- | ----: | ---: |',
      '| AUROC    | 0.912 | 1000 |',
      '| FPR95TPR | 0.050 |   20 |',
      '| AUPR-IN  | 1.000 |    3 |',
    ].join('\n'),
  );
});

test('markdownTable: digits option, pipes escaped, mixed columns left-aligned', () => {
  const t = markdownTable(['a|b', 'x'], [['p|q', 1.23456], ['r', 'n/a']], { digits: 1 });
  const lines = t.split('\n');
  assert.equal(lines[0], '| a\\|b | x   |');
  assert.equal(lines[1], '| ---- | --- |');
  assert.equal(lines[2], '| p\\|q | 1.2 |');
});

test('markdownTable: a row of the wrong length is an error', () => {
  assert.throws(() => markdownTable(['a', 'b'], [[1]]), /row 0 has 1 cells, expected 2/);
});

test('formatInterval and non-finite numbers', () => {
  assert.equal(formatInterval({ value: 0.9123, low: 0.9051, high: 0.9189 }), '0.912 [0.905, 0.919]');
  assert.equal(formatInterval({ value: 1, low: 0.99, high: 1 }, 2), '1.00 [0.99, 1.00]');
  assert.equal(formatNumber(NaN), 'NaN');
  assert.equal(formatNumber(-Infinity), '-inf');
});
