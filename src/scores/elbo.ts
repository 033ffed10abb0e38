// The evidence lower bound (Kingma & Welling 2014, "Auto-Encoding Variational Bayes", eq. 3 and 10):
//
//   log p(x) >= ELBO(x) = E_{q(z|x)}[log p(x|z)] - KL(q(z|x) || p(z))
//
// with the KL term in closed form for q = N(mu, diag sigma^2), p = N(0, I):
//   KL = 1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2)
// and the reconstruction expectation estimated with L reparameterised samples (L = 1 by default).
// Score = -ELBO (higher = more OoD); the column 'elbo' keeps the bound itself, in nats per image.
import type { Tensor } from '../engine/index.js';
import type { DetectorSpec, ScoreBatch } from './types.js';
import type { LatentModel } from '../models/types.js';
import { ComponentsDetector, elboComponents, type ComponentOptions } from './components.js';
import type { EpsSource } from './latent.js';
import { tidy, sub } from '../engine/index.js';

export type ElboOptions = ComponentOptions;

/** ELBO per image (B,) in nats, with its reconstruction and KL terms. */
export function elbo(model: LatentModel, x: Tensor, o: ElboOptions & { eps?: EpsSource } = {}): { elbo: Tensor; reconstruction: Tensor; kl: Tensor } {
  return tidy(() => {
    const c = elboComponents(model, x, o);
    return { elbo: c.elbo, reconstruction: c.reconstruction, kl: sub(c.reconstruction, c.elbo) };
  });
}

/** Score = -ELBO; columns: elbo, reconstruction, kl. */
export class ElboDetector extends ComponentsDetector {
  override readonly name: string = 'elbo';
  override readonly description: string = 'negative ELBO, -(E_q[log p(x|z)] - KL(q(z|x)||N(0,I))), analytic KL, L-sample reconstruction term (Kingma & Welling 2014), nats';
  constructor(model: LatentModel, opts: ElboOptions = {}) {
    super(model, opts);
  }
  override evaluate(x: Tensor): ScoreBatch {
    const r = super.evaluate(x);
    const { elbo, reconstruction, kl } = r.columns;
    return { score: r.score, columns: { elbo: elbo!, reconstruction: reconstruction!, kl: kl! } };
  }
}

export const elboSpec: DetectorSpec = {
  name: 'elbo',
  title: 'negative ELBO, -(E_q[log p(x|z)] - KL(q(z|x) || N(0, I)))',
  reference: 'Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014',
  granularity: 'sample',
  // ElboDetector is ComponentsDetector keeping three columns: same noise, same numbers.
  subsetOf: 'components',
  needs: ['encode', 'posterior', 'decode', 'decoder-likelihood'],
  options: { samples: 'posterior samples L of the reconstruction term (default 1)', seed: 'noise seed', decodeBatch: 'codes decoded at once' },
  columns: { elbo: 'nats per image', reconstruction: 'nats per image', kl: 'nats per image' },
  axis: '-ELBO (nats)',
  units: 'nats per image',
  create: ({ model, options: o }) => new ElboDetector(model as LatentModel, { samples: o.samples, seed: o.seed, decodeBatch: o.decodeBatch }),
};
