// Small LatentModel implementations for the score tests. LinearGaussian is an exact oracle: with
//   z ~ N(0, I_Z),  x | z ~ N(W z + b, s^2 I_D),  W with orthogonal columns,
// log p(x) = log N(x; b, W W^T + s^2 I) is known in closed form and the true posterior is a diagonal Gaussian
//   var_j = 1 / (1 + |w_j|^2 / s^2),  mu_j = var_j w_j^T (x - b) / s^2,
// which a linear encoder represents exactly. With that encoder every importance weight equals p(x), so ELBO and
// IWAE equal log p(x) for any noise; a perturbed encoder makes ELBO < log p(x) and IWAE -> log p(x) as K grows.
import {
  Tensor, tensor, add, mul, sub, square, sum, reshape, chunkAll, clamp, noGrad, copy_, tidy,
} from '../../src/engine/index.js';
import { Module, Linear } from '../../src/nn/index.js';
import type { LatentModel, ModelConfig, Posterior } from '../../src/models/types.js';

const LOG_2PI = Math.log(2 * Math.PI);

export interface LinearGaussianSpec {
  /** D x Z, orthogonal columns. */
  W: number[][];
  b: number[];
  s2: number;
}

/** x shape per image: (1, 2, 3), so D = 6. */
export const IMAGE_SHAPE = [1, 2, 3] as const;

export const SPEC: LinearGaussianSpec = {
  // Columns (1,1,1,1,0,0)*1.5 and (1,-1,0,0,1,-1)*0.8 are orthogonal.
  W: [[1.5, 0.8], [1.5, -0.8], [1.5, 0], [1.5, 0], [0, 0.8], [0, -0.8]],
  b: [0.2, -0.1, 0.4, 0.0, 0.3, -0.2],
  s2: 0.3,
};

/** Exact log p(x) for one flattened image (float64 in JS). */
export function exactLogPx(spec: LinearGaussianSpec, x: number[]): number {
  const D = spec.b.length, Z = spec.W[0]!.length, s2 = spec.s2;
  const r = x.map((v, i) => v - spec.b[i]!);
  let quad = r.reduce((a, v) => a + v * v, 0);
  let logdet = D * Math.log(s2);
  for (let j = 0; j < Z; j++) {
    const n2 = spec.W.reduce((a, row) => a + row[j]! * row[j]!, 0);
    const wr = spec.W.reduce((a, row, i) => a + row[j]! * r[i]!, 0);
    quad -= (wr * wr) / (s2 + n2);
    logdet += Math.log(1 + n2 / s2);
  }
  return -0.5 * (D * LOG_2PI + logdet + quad / s2);
}

class Flat extends Module {
  constructor(readonly lin: Linear) {
    super();
    this.registerModule('lin', lin);
  }
  forward(x: Tensor): Tensor {
    return this.lin.forward(reshape(x, [x.shape[0]!, -1]));
  }
}

export class LinearGaussianModel extends Module implements LatentModel {
  readonly config: ModelConfig = { kind: 'vae', decoder: 'gaussian', channels: 1, imageSize: 28, zDim: 2, width: 1 };
  readonly encoder: Flat;
  readonly decoder: Linear;
  readonly continuousLikelihood = true;
  constructor(readonly spec: LinearGaussianSpec, opts: { perturb?: number } = {}) {
    super();
    const D = spec.b.length, Z = spec.W[0]!.length;
    this.encoder = this.registerModule('encoder', new Flat(new Linear(D, 2 * Z)));
    this.decoder = this.registerModule('decoder', new Linear(Z, D));
    const p = opts.perturb ?? 0;
    const ew: number[] = [], eb: number[] = [];
    const vars: number[] = [];
    for (let j = 0; j < Z; j++) {
      const n2 = spec.W.reduce((a, row) => a + row[j]! * row[j]!, 0);
      vars.push(1 / (1 + n2 / spec.s2));
    }
    for (let j = 0; j < Z; j++) {
      for (let i = 0; i < D; i++) ew.push(((vars[j]! * spec.W[i]![j]!) / spec.s2) * (1 + p));
      eb.push((-vars[j]! * spec.W.reduce((a, row, i) => a + row[j]! * spec.b[i]!, 0)) / spec.s2 + p);
    }
    for (let j = 0; j < Z; j++) {
      for (let i = 0; i < D; i++) ew.push(0);
      eb.push(Math.log(vars[j]!) + 2 * p);
    }
    tidy(() => noGrad(() => {
      copy_(this.encoder.lin.weight, tensor(ew, [2 * Z, D]));
      copy_(this.encoder.lin.bias!, tensor(eb, [2 * Z]));
      copy_(this.decoder.weight, tensor(spec.W.flat(), [D, Z]));
      copy_(this.decoder.bias!, tensor(spec.b, [D]));
    }));
  }
  forward(x: Tensor): Tensor {
    return this.encoder.forward(x);
  }
  encode(x: Tensor): Posterior {
    const [mu, logvar] = chunkAll(this.encoder.forward(x), 2, 1);
    return { mu: mu!, logvar: logvar! };
  }
  decode(z: Tensor): Tensor {
    return reshape(this.decoder.forward(z), [z.shape[0]!, ...IMAGE_SHAPE]);
  }
  logLikelihood(x: Tensor, decoded: Tensor): Tensor {
    const d = x.numel / x.shape[0]!;
    return sub(mul(sum(square(sub(x, decoded)), [1, 2, 3]), -0.5 / this.spec.s2), 0.5 * d * (LOG_2PI + Math.log(this.spec.s2)));
  }
  mean(decoded: Tensor): Tensor {
    return clamp(decoded, 0, 1);
  }
  sample(n: number): Tensor {
    return add(tensor(new Array(n * 6).fill(0), [n, ...IMAGE_SHAPE]), 0);
  }
}
