// The built-in suites, as the JSON a user would write (suite.ts validates them like any file).
// Zoo names are the folders under zoo/ (issue 13 item 3); a model missing from the zoo is skipped with a note.
//
// Limits of `seed` (a 30-minute budget on the 2-core CPU): 1,000 images per set (AUROC bootstrap intervals are
// then about +-0.01 wide); IWAE at K = 50, capped where a categorical decoder makes it expensive (below). The latent
// experiment encodes 1,000 training images, 1,000 test images and 1,000 MNIST images per model (SVM fitted on
// 1,000 + 500, evaluated on 1,000 + 500).
// Why the IWAE caps: a categorical decoder's last layer emits 256 logits per pixel, so each of the K = 50 decodes
// per image costs ~13x a Gaussian one on Fashion-MNIST and ~36x on CIFAR-10. Measured on width-32 models (the zoo's
// width), one core, the zoo's training paused (other tests running): IWAE K = 50 costs 0.015 s per image for the
// Gaussian and 0.195 s for the categorical Fashion-MNIST VAE, 0.015 s and 0.54 s for the CIFAR-10 ones. At 1,000
// images per set the seed suite would take ~2.9 h, 2.4 h of it the categorical IWAE units. So IWAE runs on 250
// images per set in fmnist-decoders (no claim rests on it; C1/C2 use the ELBO) and on 100 per set, BN eval only, for
// the CIFAR-10 categorical VAE (colour-cat-iwae); everything else keeps 1,000. Measured: 20 min in all beside one
// training job (docs/results.md). `detectors` caps
// likelihood regret at 200 images per set because it runs ~100 Adam steps on an encoder copy per image, and input
// complexity at 1,000 (a PNG encode per image).

const FM_DECODERS = ['fm-vae-gauss', 'fm-vae-cat', 'fm-vae-bern'];

