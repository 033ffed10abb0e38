// The coupling networks run channels_last on the CPU (flow-layers.ts couplingConvLayout, a speed choice): the
// layout must change no value. Oracle: the same flow with the layout switched to contiguous (the PyTorch
// transcription's own), for the exact log-density, every parameter gradient and the inverse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Generator, tidy, liveTensors, randn, backward, gradsOf, clearGrads, sub, abs, max, mean, isChannelsLast, type Tensor,
} from '../../src/engine/index.js';
import { uniformInit } from '../../src/nn/init.js';
import { AffineCoupling, couplingConvLayout } from '../../src/models/flow-layers.js';
import { GlowFlow } from '../../src/models/glow.js';

const maxAbs = (a: Tensor, b: Tensor): number => max(abs(sub(a, b))).item();
const maxOf = (a: Tensor): number => max(abs(a)).item();

test('channels_last coupling networks give the contiguous layout\'s log-density, gradients and inverse', () => {
  const start = liveTensors();
  const saved = couplingConvLayout.cpu;
  const flow = new GlowFlow({ shape: [2, 8, 8], levels: 2, steps: 2, width: 16, lu: true, generator: Generator.cpu(1) });
  const g = Generator.cpu(2);
  // every parameter random (the zero convs would otherwise make each coupling the identity and hide its network)
  for (const p of flow.parameters()) uniformInit(p, 0.3, g);
  const y = randn([5, 2, 8, 8], { generator: Generator.cpu(3) });
  // which layout each coupling network was handed, so the comparison cannot pass with the switch doing nothing
  const seen: boolean[] = [];
  const couplings = flow.levels.items.flatMap((l) => l.flows.items.map((s) => s.coupling));
  const originals = couplings.map((c) => c.net.forward.bind(c.net));
  couplings.forEach((c: AffineCoupling, i) => {
    c.net.forward = (x: Tensor) => { seen.push(isChannelsLast(x)); return originals[i]!(x); };
  });
  try {
    const run = (layout: 'contiguous' | 'channels_last') => {
      couplingConvLayout.cpu = layout;
      seen.length = 0;
      return tidy(() => {
        const lp = flow.flowLogProb(y);
        backward([mean(lp)]);
        const grads = gradsOf(flow.parameters()).map((t) => t!.clone());
        clearGrads(flow.parameters());
        const { zs } = flow.encode(y);
        const back = flow.reverse({ zs });
        return { lp: lp.detach(), grads, back, layouts: [...seen] };
      });
    };
    const a = run('contiguous');
    const b = run('channels_last');
    assert.ok(a.layouts.length > 0 && a.layouts.every((cl) => !cl), `contiguous run: coupling inputs channels_last? ${a.layouts}`);
    // every coupling input here has H*W > 1 (4x4 at level 1, 2x2 at level 2), so each is converted
    assert.ok(b.layouts.length === a.layouts.length && b.layouts.every((cl) => cl), `channels_last run: coupling inputs channels_last? ${b.layouts}`);
    tidy(() => {
      const dlp = maxAbs(a.lp, b.lp);
      assert.ok(dlp <= 1e-5 * maxOf(a.lp) + 1e-5, `log-density differs by ${dlp} (of ${maxOf(a.lp)})`);
      a.grads.forEach((ga, i) => {
        const d = maxAbs(ga, b.grads[i]!);
        assert.ok(d <= 1e-4 * maxOf(ga) + 1e-6, `gradient ${i} (${ga.shape.join('x')}) differs by ${d} (of ${maxOf(ga)})`);
      });
      assert.ok(maxAbs(b.back, y) <= 1e-4, `channels_last inverse misses x by ${maxAbs(b.back, y)}`);
      assert.ok(maxAbs(a.back, b.back) <= 1e-5, `the two layouts' inverses differ by ${maxAbs(a.back, b.back)}`);
    });
    for (const r of [a, b]) for (const t of [r.lp, r.back, ...r.grads]) t.dispose();
  } finally {
    couplingConvLayout.cpu = saved;
    couplings.forEach((c, i) => { c.net.forward = originals[i]!; });
  }
  flow.dispose();
  y.dispose();
  assert.equal(liveTensors(), start);
});
