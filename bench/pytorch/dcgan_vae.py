#!/usr/bin/env python3
"""Reference DCGAN-VAE (32x32 input, z = 128) in PyTorch: benchmark and checkpoint interop.

Usage (from the repository root; needs torch, works on 1.13 and 2.x):
  /usr/bin/python3 bench/pytorch/dcgan_vae.py bench --device cpu --steps 20 --warmup 3 --batch 64 --threads 2 --json
      Times Adam training steps (zero_grad(set_to_none=True), forward, backward, step) on random data
      generated once up front (--model categorical: the zoo's categorical CIFAR-10 VAE, width 32, on its -ELBO,
      random 8-bit levels); prints one JSON line
      {"median_ms","min_ms","max_ms","device","threads","steps","batch","torch"} (human text without --json).
  /usr/bin/python3 bench/pytorch/dcgan_vae.py save-checkpoint PATH [--c 3] [--z 128] [--seed 0]
      Writes the seeded module's state_dict (after 2 train steps, so BatchNorm running stats and
      num_batches_tracked are non-trivial) to PATH, and to PATH + '.probe.safetensors' a fixed input
      `_probe.x` (4, c, 32, 32) with the eval-mode encoder output `_probe.h` (4, 2z) and the eval-mode
      decoder output `_probe.xr` (4, c, 32, 32) of `_probe.z` = mu part of `_probe.h`.
  /usr/bin/python3 bench/pytorch/dcgan_vae.py check-checkpoint PATH [--c 3] [--z 128]
      Loads an oodgen-written safetensors checkpoint with load_state_dict(strict=True), runs an eval
      forward; if PATH + '.probe.safetensors' exists, also compares the encoder output against it.
      Prints "OK <n> parameters" (exit status 0) or an error (exit status 1).
  /usr/bin/python3 bench/pytorch/dcgan_vae.py check-run RUN_DIR
      Reads an oodgen run folder's config.json (kind, decoder, channels, zDim, width, imageSize, sigma2), builds the
      matching PyTorch model and loads model.safetensors (and best.safetensors) with strict=True; eval forward.
Importable: `from dcgan_vae import DcganVae, vae_loss, train_step` (put bench/pytorch on sys.path).

Parameter names are PyTorch's own: encoder.0.weight, encoder.3.running_mean, decoder.0.weight, ...
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'scripts', 'py'))
from st_io import load_file, save_file  # noqa: E402


class DcganVae(nn.Module):
    """The DCGAN VAE of oodgen's src/models/dcgan.ts + vae.ts. Defaults: the reference (c=3, z=128, width 64, 32x32).

    kind 'ae' has a z-wide encoder output; decoder 'categorical' emits 256*c channels; sigma2 'learned' adds the
    top-level parameter log_sigma2 of shape (c,)."""

    def __init__(self, c=3, z=128, width=64, image_size=32, decoder='gaussian', kind='vae', sigma2=None):
        super().__init__()
        self.c, self.z, self.kind, self.decoder_type = c, z, kind, decoder
        w = width
        if decoder == 'gaussian' and sigma2 == 'learned':
            self.log_sigma2 = nn.Parameter(torch.zeros(c))
        enc_out = z if kind == 'ae' else 2 * z
        out_c = 256 * c if decoder == 'categorical' else c
        k3 = 4 if image_size == 32 else 3  # 28x28: 14 -> 7 -> 4 with a 3x3 third conv / first deconv
        self.encoder = nn.Sequential(
            nn.Conv2d(c, w, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, 2, 1), nn.BatchNorm2d(2 * w), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 4 * w, k3, 2, 1), nn.BatchNorm2d(4 * w), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(4 * w * 16, enc_out),
        )
        self.decoder = nn.Sequential(
            nn.Linear(z, 4 * w * 16), nn.Unflatten(1, (4 * w, 4, 4)),
            nn.ConvTranspose2d(4 * w, 2 * w, k3, 2, 1), nn.BatchNorm2d(2 * w), nn.ReLU(),
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1), nn.BatchNorm2d(w), nn.ReLU(),
            nn.ConvTranspose2d(w, out_c, 4, 2, 1),
        )

    def forward(self, x):
        h = self.encoder(x)
        if self.kind == 'ae':
            return self.decoder(h), h, torch.zeros_like(h)
        mu, logvar = h.chunk(2, dim=1)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        return self.decoder(z), mu, logvar


def vae_loss(xr, x, mu, logvar):
    b = x.shape[0]
    rec = ((xr - x) ** 2).sum() / b
    kl = (-0.5 * (1 + logvar - mu ** 2 - torch.exp(logvar)).sum()) / b
    return rec + kl


def categorical_vae_loss(raw, x, mu, logvar):
    """-ELBO of the 256-way categorical decoder, batch mean: raw (B, 256*C, H, W), channel-major groups as oodgen's
    categoricalLogits; the softmax over the 256 levels of the contiguous (B, C, 256, H, W) view (oodgen's
    categoricalLogLik does the same), the level round(x * 255) gathered."""
    b, c, h, w = x.shape
    lp = torch.log_softmax(raw.view(b, c, 256, h, w), dim=2)
    idx = (x * 255).round().clamp(0, 255).long().unsqueeze(2)  # (B, C, 1, H, W)
    ll = lp.gather(2, idx).flatten(1).sum(1)
    kl = -0.5 * (1 + logvar - mu ** 2 - torch.exp(logvar)).sum(1)
    return (kl - ll).mean()


def train_step(model, opt, x, autocast=None, cache=True, loss_fn=vae_loss):
    opt.zero_grad(set_to_none=True)
    if autocast is None:
        xr, mu, logvar = model(x)
    else:
        # PyTorch's AMP recipe: the forward under autocast, the loss in float32 (oodgen autocasts the nets only);
        # no cast cache when the step is captured in a CUDA graph (the PyTorch docs' advice).
        with torch.autocast(device_type=x.device.type, dtype=autocast, cache_enabled=cache):
            xr, mu, logvar = model(x)
        xr, mu, logvar = xr.float(), mu.float(), logvar.float()
    loss = loss_fn(xr, x, mu, logvar)
    loss.backward()
    opt.step()
    return loss


def count_params(model):
    return sum(p.numel() for p in model.parameters())


def cmd_bench(a):
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    if dev.type == 'cuda' and not torch.cuda.is_available():
        print('CUDA requested but torch.cuda.is_available() is False', file=sys.stderr)
        return 1
    if a.cuda_graph and dev.type != 'cuda':
        print('--cuda-graph needs --device cuda', file=sys.stderr)
        return 1
    ac = {None: None, 'bf16': torch.bfloat16, 'fp16': torch.float16}[a.autocast]
    torch.manual_seed(a.seed)
    categorical = a.model == 'categorical'
    if categorical and (a.cuda_graph or a.autocast or a.channels_last):
        print('--model categorical runs the plain eager step (no --cuda-graph, --autocast or --channels-last)', file=sys.stderr)
        return 1
    # categorical: the zoo's c10-vae-cat (width 32, 256 logits per sub-pixel) on random 8-bit levels.
    model = (DcganVae(a.c, a.z, width=32, decoder='categorical') if categorical else DcganVae(a.c, a.z)).to(dev).train()
    x = (torch.randint(0, 256, (a.batch, a.c, 32, 32), device=dev).float() / 255 if categorical
         else torch.rand(a.batch, a.c, 32, 32, device=dev))  # generated once, before timing
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    # capturable=True keeps Adam's step count on the device (needed inside a CUDA graph; torch >= 1.12).
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, **({'capturable': True} if a.cuda_graph else {}))
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == 'cuda' else (lambda: None)
    loss_fn = categorical_vae_loss if categorical else vae_loss
    step = lambda: train_step(model, opt, x, ac, cache=not a.cuda_graph, loss_fn=loss_fn)  # noqa: E731
    if a.cuda_graph:
        # The whole-network capture of the PyTorch docs ("CUDA Graphs"): warm-up on a side stream, capture, replay.
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(max(a.warmup, 3)):
                step()
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        opt.zero_grad(set_to_none=True)
        with torch.cuda.graph(g):
            step()
        step = g.replay
    for _ in range(a.warmup):
        step()
    sync()
    times = []
    for _ in range(a.steps):
        sync()
        t0 = time.perf_counter()
        step()
        sync()
        times.append((time.perf_counter() - t0) * 1000.0)
    res = {
        'median_ms': statistics.median(times), 'min_ms': min(times), 'max_ms': max(times),
        'device': dev.type,
        'threads': torch.get_num_threads(), 'steps': a.steps, 'batch': a.batch, 'torch': torch.__version__,
        'engine': 'pytorch', 'channels_last': bool(a.channels_last), 'autocast': a.autocast, 'cuda_graph': bool(a.cuda_graph),
        'model': a.model,
    }
    if dev.type == 'cuda':
        res['gpu'] = torch.cuda.get_device_name(dev)
    if a.json:
        print(json.dumps(res))
    else:
        print(f"dcgan_vae train step on {res['device']} (torch {res['torch']}, {res['threads']} threads, batch {a.batch}): "
              f"median {res['median_ms']:.2f} ms, min {res['min_ms']:.2f}, max {res['max_ms']:.2f} over {a.steps} steps")
    return 0


def _probe_input(c, n=4):
    g = torch.Generator().manual_seed(1234)
    return torch.rand(n, c, 32, 32, generator=g)


def cmd_save(a):
    torch.manual_seed(a.seed)
    model = DcganVae(a.c, a.z).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(a.seed + 1)
    for _ in range(2):
        train_step(model, opt, torch.rand(8, a.c, 32, 32, generator=g))
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    save_file(sd, a.path, {'format': 'pt', 'model': 'dcgan_vae', 'c': str(a.c), 'z': str(a.z)})
    model.eval()
    x = _probe_input(a.c)
    with torch.no_grad():
        h = model.encoder(x)
        zmu = h[:, :a.z].contiguous()
        xr = model.decoder(zmu)
    save_file({'_probe.x': x, '_probe.h': h.contiguous(), '_probe.z': zmu, '_probe.xr': xr.contiguous()},
              a.path + '.probe.safetensors', {'c': str(a.c), 'z': str(a.z)})
    print(f'wrote {a.path} ({len(sd)} tensors, {count_params(model)} parameters) and {a.path}.probe.safetensors')
    return 0


def cmd_check(a):
    model = DcganVae(a.c, a.z)
    sd = load_file(a.path)
    sd = {k: v for k, v in sd.items() if not k.startswith('_probe.')}
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        print(f'FAIL: {a.path}: {e}', file=sys.stderr)
        return 1
    model.eval()
    probe = a.path + '.probe.safetensors'
    with torch.no_grad():
        if os.path.exists(probe):
            p = load_file(probe)
            h = model.encoder(p['_probe.x'])
            err = (h - p['_probe.h']).abs().max().item()
            if not err <= a.atol:
                print(f'FAIL: {a.path}: encoder output differs from probe by {err:.3g} (atol {a.atol})', file=sys.stderr)
                return 1
            if '_probe.z' in p and '_probe.xr' in p:
                xr = model.decoder(p['_probe.z'])
                err2 = (xr - p['_probe.xr']).abs().max().item()
                if not err2 <= a.atol:
                    print(f'FAIL: {a.path}: decoder output differs from probe by {err2:.3g}', file=sys.stderr)
                    return 1
        x = torch.rand(2, a.c, 32, 32)
        xr, mu, logvar = model(x)
        loss = vae_loss(xr, x, mu, logvar)
        if xr.shape != x.shape or not torch.isfinite(loss):
            print(f'FAIL: {a.path}: bad forward (shape {tuple(xr.shape)}, loss {loss.item()})', file=sys.stderr)
            return 1
    print(f'OK {count_params(model)} parameters')
    return 0


def cmd_check_run(a):
    """Loads an oodgen run folder's model.safetensors (and best.safetensors if present) into the matching PyTorch model."""
    with open(os.path.join(a.run, 'config.json')) as f:
        cfg = json.load(f)
    m = cfg['model']
    size = m['imageSize']
    names = ['model.safetensors'] + (['best.safetensors'] if os.path.exists(os.path.join(a.run, 'best.safetensors')) else [])
    for name in names:
        model = DcganVae(m['channels'], m['zDim'], m['width'], size, m['decoder'], 'ae' if m['kind'] == 'ae' else 'vae', m.get('sigma2'))
        sd = load_file(os.path.join(a.run, name))
        try:
            model.load_state_dict(sd, strict=True)
        except RuntimeError as e:
            print(f'FAIL: {a.run}/{name}: {e}', file=sys.stderr)
            return 1
        model.eval()
        with torch.no_grad():
            x = torch.rand(2, m['channels'], size, size)
            xr, mu, logvar = model(x)
            want = (2, 256 * m['channels'], size, size) if m['decoder'] == 'categorical' else (2, m['channels'], size, size)
            if tuple(xr.shape) != want or not torch.isfinite(xr).all():
                print(f'FAIL: {a.run}/{name}: bad forward (shape {tuple(xr.shape)}, want {want})', file=sys.stderr)
                return 1
        print(f'OK {a.run}/{name}: {m["kind"]}/{m["decoder"]} c={m["channels"]} z={m["zDim"]} width={m["width"]} {size}x{size}, '
              f'{len(sd)} tensors, {count_params(model)} parameters (torch {torch.__version__})')
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest='cmd', required=True)
    b = sub.add_parser('bench')
    b.add_argument('--device', default='cpu')
    b.add_argument('--steps', type=int, default=20)
    b.add_argument('--warmup', type=int, default=3)
    b.add_argument('--batch', type=int, default=64)
    b.add_argument('--threads', type=int, default=0, help='torch.set_num_threads (0 = leave default)')
    b.add_argument('--c', type=int, default=3)
    b.add_argument('--z', type=int, default=128)
    b.add_argument('--seed', type=int, default=0)
    b.add_argument('--channels-last', action='store_true')
    b.add_argument('--autocast', choices=['bf16', 'fp16'], default=None)
    b.add_argument('--cuda-graph', action='store_true')
    b.add_argument('--model', choices=['reference', 'categorical'], default='reference',
                   help="reference: width 64, squared error; categorical: the zoo's c10-vae-cat (width 32, 256-way decoder)")
    b.add_argument('--json', action='store_true')
    s = sub.add_parser('save-checkpoint')
    s.add_argument('path')
    s.add_argument('--c', type=int, default=3)
    s.add_argument('--z', type=int, default=128)
    s.add_argument('--seed', type=int, default=0)
    c = sub.add_parser('check-checkpoint')
    c.add_argument('path')
    c.add_argument('--c', type=int, default=3)
    c.add_argument('--z', type=int, default=128)
    c.add_argument('--atol', type=float, default=1e-4)
    r = sub.add_parser('check-run')
    r.add_argument('run')
    a = ap.parse_args(argv)
    return {'bench': cmd_bench, 'save-checkpoint': cmd_save, 'check-checkpoint': cmd_check, 'check-run': cmd_check_run}[a.cmd](a)


if __name__ == '__main__':
    sys.exit(main())
