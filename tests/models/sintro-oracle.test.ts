// One Soft-IntroVAE iteration (src/models/sintro.ts sintroStep) against a float64 PyTorch transcription of the
// authors' official training step (tests/fixtures/sintro_oracle.py, from taldatech/soft-intro-vae-pytorch):
// both losses and their terms, the encoder gradients of lossE, the decoder gradients of lossD (after the encoder's
// update), and every parameter and BatchNorm buffer after both updates. Optimizers are plain SGD on both sides so
// the updates are exact. The noise is oodgen's own seeded stream, drawn once here and handed to PyTorch.
//
// Hyper-parameters are all different from 1 and from each other (and gamma_r is large, not 1e-8) so a swapped or
// dropped weight shows. Sensitivity, measured with tests/fixtures/oracle_mutations.py (it edits sintro.ts one change
// at a time and runs this test): each of these fails it, the unedited code passes with a margin of 5x or more:
//   0.25 -> 0.5 on the exp terms (lossE 1.363 vs 0.899); exp(-2*scale*..) -> exp(-scale*..) (lossE 0.9069 vs
//   0.8993); scale 1/(H*W) instead of 1/(C*H*W) (lossE 1.708); beta_neg instead of beta_kl on the real KL
//   (lossE +1.7e-4); beta_rec and beta_neg swapped in the fake expELBO; the encoder step's re-reconstruction target
//   `rec` detached (lossD +5e-5, through the encoder update); lossD with beta_kl instead of 0.5*beta_kl, or gamma_r
//   without 0.5; z_rec or z_fake not detached in the decoder step (decoder gradient off by 50%); rec detached before
//   the frozen encoder in the decoder step (6x the tolerance).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Generator, liveTensors, rand, tidy, keep, type Tensor } from '../../src/engine/index.js';
import { SGD } from '../../src/optim/index.js';
import { createModel } from '../../src/models/factory.js';
import type { ModelConfig } from '../../src/models/types.js';
import { sintroStep, type SintroHyper } from '../../src/models/sintro.js';
import { cpuNoise } from '../../src/models/vae.js';
import { saveTensors, loadTensors } from '../../src/io/checkpoint.js';
import { runPython, torchSkip } from '../helpers/python.js';
import { tempDir } from '../helpers/tmp.js';

// Colour 32x32 (the CIFAR-10 / SVHN recipe) and grey 28x28 (the MNIST recipe): scale = 1/(C*H*W) differs.
const CONFIGS: ModelConfig[] = [
  { kind: 'sintro', decoder: 'gaussian', channels: 3, imageSize: 32, zDim: 3, width: 4 },
  { kind: 'sintro', decoder: 'gaussian', channels: 1, imageSize: 28, zDim: 3, width: 4 },
];
const HYPER: SintroHyper = { betaKl: 0.7, betaRec: 1.3, betaNeg: 2.5, gammaR: 0.35 };
const LR = 0.05;
const B = 4;
const NOISE_SEED = 99;

/** max |a - b| over the elements, and max |b|. */
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): { diff: number; scale: number } {
  assert.equal(a.length, b.length);
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return { diff, scale };
}

