#!/usr/bin/env python3
"""PyTorch side of `oodgen bench flow-step`: one training step of the f-VAE or Glow transcriptions
(tests/fixtures/fvae_ref.py, glow_ref.py) on the weights and batch oodgen saved, timed forward / backward / Adam.

  /usr/bin/python3 bench/pytorch/flow_step.py CONFIG_JSON STATE.safetensors INPUTS.safetensors STEPS WARMUP THREADS
      [LAYOUTS]

INPUTS holds x (B, C, H, W). Loads the state with strict=True (actnorm already initialised by oodgen's first step),
trains in float32 with Adam (lr 1e-4: the timing does not depend on it). LAYOUTS (default contiguous): a comma list
of contiguous / channels_last, the layout of the kept half as the coupling network reads it (oodgen's
couplingConvLayout); with two, they alternate step by step. Prints one JSON line
{layouts: {LAYOUT: {fwd_ms, bwd_ms, opt_ms, step_ms, sys_ms, preempt} (medians; sys_ms: kernel time, preempt:
involuntary context switches, per step)}, torch, threads, loss0}.
"""
import json
import math
import os
import resource
import statistics
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'tests', 'fixtures'))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'scripts', 'py'))
import glow_ref  # noqa: E402
from fvae_ref import FVae  # noqa: E402
from glow_ref import Glow  # noqa: E402
from st_io import load_file  # noqa: E402

LOG_256 = math.log(256)
LAYOUT = {'now': 'contiguous'}
FORMATS = {'contiguous': torch.contiguous_format, 'channels_last': torch.channels_last}


def coupling_forward(self, x):
    # glow_ref.Coupling.forward with the kept half in LAYOUT['now'] (the transcription's own is contiguous)
    xa, xb = x[:, :self.ca], x[:, self.ca:]
    h = self.net(xa.contiguous(memory_format=FORMATS[LAYOUT['now']]) if xa.shape[2] * xa.shape[3] > 1 else xa)
    t, s = h[:, :self.cb], torch.sigmoid(h[:, self.cb:] + 2)
    return torch.cat([xa, (xb + t) * s], 1), glow_ref.per_sample(torch.log(s))


glow_ref.Coupling.forward = coupling_forward


def fvae_loss(model, x, beta):
    # the negative beta-ELBO with one sample of u per image (src/models/vae.ts loss, fvae.ts elboTerms)
    mu = model.encoder(x)
    lv = model.posterior_logvar.view(1, -1)
    u = torch.randn_like(mu)
    w = mu + torch.exp(0.5 * lv) * u
    logpx = model.log_px(x, model.decoder(w))
    logpz = model.log_pw(w)
    logqz = -0.5 * (u ** 2 + lv + math.log(2 * math.pi)).sum(1)
    return -(logpx - beta * (logqz - logpz)).mean()


def glow_loss(model, x):
    # mean bits/dim of the dequantized batch (src/models/glow.ts loss)
    nll = -(model.log_density(x) - model.dims * LOG_256)
    return nll.mean() / (model.dims * math.log(2))


def main(argv):
    if len(argv) not in (6, 7):
        print(__doc__)
        return 2
    cfg = json.loads(argv[0])
    steps, warmup, threads = int(argv[3]), int(argv[4]), int(argv[5])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = FVae(cfg) if cfg['kind'] == 'fvae' else Glow(cfg)
    model.load_state_dict(load_file(argv[1]), strict=True)
    model.train()
    x = load_file(argv[2])['x'].float()
    beta = cfg.get('beta', 1) if cfg.get('beta') is not None else 1
    loss_fn = (lambda: fvae_loss(model, x, beta)) if cfg['kind'] == 'fvae' else (lambda: glow_loss(model, x))
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    layouts = argv[6].split(',') if len(argv) == 7 else ['contiguous']
    times = {l: [] for l in layouts}
    loss0 = None
    order = [(i, l) for i in range(warmup + steps) for l in (layouts if i % 2 == 0 else layouts[::-1])]
    for i, l in order:
        LAYOUT['now'] = l
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn()
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        if loss0 is None:
            loss0 = loss.item()
        if i >= warmup:
            r1 = resource.getrusage(resource.RUSAGE_SELF)
            times[l].append(((t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3, (t3 - t0) * 1e3,
                             (r1.ru_stime - r0.ru_stime) * 1e3, r1.ru_nivcsw - r0.ru_nivcsw))
    med = statistics.median
    keys = ('fwd_ms', 'bwd_ms', 'opt_ms', 'step_ms', 'sys_ms', 'preempt')
    out = {l: {k: med(t[j] for t in ts) for j, k in enumerate(keys)} for l, ts in times.items()}
    print(json.dumps({'layouts': out, 'torch': torch.__version__, 'threads': torch.get_num_threads(), 'loss0': loss0}))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
