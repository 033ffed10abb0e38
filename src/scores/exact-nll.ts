// Exact negative log-likelihood of a model with a tractable density (a flow such as Glow), the likelihood score of
// Nalisnick et al. 2019 ("Do Deep Generative Models Know What They Don't Know?"):
//
//   score(x) = -log p(x)          (nats per image; model.logProb, exact, no bound and no sampling)
//   bpd(x)   = -log2 p(x) / D + 8 (bits/dim of the 8-bit image when p is a density over continuous x in [0, 1]^D:
//                                  the bin of width 1/256 per dimension adds log2 256 = 8; Theis et al. 2016)
//
// x is scored as given (k/255, inside the dequantization bin [k/256, (k+1)/256] of its level k), so the score is
// deterministic. Higher = less likely = more OoD.
import { Tensor, tidy, noGrad } from '../engine/index.js';
import type { GenerativeModel } from '../models/types.js';
import type { Detector, DetectorSpec, ScoreBatch } from './types.js';
import { negated } from './latent.js';
import { OodgenError } from '../errors.js';

export class ExactNllDetector implements Detector {
  readonly name: string = 'exact-nll';
  readonly description: string = 'exact negative log-likelihood -log p(x) of a tractable density (a flow), nats; column bpd = -log2 p(x)/D (+8 for a continuous density)';
  constructor(readonly model: GenerativeModel) {
    if (typeof model.logProb !== 'function') throw new OodgenError(`exact-nll: a ${model.config.kind} model has no exact log-likelihood (logProb); use a bound such as iwae`);
  }
  evaluate(x: Tensor): ScoreBatch {
    const ll = noGrad(() => tidy(() => this.model.logProb!(x).toFloat32Array()));
    const d = x.numel / x.shape[0]!;
    const continuous = (this.model as { continuousLikelihood?: boolean }).continuousLikelihood ?? true;
    const bpd = ll.map((v) => -v / (d * Math.LN2) + (continuous ? 8 : 0));
    return { score: negated(ll), columns: { loglik: ll, bpd } };
  }
  score(x: Tensor): Float32Array {
    return this.evaluate(x).score;
  }
  settings(): Record<string, unknown> {
    return { estimator: 'exact', continuous: (this.model as { continuousLikelihood?: boolean }).continuousLikelihood ?? true };
  }
}

export const nllSpec: DetectorSpec = {
  name: 'exact-nll',
  title: 'exact negative log-likelihood -log p(x) of a flow (no bound, no sampling)',
  reference: 'Nalisnick, Matsukawa, Teh, Gorur & Lakshminarayanan, "Do Deep Generative Models Know What They Don\'t Know?", ICLR 2019',
  granularity: 'sample',
  needs: ['log-likelihood'],
  columns: { loglik: 'nats per image', bpd: 'bits per dimension' },
  axis: '-log p(x) (nats)',
  units: 'nats per image',
  create: ({ model }) => new ExactNllDetector(model),
};
