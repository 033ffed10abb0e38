// Types of the latent-semantics analysis (latent-report.ts orchestrates; latent-fit.ts computes; latent-figures.ts
// draws): options, Table 3.1 rows, per-pair results, the results.json document.
import type { LatentModel } from '../models/types.js';
import type { BnMode } from '../scores/bn-mode.js';
import type { OodMetrics } from '../eval/metrics.js';
import type { Images, NllKind } from './encode.js';
import type { SeparabilityReport } from './separability.js';

export type EmbedChoice = 'tsne' | 'umap' | 'both' | 'none';
export const EMBED_CHOICES: EmbedChoice[] = ['tsne', 'umap', 'both', 'none'];

export interface LatentAnalysisOptions {
  model: LatentModel;
  /** ID images used to fit (ID train split). */
  idTrain: Images;
  /** ID images held out (ID test split). */
  idTest: Images;
  /** OoD sets; each is split in random halves (fit / held out). `name` labels rows, files and legends. */
  ood: { name: string; set: Images }[];
  /** Name of the ID dataset for labels (default: idTrain.name or 'ID'). */
  idName?: string;
  outDir: string;
  /** BatchNorm statistics when encoding and decoding (default 'eval'; see src/scores/bn-mode.ts). */
  bn?: BnMode;
  /** At most this many images per set, evenly spaced over the set (default: all). */
  limit?: number;
  /** Seeds splits, projections, the SVM's coordinate order, embeddings and the ELBO noise (default 0). */
  seed?: number;
  /** 2-D maps to draw (default 'both'). */
  embed?: EmbedChoice;
  /** Hardest samples shown per side (default 8). */
  k?: number;
  /** Images per forward pass (default 128). */
  batchSize?: number;
  /** SVM inverse regularisation C on standardised codes (default 1). */
  svmC?: number;
  /** OoD codes shown in the interpolation strips (default 6). */
  stripRows?: number;
  /** Points in the 2-D maps (default 2000, stratified by set). */
  embedPoints?: number;
  /** Posterior samples in the ELBO (default 1). */
  nllSamples?: number;
  /** Provenance copied into results.json / results.md (checkpoint, command line, device, ...). */
  meta?: Record<string, unknown>;
  /** Progress: stage name and, for long stages, done / total. */
  onProgress?: (stage: string, done?: number, total?: number) => void;
  /** Stops the fit between its stages (each encoded set, each OoD set's SVMs): it rejects with signal.reason. */
  signal?: AbortSignal;
}

export interface TableRow {
  pair: string;
  features: string;
  fit: { positive: number; negative: number };
  heldOut: { positive: number; negative: number };
  positiveAccuracy: number;
  negativeAccuracy: number;
  /** AUROC of -d (OoD positive). */
  auroc: number;
  /** AUROC of the one-class (Mahalanobis) score fitted on the positive fitting set only. */
  oneClassAuroc: number;
}

export interface SvmSummary {
  positiveAccuracy: number;
  negativeAccuracy: number;
  accuracy: number;
  trainAccuracy: number;
  metrics: OodMetrics;
  counts: SeparabilityReport['counts'];
  svm: { C: number; loss: string; classWeight: 'balanced'; iterations: number; converged: boolean; nSupport: number; normOfW: number; b: number };
  distances: { id: Quantiles; ood: Quantiles };
}

export interface Quantiles { min: number; q05: number; q25: number; median: number; q75: number; q95: number; max: number; mean: number }

export interface PairResult {
  ood: string;
  slug: string;
  latent: SvmSummary;
  randomProjection: SvmSummary & { pixels: number; dim: number };
  oneClass: { latent: OodMetrics; randomProjection: OodMetrics; shrinkage: number };
  /** The likelihood baseline on the same held-out images: score -ELBO (or the reconstruction term for an AE). */
  likelihood: { kind: NllKind; metrics: OodMetrics; spearmanWithDistance: number };
  strips: { rows: { index: number; distance: number; crossingT: number; ts: number[] }[]; crossingColumn: number; radius: number; note: string };
  /** index: row of the set as analysed (after the limit), ID test set for `id`, the OoD set for `ood`. */
  hardest: { id: { index: number; distance: number }[]; ood: { index: number; distance: number }[]; note: string };
  figures: Record<string, string>;
}

export interface LatentAnalysisResult {
  version: 1;
  id: string;
  model: { kind: string; decoder: string; zDim: number; channels: number; imageSize: number; width: number };
  bn: { mode: BnMode; description: string; batchSize: number };
  seed: number;
  limit: number | null;
  sets: { name: string; role: 'id-train' | 'id-test' | 'ood'; available: number; used: number; fit?: number; heldOut?: number }[];
  split: string;
  table: TableRow[];
  pairs: PairResult[];
  control: { idVsId: SvmSummary; oneClass: OodMetrics };
  /** knnPurity10: mean fraction of each point's 10 nearest map neighbours from its own set, ID train and test counted as one. */
  maps: { method: 'tsne' | 'umap'; file: string; points: number; knnPurity10: number }[];
  meta: Record<string, unknown>;
  timings: Record<string, number>;
}

export const SPLIT_DESCRIPTION =
  'SVM fitted on ID train codes (+1) vs a seeded random half of each OoD set (-1); evaluated on ID test codes vs the other half. ' +
  'Classes weighted n/(2 n_c). Random-projection control: the same SVM and splits on the raw pixels projected to the code dimension ' +
  '(Gaussian N(0,1/d) matrix). ID-vs-ID control: ID train vs ID test codes, each split in seeded random halves (fit / evaluate). ' +
  'One-class: Gaussian (Ledoit-Wolf) fitted to the positive fitting codes only, squared Mahalanobis distance as the OoD score.';

/** File-name form of a set name: `mnist:test` -> `mnist-test`. */
export function slugOf(name: string): string {
  const s = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return s || 'set';
}

