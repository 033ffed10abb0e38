// The DCGAN encoder/decoder pair shared by every model family (Radford et al. 2016, as used by the seed thesis
// and by Soft-IntroVAE's 32x32 setup). Children are named exactly as the PyTorch reference
// (bench/pytorch/dcgan_vae.py), so checkpoints load there with strict=True.
import {
  BatchNorm2d, Conv2d, ConvTranspose2d, Flatten, LeakyReLU, Linear, ReLU, Sequential, Unflatten,
} from '../nn/index.js';
import type { Generator } from '../engine/random.js';

export interface DcganOptions {
  /** Image channels (1 for the MNIST family, 3 for colour). */
  channels: number;
  /** Encoder output width: 2 * zDim for a Gaussian posterior, zDim for a deterministic AE. */
  encoderOut: number;
  zDim: number;
  /** Width of the first conv layer; the seed uses 64. */
  width?: number;
  imageSize?: 32 | 28;
  generator?: Generator;
}

/**
 * 32x32: Conv(c,w,4,2,1) LReLU Conv(w,2w,4,2,1) BN LReLU Conv(2w,4w,4,2,1) BN LReLU Flatten Linear(4w*16, out).
 * 28x28: the same with a 3x3 stride-2 first layer mapping 28 -> 14 -> 7 -> 4 (padding chosen so the spatial
 * sizes are 14, 7, 4 and the decoder mirrors them with output_padding).
 */
export function dcganEncoder(o: DcganOptions): Sequential {
  const w = o.width ?? 64;
  const g = { generator: o.generator };
  if ((o.imageSize ?? 32) === 32) {
    return new Sequential(
      new Conv2d(o.channels, w, 4, { stride: 2, padding: 1, ...g }), new LeakyReLU(0.2),
      new Conv2d(w, 2 * w, 4, { stride: 2, padding: 1, ...g }), new BatchNorm2d(2 * w), new LeakyReLU(0.2),
      new Conv2d(2 * w, 4 * w, 4, { stride: 2, padding: 1, ...g }), new BatchNorm2d(4 * w), new LeakyReLU(0.2),
      new Flatten(), new Linear(4 * w * 16, o.encoderOut, g),
    );
  }
  return new Sequential(
    new Conv2d(o.channels, w, 4, { stride: 2, padding: 1, ...g }), new LeakyReLU(0.2), // 28 -> 14
    new Conv2d(w, 2 * w, 4, { stride: 2, padding: 1, ...g }), new BatchNorm2d(2 * w), new LeakyReLU(0.2), // 14 -> 7
    new Conv2d(2 * w, 4 * w, 3, { stride: 2, padding: 1, ...g }), new BatchNorm2d(4 * w), new LeakyReLU(0.2), // 7 -> 4
    new Flatten(), new Linear(4 * w * 16, o.encoderOut, g),
  );
}

/** Mirror of the encoder; outChannels is c for Gaussian/Bernoulli decoders and 256c for a categorical one. */
export function dcganDecoder(o: DcganOptions & { outChannels: number }): Sequential {
  const w = o.width ?? 64;
  const g = { generator: o.generator };
  if ((o.imageSize ?? 32) === 32) {
    return new Sequential(
      new Linear(o.zDim, 4 * w * 16, g), new Unflatten(1, [4 * w, 4, 4]), // (B, 4w, 4, 4)
      new ConvTranspose2d(4 * w, 2 * w, 4, { stride: 2, padding: 1, ...g }), new BatchNorm2d(2 * w), new ReLU(), // 8x8
      new ConvTranspose2d(2 * w, w, 4, { stride: 2, padding: 1, ...g }), new BatchNorm2d(w), new ReLU(), // 16x16
      new ConvTranspose2d(w, o.outChannels, 4, { stride: 2, padding: 1, ...g }), // (B, outChannels, 32, 32)
    );
  }
  return new Sequential(
    new Linear(o.zDim, 4 * w * 16, g), new Unflatten(1, [4 * w, 4, 4]), // (B, 4w, 4, 4)
    new ConvTranspose2d(4 * w, 2 * w, 3, { stride: 2, padding: 1, ...g }), new BatchNorm2d(2 * w), new ReLU(), // 7x7
    new ConvTranspose2d(2 * w, w, 4, { stride: 2, padding: 1, ...g }), new BatchNorm2d(w), new ReLU(), // 14x14
    new ConvTranspose2d(w, o.outChannels, 4, { stride: 2, padding: 1, ...g }), // (B, outChannels, 28, 28)
  );
}
