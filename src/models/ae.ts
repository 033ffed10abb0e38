// The deterministic autoencoder: the VAE's encoder/decoder with a point code z = encoder(x) (no posterior noise, no
// KL). The seed's degenerate baseline (Chen 2021, Fig. 3.3): its "likelihood" log p(x | z(x)) is a reconstruction
// score, not a bound on log p(x), and its prior samples are meaningless without a regularised code space.
import type { Tensor } from '../engine/tensor.js';
import type { Generator } from '../engine/random.js';
import { zerosLike } from '../engine/ops/index.js';
import type { ModelConfig, Posterior } from './types.js';
import { DCGAN_DEFAULTS, LatentBase, type ElboTerms, type ModelInitOptions } from './vae.js';
import type { ModelFamily } from './registry.js';

export class AE extends LatentBase {
  readonly stochasticEncoder: boolean = false;
  constructor(config: ModelConfig, o: ModelInitOptions = {}) {
    if (config.decoder === 'categorical') throw new Error('AE: a categorical decoder is not supported (use gaussian or bernoulli)');
    super(config, config.zDim, o);
  }

  /** An AE has no prior over codes, so log P(x8 | z(x)) bounds nothing: no bits/dim. */
  override get imageProbabilityProblem(): string | null {
    return 'a deterministic autoencoder has no prior over its codes, so log P(x | z(x)) is a reconstruction score, not a bound on log P(x): it has no bits/dim';
  }

  encode(x: Tensor): Posterior {
    return { mu: this.encoder.forward(x), logvar: null };
  }

  /** log p(x | z = encoder(x)); kl is zero, elbo = logLik (a reconstruction score, not a bound). */
  elboTerms(x: Tensor, _generator?: Generator, o: { image?: boolean } = {}): ElboTerms {
    const z = this.encoder.forward(x);
    const dec = this.decode(z);
    const logLik = o.image ? this.imageLogProb(x, dec) : this.logLikelihood(x, dec);
    return { logLik, kl: zerosLike(logLik), elbo: logLik };
  }
}

export const aeFamily: ModelFamily = {
  kind: 'ae',
  title: 'deterministic autoencoder on the DCGAN encoder/decoder (reconstruction error only)',
  reference: 'Chen, NUS 2021, Fig. 3.3 (the degenerate baseline)',
  capabilities: ['encode', 'decode', 'decoder-likelihood', 'sample', 'batchnorm'],
  decoders: ['gaussian', 'bernoulli'],
  defaults: () => ({ ...DCGAN_DEFAULTS }),
  configProblems: (c) => (c.decoder === 'categorical' ? ['an AE has no categorical decoder (use gaussian or bernoulli)'] : []),
  create: (config, init) => new AE(config, init),
};
