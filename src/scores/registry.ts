// The detector registry: every score the CLI (`--scores`, `oodgen detectors`), the evaluation pipeline (src/ood)
// and outside code can name. Built-in detectors are listed in builtin.ts (one line each); outside code adds its
// own with registerDetector(spec) through the public API (src/index.ts).
import { OodgenError } from '../errors.js';
import type { GenerativeModel } from '../models/types.js';
import { capabilitiesOf, requireCapabilities } from '../models/capabilities.js';
import { BUILTIN_DETECTORS } from './builtin.js';
import type { Detector, DetectorOptions, DetectorSpec, ReportRow, ScoreBatch } from './types.js';

const NAME = /^[a-z][a-z0-9-]*$/;
const registry = new Map<string, DetectorSpec>();

function checkSpec(spec: DetectorSpec): void {
  const where = `detector '${(spec as { name?: unknown }).name}'`;
  if (typeof spec.name !== 'string' || !NAME.test(spec.name)) throw new OodgenError(`${where}: the name must be lower case letters, digits and '-', starting with a letter`);
  if (typeof spec.create !== 'function') throw new OodgenError(`${where}: create(ctx) is missing`);
  if (spec.granularity !== 'sample' && spec.granularity !== 'batch') throw new OodgenError(`${where}: granularity must be 'sample' or 'batch'`);
  if (!Array.isArray(spec.needs)) throw new OodgenError(`${where}: needs must list model capabilities`);
  if (!spec.columns || Object.keys(spec.columns).length === 0) throw new OodgenError(`${where}: declare at least one column`);
  for (const r of reportRows(spec)) {
    if (!(r.meanOf in spec.columns)) throw new OodgenError(`${where}: row '${r.row}' shows the mean of '${r.meanOf}', which is not one of its columns (${Object.keys(spec.columns).join(', ')})`);
    if (r.column !== undefined && !(r.column in spec.columns)) throw new OodgenError(`${where}: row '${r.row}' scores with column '${r.column}', which is not one of its columns`);
  }
  const m = spec.models;
  if (m && (!Number.isInteger(m.min) || m.min < 1 || (m.max !== undefined && m.max < m.min))) throw new OodgenError(`${where}: models.min must be >= 1 and <= models.max`);
}

/**
 * The subsetOf contract that can be checked without running anything: both unfitted single-model detectors of one
 * granularity, the base having every column of the subset. Checked when the second of the two is registered (the
 * built-ins list elbo before components).
 */
function checkSubset(spec: DetectorSpec, base: DetectorSpec): void {
  const where = `detector '${spec.name}'`;
  if (spec.fits || base.fits || spec.models || base.models) throw new OodgenError(`${where}: subsetOf is for unfitted single-model detectors ('${base.name}' and '${spec.name}' must both be)`);
  if (base.granularity !== spec.granularity) throw new OodgenError(`${where}: subsetOf '${base.name}' has granularity '${base.granularity}', this one '${spec.granularity}'`);
  const missing = Object.keys(spec.columns).filter((c) => !(c in base.columns));
  if (missing.length) throw new OodgenError(`${where}: subsetOf '${base.name}' lacks its column(s) ${missing.join(', ')}`);
}

/**
 * Adds a detector to the registry, so `--scores NAME`, `createDetector(NAME, ...)` and `evaluate` find it. A name
 * already registered is an error unless `replace` is set.
 */
export function registerDetector(spec: DetectorSpec, opts: { replace?: boolean } = {}): void {
  checkSpec(spec);
  if (registry.has(spec.name) && !opts.replace) throw new OodgenError(`detector '${spec.name}' is already registered (pass { replace: true } to replace it)`);
  if (spec.subsetOf === spec.name) throw new OodgenError(`detector '${spec.name}': subsetOf names itself`);
  // A chain of subsetOf must end (evaluate() follows it to its root).
  for (let at = spec.subsetOf, n = 0; at !== undefined && n <= registry.size; n++) {
    if (at === spec.name) throw new OodgenError(`detector '${spec.name}': subsetOf '${spec.subsetOf}' leads back to '${spec.name}' (a cycle)`);
    at = registry.get(at)?.subsetOf;
  }
  const base = spec.subsetOf === undefined ? undefined : registry.get(spec.subsetOf);
  if (base) checkSubset(spec, base);
  for (const other of registry.values()) if (other.subsetOf === spec.name && other.name !== spec.name) checkSubset(other, spec);
  registry.set(spec.name, spec);
}