export const BUILTIN_SUITES: Record<string, unknown> = {
  seed: {
    name: 'seed',
    description: 'The thesis\'s experiments (Chen 2021, ch. 3) on the zoo models',
    limit: 1000,
    notes: [
      'IWAE (K = 50) runs on 250 images per set in fmnist-decoders and on 100 per set (BN eval only) for the CIFAR-10 categorical VAE (colour-cat-iwae): a categorical decoder emits 256 logits per pixel, so its IWAE costs 0.2 s (Fashion-MNIST) and 0.54 s (CIFAR-10) per image on one core, and at 1,000 per set those units alone would take 2.4 h of the suite\'s 30-minute budget. Every other unit uses 1,000 images per set.',
      'The figures of the latent analysis (distance histograms, interpolation strips along w, hardest samples, t-SNE / UMAP maps) come from `oodgen latent --checkpoint zoo/fm-vae-gauss --id fashion-mnist --ood mnist:test --out DIR`; the suite\'s fmnist-latent experiment computes the numbers.',
    ],
    experiments: [
      {
        name: 'fmnist-decoders',
        description: 'Fashion-MNIST vs MNIST with Gaussian, categorical and Bernoulli decoders (claims C1, C2; ELBO components Fig. 3.8, claim C6)',
        models: FM_DECODERS, detectors: ['elbo', 'iwae', 'components'], bn: ['eval'],
        pairs: ['fmnist-mnist', 'fmnist-noise', 'fmnist-constant'], options: { k: 50 }, recon: 8,
        // the categorical VAE's IWAE: 4 sets x 1,000 x 0.195 s = 13 min; at 250 per set 3.3 min
        detectorLimits: { iwae: 250 },
      },
      {
        name: 'fmnist-ae',
        description: 'The autoencoder reconstructs OoD inputs well (Fig. 3.3, claim C3)',
        models: ['fm-ae'], detectors: ['rec'], bn: ['eval'], pairs: ['fmnist-mnist', 'fmnist-noise', 'fmnist-constant'], recon: 16,
      },
      {
        name: 'fmnist-bn-modes',
        description: 'BatchNorm running vs batch statistics (Fig. 3.7, claim C5)',
        models: ['fm-vae-gauss', 'fm-vae-cat'], detectors: ['elbo'], bn: ['eval', 'enc', 'dec', 'both'], pairs: ['fmnist-mnist'], recon: 0,
      },
      {
        name: 'fmnist-latent', kind: 'latent',
        description: 'Linear SVM on posterior means, Fashion-MNIST vs MNIST (Table 3.1, claim C7), and OoD codes moved along its normal w, decoded and re-encoded (Fig. 3.10, claim C8)',
        models: ['fm-vae-gauss', 'fm-vae-cat'], pairs: ['fmnist-mnist'], bn: 'eval',
      },
      {
        name: 'fmnist-sintro',
        description: 'The GAN-VAE (Soft-IntroVAE) lowers the OoD likelihood (claim C4)',
        models: ['fm-sintro'], detectors: ['elbo', 'iwae'], bn: ['eval'], pairs: ['fmnist-mnist'], options: { k: 50 },
      },
      {
        name: 'colour',
        description: 'Colour pairs: the CIFAR-10 Gaussian VAE vs CelebA, MNIST, Fashion-MNIST, flips, noise, constant, SVHN, LSUN, CIFAR-100',
        models: ['c10-vae-gauss'], detectors: ['elbo', 'iwae', 'components'], bn: ['eval', 'enc'], pairs: ['cifar10'], options: { k: 50 },
      },
      {
        name: 'colour-cat',
        description: 'The CIFAR-10 categorical VAE on the same pairs: ELBO and its components (IWAE in colour-cat-iwae)',
        models: ['c10-vae-cat'], detectors: ['elbo', 'components'], bn: ['eval', 'enc'], pairs: ['cifar10'],
      },
      {
        name: 'colour-cat-iwae',
        // 0.54 s per image (256 logits per pixel and channel, K = 50 decodes): 8 sets x 100 = 7 min; at 1,000 per
        // set and both BN modes it would be 2.4 h
        description: 'IWAE (K = 50) of the CIFAR-10 categorical VAE, 100 images per set, BN running statistics',
        models: ['c10-vae-cat'], detectors: ['iwae'], bn: ['eval'], pairs: ['cifar10'], options: { k: 50 }, limit: 100, recon: 0,
      },
      {
        name: 'celeba',
        description: 'CelebA VAE vs CIFAR-10',
        models: ['celeba-vae'], detectors: ['elbo', 'iwae'], bn: ['eval'], pairs: ['celeba'], options: { k: 50 },
      },
    ],
  },
  detectors: {
    name: 'detectors',
    description: 'Every registered detector on every pair (per-sample scoring, BatchNorm running statistics, no OoD data used)',
    limit: 1000,
    experiments: [
      {
        name: 'fmnist',
        models: [{ run: 'fm-vae-gauss', background: 'fm-vae-bg' }],
        detectors: ['*'], bn: ['eval'], pairs: ['fmnist'], detectorLimits: { 'likelihood-regret': 200 },
      },
      {
        name: 'fmnist-waic',
        description: 'WAIC over the 5-seed ensemble',
        models: [{ run: 'fm-vae-ens0', ensemble: ['fm-vae-ens1', 'fm-vae-ens2', 'fm-vae-ens3', 'fm-vae-ens4'] }],
        detectors: ['waic'], bn: ['eval'], pairs: ['fmnist'],
      },
      {
        name: 'cifar10',
        models: [{ run: 'c10-vae-gauss', background: 'c10-vae-bg' }], detectors: ['*'], bn: ['eval'], pairs: ['cifar10'], detectorLimits: { 'likelihood-regret': 200 },
      },
      {
        name: 'cifar10-waic',
        description: 'WAIC over the 5-seed ensemble',
        models: [{ run: 'c10-vae-ens0', ensemble: ['c10-vae-ens1', 'c10-vae-ens2', 'c10-vae-ens3', 'c10-vae-ens4'] }],
        detectors: ['waic'], bn: ['eval'], pairs: ['cifar10'],
      },
      {
        name: 'celeba',
        models: [{ run: 'celeba-vae', background: 'celeba-vae-bg' }], detectors: ['*'], bn: ['eval'], pairs: ['celeba'], detectorLimits: { 'likelihood-regret': 200 },
      },
      {
        name: 'celeba-waic',
        description: 'WAIC over the 5-seed ensemble',
        models: [{ run: 'celeba-vae-ens0', ensemble: ['celeba-vae-ens1', 'celeba-vae-ens2', 'celeba-vae-ens3', 'celeba-vae-ens4'] }],
        detectors: ['waic'], bn: ['eval'], pairs: ['celeba'],
      },
    ],
  },
};
