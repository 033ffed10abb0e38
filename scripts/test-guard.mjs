// Runs test files with Node's test runner and fails when they leave files behind (scripts/run-tests.mjs uses it).
// Leftovers are found without racing other people's processes: the tests get a private TMPDIR for this run (os.tmpdir()
// and Python's tempfile read it), so whatever oodgen-* folder is still in it afterwards was left by these tests, and
// the private folder is removed at the end either way. The checkout's runs/ is compared before and after (tests write
// into temp folders, never into runs/). tests/helpers/tmp.ts is how tests make temp folders that clean themselves up.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const list = (dir) => (existsSync(dir) ? readdirSync(dir).sort() : []);

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : /\.(ts|mjs|js)$/.test(p) ? [p] : [];
  });
}

/** Test sources under testsDir that name the prefix of a leftover oodgen-PREFIX-XXXXXX folder (mkdtemp adds 6). */
function suspects(name, testsDir, root) {
  const prefix = name.replace(/^oodgen-/, '').slice(0, -7);
  if (!prefix || !existsSync(testsDir)) return [];
  const needles = [`tempDir('${prefix}'`, `'oodgen-${prefix}-'`, `\`oodgen-${prefix}-`];
  return walk(testsDir).filter((p) => { const s = readFileSync(p, 'utf8'); return needles.some((n) => s.includes(n)); })
    .map((p) => relative(root, p));
}

/**
 * Runs `node --import tsx --test FILES` in `root` with a private TMPDIR. Returns the runner's exit status and the
 * leftovers: oodgen-* entries still in the private TMPDIR (with the test files that make that prefix) and new entries
 * of root/runs. `testsDir` is searched to name the test file behind a leftover. With stdio 'pipe' the runner's
 * output comes back as `output` instead of going to this process's.
 */
export function runGuarded(files, { root, testsDir = join(root, 'tests'), env = {}, stdio = 'inherit' } = {}) {
  const realTmp = tmpdir();
  const scratch = mkdtempSync(join(realTmp, 'oodgen-tests-'));
  // tsx keeps its compile cache in $TMPDIR/tsx-UID; share the real one so a guarded run is not a cold start.
  const tsxName = `tsx-${process.geteuid?.() ?? 'user'}`;
  try {
    mkdirSync(join(realTmp, tsxName), { recursive: true });
    symlinkSync(join(realTmp, tsxName), join(scratch, tsxName));
  } catch { /* no shared cache: tsx makes its own in the scratch folder */ }
  const runs = join(root, 'runs');
  const runsBefore = new Set(list(runs));
  const rootBefore = new Set(list(root));
  // Ctrl-C reaches the test processes too (same process group); wait for them, then clean up and report.
  const onInt = () => {};
  process.on('SIGINT', onInt);
  // NODE_TEST_CONTEXT is set inside a test file's process; a nested runner that inherits it acts as a child.
  const { NODE_TEST_CONTEXT: _, ...parentEnv } = process.env;
  let r;
  try {
    r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], {
      cwd: root, stdio, encoding: 'utf8', maxBuffer: 64 << 20,
      env: { ...parentEnv, OODGEN_TEST: '1', ...env, TMPDIR: scratch, TMP: scratch, TEMP: scratch },
    });
  } finally {
    process.off('SIGINT', onInt);
  }
  const tmpLeft = list(scratch).filter((n) => n.startsWith('oodgen-'))
    .map((name) => ({ name, path: join(scratch, name), madeBy: suspects(name, testsDir, root) }));
  // New entries of runs/ and of the checkout's top level (a build output such as dist/, a stray file).
  const runsLeft = [
    ...list(runs).filter((n) => !runsBefore.has(n)).map((name) => ({ name: `runs/${name}`, path: join(runs, name) })),
    ...list(root).filter((n) => !rootBefore.has(n) && n !== 'runs').map((name) => ({ name, path: join(root, name) })),
  ];
  rmSync(scratch, { recursive: true, force: true });
  const output = stdio === 'pipe' ? `${r.stdout}${r.stderr}` : '';
  return { status: r.status ?? (r.signal === 'SIGINT' ? 130 : 1), signal: r.signal, output, tmpLeft, runsLeft };
}

/** The failure message naming every leftover (empty when there is none). */
export function leftoverReport({ tmpLeft, runsLeft }) {
  const lines = [];
  for (const l of tmpLeft) {
    lines.push(`  TMPDIR/${l.name}${l.madeBy.length ? ` (made by ${l.madeBy.join(', ')})` : ''}`);
  }
  for (const l of runsLeft) lines.push(`  ${l.name} (in the checkout)`);
  if (lines.length === 0) return '';
  return [
    `test hygiene: the tests left ${lines.length} file(s) or folder(s) behind:`,
    ...lines,
    'Make temp folders with tempDir() from tests/helpers/tmp.ts (removed after the test or when its process exits),',
    'and write into them, never into the checkout (runs/, a build output). (Entries another process made in this',
    'checkout during the run also show here.)',
  ].join('\n');
}