/** Removes a detector (tests, plugins); returns whether it was registered. */
export function unregisterDetector(name: string): boolean {
  return registry.delete(name);
}

for (const spec of BUILTIN_DETECTORS) registerDetector(spec);

/** Every registered detector, in registration order (built-ins first). */
export function listDetectors(): DetectorSpec[] {
  return [...registry.values()];
}

export function detectorNames(): string[] {
  return [...registry.keys()];
}

/**
 * The registered detector whose results contain `name`'s (DetectorSpec.subsetOf, followed to the end of the chain:
 * a subset of a subset takes its numbers from the last); null when `name` has no registered base (then it is scored
 * on its own).
 */
export function subsetBase(name: string): string | null {
  let root: string | null = null;
  for (let b = registry.get(name)?.subsetOf; b !== undefined && registry.has(b); b = registry.get(b)!.subsetOf) root = b;
  return root;
}

/** The spec of a registered detector; an OodgenError listing the names otherwise. */
export function detectorSpec(name: string): DetectorSpec {
  const s = registry.get(name);
  if (!s) throw new OodgenError(`unknown score '${name}' (expected one of ${detectorNames().join(', ')}; \`oodgen detectors\` lists them)`);
  return s;
}

/** The name, checked against the registry. */
export function parseScoreName(name: string): string {
  return detectorSpec(name).name;
}

/** The rows a detector contributes to result tables. */
export function reportRows(spec: DetectorSpec): ReportRow[] {
  return spec.rows ? [...spec.rows] : [{ row: spec.name, meanOf: Object.keys(spec.columns)[0]! }];
}

/** The per-sample series of one report row of a result: [OoD score, column shown as mean]. */
export function rowSeries(row: ReportRow, r: ScoreBatch): { score: Float32Array; mean: Float32Array } {
  const col = (name: string): Float32Array => {
    const c = r.columns[name];
    if (!c) throw new OodgenError(`report row '${row.row}': the result has no column '${name}' (columns: ${Object.keys(r.columns).join(', ')})`);
    return c;
  };
  const base = row.column === undefined ? r.score : col(row.column);
  return { score: row.negate ? base.map((v) => -v) : base, mean: col(row.meanOf) };
}

/** The registered detectors whose needs a model meets (an AE: only 'rec'). */
export function detectorsFor(model: GenerativeModel): string[] {
  const have = new Set(capabilitiesOf(model));
  return listDetectors().filter((s) => (s.models?.min ?? 1) <= 1 && s.needs.every((c) => have.has(c))).map((s) => s.name);
}

/**
 * A detector by name, bound to one model or several (an ensemble; the roles of spec.models). Checks the number of
 * models and each model's capabilities against the spec before building anything.
 */
export function createDetector(name: string, model: GenerativeModel | GenerativeModel[], options: DetectorOptions = {}): Detector {
  const spec = detectorSpec(name);
  const models = Array.isArray(model) ? model : [model];
  const min = spec.models?.min ?? 1, max = spec.models?.max ?? (spec.models ? Infinity : 1);
  if (models.length < min || models.length > max) {
    const want = max === min ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
    throw new OodgenError(`score '${name}' takes ${want} model${want === '1' ? '' : 's'}${spec.models?.roles ? ` (${spec.models.roles.join(', ')})` : ''}, got ${models.length}`);
  }
  models.forEach((m, i) => requireCapabilities(m, spec.needs, `score '${name}'`, models.length > 1 ? `model ${i + 1} (${m.config.kind})` : `a ${m.config.kind} model`));
  return spec.create({ model: models[0]!, models, options });
}
