#!/usr/bin/env python3
"""PyTorch reference of oodgen's latent models and likelihood scores (src/models, src/scores).

Importable (put bench/pytorch on sys.path): `LatentVae(config)`, `elbo_components`, `iwae_log_weights`, `iwae`,
`set_bn_mode`. The module mirrors src/models/dcgan.ts + vae.ts + likelihoods.ts parameter for parameter
(encoder.N.*, decoder.N.*, optional log_sigma2), so an oodgen run's model.safetensors loads with strict=True.
config: the run's config.json "model" object: kind (vae|sintro), decoder (gaussian|categorical|bernoulli),
channels, imageSize (28|32), zDim, width, sigma2 (number or 'learned'; sintro default 0.5, vae default 1).

CLI (used by `oodgen bench score`):
  /usr/bin/python3 bench/pytorch/latent_vae.py bench-iwae --weights W.safetensors --config CONFIG.json
      --inputs X.safetensors --k 50 --batch 100 --threads 2 --repeats 1 --bn eval [--seed 0]
  Loads the weights and the images tensor `x` (N, C, H, W) float32, times IWAE K over all N images after one
  warm-up batch, prints one JSON line {images_per_s, seconds, n, k, batch, threads, torch, loglik_mean, loglik}.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'scripts', 'py'))
from st_io import load_file  # noqa: E402

LOG_2PI = math.log(2 * math.pi)


def dcgan_encoder(c, w, out, size):
    if size == 32:
        return nn.Sequential(
            nn.Conv2d(c, w, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, 2, 1), nn.BatchNorm2d(2 * w), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 4 * w, 4, 2, 1), nn.BatchNorm2d(4 * w), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(4 * w * 16, out))
    return nn.Sequential(
        nn.Conv2d(c, w, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(w, 2 * w, 4, 2, 1), nn.BatchNorm2d(2 * w), nn.LeakyReLU(0.2),
        nn.Conv2d(2 * w, 4 * w, 3, 2, 1), nn.BatchNorm2d(4 * w), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(4 * w * 16, out))


def dcgan_decoder(z, w, out_c, size):
    k1 = 4 if size == 32 else 3
    return nn.Sequential(
        nn.Linear(z, 4 * w * 16), nn.Unflatten(1, (4 * w, 4, 4)),
        nn.ConvTranspose2d(4 * w, 2 * w, k1, 2, 1), nn.BatchNorm2d(2 * w), nn.ReLU(),
        nn.ConvTranspose2d(2 * w, w, 4, 2, 1), nn.BatchNorm2d(w), nn.ReLU(),
        nn.ConvTranspose2d(w, out_c, 4, 2, 1))


class LatentVae(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.cfg = dict(config)
        c, z, w, size, dec = config['channels'], config['zDim'], config['width'], config['imageSize'], config['decoder']
        sigma2 = config.get('sigma2', 0.5 if config['kind'] == 'sintro' else 1)
        self.c, self.z, self.dec = c, z, dec
        self.sigma2 = sigma2
        if dec == 'gaussian' and sigma2 == 'learned':
            self.log_sigma2 = nn.Parameter(torch.zeros(c))
        self.encoder = dcgan_encoder(c, w, 2 * z, size)
        self.decoder = dcgan_decoder(z, w, 256 * c if dec == 'categorical' else c, size)

    @property
    def continuous(self):
        return self.dec == 'gaussian'

    def encode(self, x):
        return self.encoder(x).chunk(2, dim=1)

    def decode(self, z):
        raw = self.decoder(z)
        if self.dec != 'categorical':
            return raw
        b, _, h, w = raw.shape
        return raw.view(b, self.c, 256, h, w).permute(0, 2, 1, 3, 4)

    def log_likelihood(self, x, d):
        if self.dec == 'gaussian':
            se = (x - d) ** 2
            if self.sigma2 == 'learned':
                ls = self.log_sigma2.view(1, -1, 1, 1)
                return -0.5 * (se / ls.exp() + ls + LOG_2PI).flatten(1).sum(1)
            ls = math.log(self.sigma2)
            return -0.5 * se.flatten(1).sum(1) / self.sigma2 - 0.5 * x[0].numel() * (LOG_2PI + ls)
        if self.dec == 'bernoulli':
            return -F.binary_cross_entropy_with_logits(d, x, reduction='none').flatten(1).sum(1)
        lp = F.log_softmax(d, dim=1)
        idx = (x * 255).round().clamp(0, 255).long().unsqueeze(1)
        return lp.gather(1, idx).flatten(1).sum(1)


def set_bn_mode(model, mode):
    """eval / enc / dec / both: BatchNorms with batch statistics are put in train mode with momentum 0, so the
    running statistics stay unchanged (what oodgen's statsMode 'batch' does)."""
    model.eval()
    for part, on in ((model.encoder, mode in ('enc', 'both')), (model.decoder, mode in ('dec', 'both'))):
        for m in part.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.train(on)
                m.momentum = 0.0 if on else 0.1


def elbo_components(model, x, eps):
    """eps (L, B, Z). Returns reconstruction (MC mean over L), prior and entropy (analytic), each (B,)."""
    mu, logvar = model.encode(x)
    L, B, Z = eps.shape
    z = mu + torch.exp(0.5 * logvar) * eps
    ll = model.log_likelihood(x.repeat(L, 1, 1, 1), model.decode(z.reshape(L * B, Z))).view(L, B)
    rec = ll.mean(0)
    prior = -0.5 * (mu ** 2 + logvar.exp() + LOG_2PI).sum(1)
    entropy = 0.5 * (1 + logvar + LOG_2PI).sum(1)
    return rec, prior, entropy


def iwae_log_weights(model, x, eps, chunk=None):
    """eps (K, B, Z) -> log w (K, B)."""
    mu, logvar = model.encode(x)
    K, B, Z = eps.shape
    chunk = chunk or K
    out = []
    for k0 in range(0, K, chunk):
        e = eps[k0:k0 + chunk]
        m = e.shape[0]
        z = mu + torch.exp(0.5 * logvar) * e
        ll = model.log_likelihood(x.repeat(m, 1, 1, 1), model.decode(z.reshape(m * B, Z))).view(m, B)
        lpz = -0.5 * (z ** 2 + LOG_2PI).sum(-1)
        lqz = -0.5 * (e ** 2 + logvar + LOG_2PI).sum(-1)
        out.append(ll + lpz - lqz)
    return torch.cat(out, 0)


def iwae(model, x, eps, chunk=None):
    w = iwae_log_weights(model, x, eps, chunk)
    return torch.logsumexp(w, 0) - math.log(w.shape[0])


def cmd_bench(a):
    torch.set_num_threads(a.threads)
    with open(a.config) as f:
        cfg = json.load(f)
    cfg = cfg.get('model', cfg)
    model = LatentVae(cfg)
    sd = load_file(a.weights)
    model.load_state_dict(sd, strict=True)
    set_bn_mode(model, a.bn)
    x = load_file(a.inputs)['x'].float()
    n = x.shape[0]
    g = torch.Generator().manual_seed(a.seed)
    per = max(1, min(a.k, a.decode_batch // a.batch)) if a.decode_batch else a.k
    lls = []
    with torch.no_grad():
        xb = x[:a.batch]
        iwae(model, xb, torch.randn(a.k, xb.shape[0], model.z, generator=g), per)  # warm-up
        best = None
        for _ in range(a.repeats):
            lls = []
            t0 = time.perf_counter()
            for s in range(0, n, a.batch):
                xb = x[s:s + a.batch]
                eps = torch.randn(a.k, xb.shape[0], model.z, generator=g)
                lls.append(iwae(model, xb, eps, per))
            dt = time.perf_counter() - t0
            best = dt if best is None else min(best, dt)
    ll = torch.cat(lls)
    print(json.dumps({
        'engine': 'pytorch', 'images_per_s': n / best, 'seconds': best, 'n': n, 'k': a.k, 'batch': a.batch,
        'threads': torch.get_num_threads(), 'torch': torch.__version__, 'bn': a.bn,
        'loglik_mean': ll.mean().item(), 'loglik': ll.tolist(),
    }))
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest='cmd', required=True)
    b = sub.add_parser('bench-iwae')
    b.add_argument('--weights', required=True)
    b.add_argument('--config', required=True)
    b.add_argument('--inputs', required=True)
    b.add_argument('--k', type=int, default=50)
    b.add_argument('--batch', type=int, default=100)
    b.add_argument('--decode-batch', type=int, default=0)
    b.add_argument('--threads', type=int, default=1)
    b.add_argument('--repeats', type=int, default=1)
    b.add_argument('--seed', type=int, default=0)
    b.add_argument('--bn', default='eval', choices=['eval', 'enc', 'dec', 'both'])
    a = ap.parse_args(argv)
    return cmd_bench(a)


if __name__ == '__main__':
    sys.exit(main())
