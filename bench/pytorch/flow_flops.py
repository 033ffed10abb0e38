#!/usr/bin/env python3
"""Multiply-accumulates of one forward pass (batch 64) of the flow models' training configurations, counted on the
PyTorch transcriptions (tests/fixtures/fvae_ref.py, glow_ref.py) by wrapping F.conv2d, F.conv_transpose2d and
F.linear; elementwise ops are not counted. A training step costs about 3x the forward (backward: input and weight
gradients), so GFLOP per step ~ 2 * 3 * MACs.

  /usr/bin/python3 bench/pytorch/flow_flops.py      (docs/benchmarks.md, "Flow models")
"""
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'tests', 'fixtures'))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'scripts', 'py'))
sys.path.insert(0, HERE)
import glow_ref  # noqa: E402
import torch.nn.modules.conv as nn_conv  # noqa: E402
import torch.nn.modules.linear as nn_linear  # noqa: E402
from fvae_ref import FVae  # noqa: E402

MACS = {'conv': 0, 'conv_transpose': 0, 'linear': 0}
_conv2d, _conv_t2d, _linear = F.conv2d, F.conv_transpose2d, F.linear


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    y = _conv2d(x, w, b, stride, padding, dilation, groups)
    MACS['conv'] += y.numel() * w.shape[1] * w.shape[2] * w.shape[3]  # per output: C_in/groups x kH x kW
    return y


def conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    MACS['conv_transpose'] += x.numel() * w.shape[1] * w.shape[2] * w.shape[3]  # per input: C_out x kH x kW
    return _conv_t2d(x, w, b, stride, padding, output_padding, groups, dilation)


def linear(x, w, b=None):
    y = _linear(x, w, b)
    MACS['linear'] += y.numel() * w.shape[1]
    return y


for mod in (F, nn_conv.F, nn_linear.F, glow_ref.F):
    mod.conv2d, mod.conv_transpose2d, mod.linear = conv2d, conv_transpose2d, linear


def count(name, fn):
    for k in MACS:
        MACS[k] = 0
    with torch.no_grad():
        fn()
    tot = sum(MACS.values())
    parts = ', '.join(f'{k} {v / 1e9:.2f}' for k, v in MACS.items())
    print(f'{name}: forward {tot / 1e9:.2f} GMAC per batch of 64 ({parts}); step ~ {6 * tot / 1e9:.1f} GFLOP')


def main():
    for ch, z in [(1, 1024), (1, 64), (3, 3072)]:
        full = z == ch * 1024
        flow = {'levels': 3, 'steps': 4, 'width': 64, 'lu': True} if full else {'levels': 1, 'steps': 8, 'width': 64, 'lu': True}
        m = FVae({'kind': 'fvae', 'channels': ch, 'imageSize': 32, 'zDim': z, 'width': 64, 'sigma2': 0.1, 'flow': flow})
        x = torch.rand(64, ch, 32, 32)
        count(f'fvae {ch}x32x32 z={z} (whole model)', lambda: m.log_terms(x, torch.randn(1, 64, z)))
        count(f'fvae {ch}x32x32 z={z} (its flow prior)', lambda: m.log_pw(torch.randn(64, z)))
    for ch in (1, 3):
        m = glow_ref.Glow({'kind': 'glow', 'channels': ch, 'imageSize': 32, 'flow': {'levels': 3, 'steps': 8, 'width': 128, 'lu': True}})
        x = torch.rand(64, ch, 32, 32)
        count(f'glow {ch}x32x32 3x8 width 128', lambda: m.log_density(x))
    return 0


if __name__ == '__main__':
    sys.exit(main())