for (const CONFIG of CONFIGS) test(`Soft-IntroVAE ${CONFIG.channels}x${CONFIG.imageSize}x${CONFIG.imageSize}: losses, gradients and updated weights of one iteration equal the official step in PyTorch`, { skip: torchSkip }, () => {
  const start = liveTensors();
  const dir = tempDir('sintro');
  try {
    const g = Generator.cpu(3);
    const model = createModel(CONFIG, { generator: g });
    model.train();
    const x = keep(rand([B, CONFIG.channels, CONFIG.imageSize, CONFIG.imageSize], { generator: g })); // (B, C, H, W)
    // The six (B, Z) draws of one iteration, in sintroStep's order (it is also the official code's order).
    const ng = Generator.cpu(NOISE_SEED);
    const noise = Array.from({ length: 6 }, () => cpuNoise([B, CONFIG.zDim], 'cpu', ng));
    const input = new Map<string, Tensor>([['x', x]]);
    for (const [k, v] of model.stateDict()) input.set(`model.${k}`, v);
    noise.forEach((n, i) => input.set(`noise.${i}`, n));
    saveTensors(join(dir, 'in.safetensors'), input, { config: JSON.stringify(CONFIG), hyper: JSON.stringify({ ...HYPER, lr: LR }) });
    noise.forEach((n) => n.dispose());
    runPython('tests/fixtures/sintro_oracle.py', [join(dir, 'in.safetensors'), join(dir, 'out.safetensors')]);
    const { tensors: ref } = loadTensors(join(dir, 'out.safetensors'));
    const refArr = (k: string) => {
      const t = ref.get(k);
      assert.ok(t, `oracle output lacks ${k}`);
      return Array.from(t.data() as Float64Array);
    };

    // SGD updates, recording each parameter's gradient at the moment its optimizer steps.
    const grads = new Map<string, Float32Array>();
    const named = (prefix: string, m: { namedParameters(): [string, Tensor][] }) => m.namedParameters().map(([k, p]) => [`${prefix}.${k}`, p] as const);
    const recording = (params: (readonly [string, Tensor])[]) => {
      const sgd = new SGD(params.map(([, p]) => p), { lr: LR });
      return {
        sgd,
        zeroGrad: () => sgd.zeroGrad(),
        step: () => {
          tidy(() => {
            for (const [k, p] of params) {
              const gr = p.grad();
              assert.ok(gr, `${k} has no gradient when its optimizer steps`);
              grads.set(k, gr.toFloat32Array());
            }
          });
          sgd.step();
        },
      };
    };
    const enc = recording(named('encoder', model.encoder)), dec = recording(named('decoder', model.decoder));
    const terms = tidy(() => {
      const t = sintroStep(model, x, HYPER, { encoder: enc, decoder: dec }, Generator.cpu(NOISE_SEED));
      return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.item()]));
    });

    // Terms (0.2 .. 1000): float32 against float64; measured errors are 1e-7 relative or less, 1/10 of the tolerance.
    for (const k of ['lossE', 'lossD', 'recErr', 'klReal', 'klFake', 'klRec', 'expElboFake', 'expElboRec']) {
      const want = refArr(`ref.${k}`)[0]!;
      assert.ok(Math.abs(terms[k]! - want) <= 2e-6 * Math.max(1, Math.abs(want)), `${k}: oodgen ${terms[k]}, PyTorch ${want}`);
    }
    // Gradients, tensor by tensor, relative to the tensor's largest entry. The biases of convolutions followed by
    // BatchNorm have an exact gradient of 0 (the normalisation removes a constant), so float32 rounding there is
    // measured against the largest gradient of the whole network part.
    let nGrad = 0;
    for (const [prefix, part] of [['grad_e', 'encoder'], ['grad_d', 'decoder']] as const) {
      const params = named(part, part === 'encoder' ? model.encoder : model.decoder);
      const partScale = Math.max(...params.map(([k]) => maxDiff(refArr(`${prefix}.${k}`), refArr(`${prefix}.${k}`)).scale));
      assert.ok(partScale > 1e-3, `${prefix}: reference gradients are (near) zero`);
      for (const [k] of params) {
        const { diff, scale } = maxDiff(grads.get(k)!, refArr(`${prefix}.${k}`));
        const tol = 1e-4 * scale + 3e-6 * partScale;
        assert.ok(diff <= tol, `${prefix}.${k}: max |oodgen - PyTorch| = ${diff.toExponential(2)}, max |PyTorch| = ${scale.toExponential(2)}`);
        nGrad++;
      }
    }
    assert.equal(nGrad, model.encoder.parameters().length + model.decoder.parameters().length);
    // Every parameter and BatchNorm buffer after both updates (running statistics: 5 encoder and 8 decoder forwards).
    for (const [k, v] of model.stateDict()) {
      const want = ref.get(`after.${k}`);
      assert.ok(want, `oracle lacks after.${k}`);
      if (v.dtype === 'int64') {
        assert.deepEqual(v.toArray(), want.toArray(), k);
        continue;
      }
      const { diff, scale } = maxDiff(v.toFloat32Array(), Array.from(want.data() as Float64Array));
      assert.ok(diff <= 1e-5 * Math.max(1, scale), `after.${k}: max |oodgen - PyTorch| = ${diff.toExponential(2)} (max ${scale.toExponential(2)})`);
    }
    assert.ok(model.encoder.parameters().every((p) => p.requiresGrad) && model.decoder.parameters().every((p) => p.requiresGrad));
    for (const t of ref.values()) t.dispose();
    enc.sgd.dispose(); dec.sgd.dispose();
    x.dispose();
    model.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(liveTensors(), start);
});
