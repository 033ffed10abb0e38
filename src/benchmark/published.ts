// Published AUROCs shown beside ours in results.md and report.html: one data table, each figure with its source.
// Only numbers quoted in the issues (13 and 12) are here; a pair or method not listed has no published figure.
// `detector` is the oodgen report row the figure corresponds to; null: no single oodgen row (e.g. "best published").

export interface PublishedSource {
  key: string;
  citation: string;
  url?: string;
}

export interface PublishedFigure {
  /** Benchmark pair name (pairs.ts). */
  pair: string;
  method: string;
  detector: string | null;
  auroc: number;
  source: string;
  note?: string;
}

export const SOURCES: PublishedSource[] = [
  { key: 'lpath', citation: 'Huang, He, Lui. Inference, Fast and Slow: Reinterpreting VAEs for OOD Detection (the likelihood path principle, LPath). NeurIPS 2024 Safe Generative AI Workshop; earlier version arXiv:2401.04933. Tables compiled there for VAEs on these pairs', url: 'https://openreview.net/forum?id=K1VpgaYPnX' },
  { key: 'regret', citation: 'Xiao, Yan, Amit. Likelihood Regret: An Out-of-Distribution Detection Score for Variational Auto-encoder. NeurIPS 2020' },
  { key: 'ic', citation: 'Serra et al. Input Complexity and Out-of-distribution Detection with Likelihood-based Generative Models. ICLR 2020' },
  { key: 'dose', citation: 'Morningstar et al. Density of States Estimation for Out-of-Distribution Detection. AISTATS 2021' },
];

const f = (pair: string, method: string, detector: string | null, auroc: number, source: string, note?: string): PublishedFigure =>
  ({ pair, method, detector, auroc, source, ...(note ? { note } : {}) });

/** The figures of issue 13 item 4 and issue 12's "Tests and numbers", as quoted there (LPath paper's tables). */
export const PUBLISHED: PublishedFigure[] = [
  f('cifar10-svhn', 'plain ELBO', 'elbo', 0.08, 'lpath'),
  f('cifar10-svhn', 'likelihood regret', 'likelihood-regret', 0.88, 'lpath'),
  f('cifar10-svhn', 'input complexity', 'input-complexity', 0.95, 'lpath'),
  f('cifar10-svhn', 'DoSE', 'dose', 0.97, 'lpath'),
  f('cifar10-svhn', 'LPath', 'lpath', 0.99, 'lpath'),
  f('cifar10-hflip', 'plain ELBO', 'elbo', 0.50, 'lpath'),
  f('cifar10-hflip', 'LPath', 'lpath', 0.53, 'lpath'),
  f('cifar10-hflip', 'best published', null, 0.53, 'lpath'),
  f('cifar10-vflip', 'plain ELBO', 'elbo', 0.56, 'lpath'),
  f('cifar10-vflip', 'LPath', 'lpath', 0.61, 'lpath'),
  f('cifar10-vflip', 'best published', null, 0.65, 'lpath'),
  f('fmnist-mnist', 'plain ELBO', 'elbo', 0.87, 'lpath'),
  f('fmnist-mnist', 'likelihood regret', 'likelihood-regret', 0.99, 'lpath'),
  f('fmnist-mnist', 'DoSE', 'dose', 1.00, 'lpath'),
  f('fmnist-mnist', 'LPath', 'lpath', 1.00, 'lpath'),
  f('fmnist-hflip', 'plain ELBO', 'elbo', 0.63, 'lpath'),
  f('fmnist-hflip', 'DoSE', 'dose', 0.66, 'lpath'),
  f('fmnist-hflip', 'LPath', 'lpath', 0.65, 'lpath'),
  f('fmnist-hflip', 'best published', null, 0.67, 'lpath'),
  f('fmnist-vflip', 'plain ELBO', 'elbo', 0.83, 'lpath'),
  f('fmnist-vflip', 'DoSE', 'dose', 0.75, 'lpath'),
  f('fmnist-vflip', 'LPath', 'lpath', 0.81, 'lpath'),
  f('fmnist-vflip', 'best published', null, 0.89, 'lpath'),
];

/** Published figures for a pair; those matching `detector` first. */
/**
 * The published figures for a pair (and a report row's detector). With `bn`, only an eval-mode row gets one: the
 * papers score with BatchNorm's running statistics, so a figure beside a batch-statistics row (Fig. 3.7's enc / dec /
 * both) would compare different settings.
 */
export function publishedFor(pair: string, detector?: string, bn?: string): PublishedFigure[] {
  if (bn !== undefined && bn !== 'eval') return [];
  const all = PUBLISHED.filter((x) => x.pair === pair);
  return detector === undefined ? all : all.filter((x) => x.detector === detector);
}
