#!/usr/bin/env python3
"""The lpath-knn design study: every variant tried, with its AUROC on each pair (docs/results.md, Fashion-MNIST
detector section). Input: the JSON of dump-features.mts. Second stages are fitted on the ID validation split
(2,000 images) or, where named, on 6,000 training-split codes; never on OoD or flipped images.

  /usr/bin/python3 scripts/flips-design/variants.py FEATURES.json
Columns: the pairs fashion-mnist:test vs hflip, vflip, MNIST, uniform noise, constant images (1,000 per set).
"""
import json
import sys

import numpy as np
from scipy.stats import gaussian_kde, skew
from sklearn.metrics import roc_auc_score
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import normalize

F = json.load(open(sys.argv[1]))
ID = 'fashion-mnist:test'
OODS = ['fashion-mnist:test+hflip', 'fashion-mnist:test+vflip', 'mnist:test', 'noise', 'constant']
OODS += [k for k in F if k not in OODS + [ID, 'val', 'train']]


def load(name):
    d = F[name]
    n = d['n']
    s = {k: np.asarray(d[k], dtype=np.float64) for k in ('rec', 'prior', 'entropy', 'u')}
    s['mu'] = np.asarray(d['mu']).reshape(n, -1)
    s['lv'] = np.asarray(d['logvar']).reshape(n, -1)
    s['elbo'] = s['rec'] + s['prior'] + s['entropy']
    s['v'] = np.linalg.norm(s['mu'], axis=1)
    s['w'] = np.linalg.norm(np.exp(0.5 * s['lv']), axis=1)
    return s


S = {k: load(k) for k in F}
va, tr = S['val'], S['train']
LABEL = {'fashion-mnist:test+hflip': 'hflip', 'fashion-mnist:test+vflip': 'vflip', 'mnist:test': 'MNIST'}
print(f"{'variant':58s} " + ' '.join(f'{LABEL.get(o, o)[:10]:>10s}' for o in OODS))


def report(name, fn):
    sid = fn(S[ID])
    r = [roc_auc_score(np.r_[np.zeros(len(sid)), np.ones(S[o]['u'].shape[0])], np.r_[sid, fn(S[o])]) for o in OODS]
    print(f'{name:58s} ' + ' '.join(f'{v:10.3f}' for v in r))


def fisher(T, X, two=None):
    """-2 sum_j log p_j, p_j the right-tail (or two-sided) conformal p-value against the reference rows T."""
    n = T.shape[0]
    Ts = np.sort(T, axis=0)
    s = 0
    for j in range(T.shape[1]):
        r = (n - np.searchsorted(Ts[:, j], X[:, j], side='left') + 1) / (n + 1)
        l = (np.searchsorted(Ts[:, j], X[:, j], side='right') + 1) / (n + 1)
        p = np.minimum(1, 2 * np.minimum(l, r)) if two is not None and two[j] else r
        s = s - 2 * np.log(p)
    return s


def copod(T, X):
    n = T.shape[0]
    Ts = np.sort(T, axis=0)
    sk = skew(T, axis=0)
    L = R = Sk = 0
    for j in range(T.shape[1]):
        ul = -np.log((np.searchsorted(Ts[:, j], X[:, j], side='right') + 1) / (n + 1))
        ur = -np.log((n - np.searchsorted(Ts[:, j], X[:, j], side='left') + 1) / (n + 1))
        L, R, Sk = L + ul, R + ur, Sk + (ul if sk[j] < 0 else ur)
    return np.maximum(np.maximum(L, R), Sk)


print('-- single statistics')
report('-ELBO', lambda s: -s['elbo'])
for c in (10, 20, 50):
    g = GaussianMixture(c, covariance_type='full', random_state=0, reg_covar=1e-4).fit(tr['mu'])
    report(f'-log GMM({c}, full) of mu, fitted on 6,000 train codes', lambda s, g=g: -g.score_samples(s['mu']))
for norm in (False, True):
    for k in (1, 5, 10):
        f = normalize if norm else (lambda m: m)
        nn = NearestNeighbors(n_neighbors=k).fit(f(tr['mu']))
        report(f'{k}-th NN distance of {"normalised " if norm else ""}mu (6,000 train codes)', lambda s, nn=nn, f=f, k=k: nn.kneighbors(f(s['mu']))[0][:, k - 1])

print('-- second stages over (-ELBO, -log GMM(20) of mu); GMM on train codes, second stage on val')
g = GaussianMixture(20, covariance_type='full', random_state=0, reg_covar=1e-4).fit(tr['mu'])
two = lambda s: np.stack([-s['elbo'], -g.score_samples(s['mu'])], 1)
T = two(va)
report('DoSE-KDE (sum of 1-D log KDEs)', lambda s: -(gaussian_kde(T[:, 0]).logpdf(two(s)[:, 0]) + gaussian_kde(T[:, 1]).logpdf(two(s)[:, 1])))
report('sum of z-scores', lambda s: ((two(s) - T.mean(0)) / T.std(0)).sum(1))
report('COPOD', lambda s: copod(T, two(s)))
report('Fisher, right tails', lambda s: fisher(T, two(s)))

print('-- Fisher over LPath statistics (reference: val)')
uvw = lambda s: np.stack([s['u'], s['v'], s['w']], 1)
report('Fisher(u, v, w), right tails', lambda s: fisher(uvw(va), uvw(s)))
report('Fisher(u, v, w), two-sided', lambda s: fisher(uvw(va), uvw(s), [1, 1, 1]))
report('COPOD(u, v, w) (= lpath)', lambda s: copod(uvw(va), uvw(s)))
for c in (5, 10, 20):
    g = GaussianMixture(c, covariance_type='full', random_state=0, reg_covar=1e-4).fit(tr['mu'])
    M = lambda s, g=g: np.c_[uvw(s), -g.score_samples(s['mu'])]
    report(f'Fisher(u, v, w, -log GMM({c}) on train codes)', lambda s, M=M: fisher(M(va), M(s)))

print('-- Fisher(u, v, w, k-th NN distance of the code), bank = the fitting codes, reference distances leave-one-out')
for bank_name, bank in (('val 2,000', va), ('train 6,000', tr)):
    for norm in (False, True):
        f = normalize if norm else (lambda m: m)
        for k in (1, 2, 5, 10):
            nn = NearestNeighbors(n_neighbors=k).fit(f(bank['mu']))
            loo = nn.kneighbors()[0][:, k - 1]
            T = np.c_[uvw(bank), loo]
            report(f'{bank_name}, {"normalised" if norm else "raw"} mu, k = {k}' + ('   <- lpath-knn' if bank is va and norm and k == 5 else ''),
                   lambda s, nn=nn, f=f, k=k, T=T: fisher(T, np.c_[uvw(s), nn.kneighbors(f(s['mu']))[0][:, k - 1]]))
