/**
 * Shared shapes of the dataset layer. Kept free of engine imports so that readers, preprocessing and the
 * CLI work (and are testable) without the native addon.
 */

/**
 * The one image-set type: a stack of images in NCHW order; uint8 holds 0..255, float32 values in [0, 1].
 * Detectors (scores/types.ts ImageSource) and the latent analysis take this; ImageSet adds labels and provenance.
 */
export interface Images {
  images: Uint8Array | Float32Array;
  shape: [number, number, number, number];
  name?: string;
}

/** A loaded dataset: images with optional labels, a name and where they came from. */
export interface ImageSet extends Images {
  labels?: Int32Array;
  name: string;
  /** The file or folder the images were read from (or a description for synthetic sets). */
  source: string;
}

/**
 * What was done to a dataset between the file and the model. Plain JSON so a training run can store it in its
 * config.json and a later evaluation can apply the very same steps to another dataset.
 */
export interface PreprocessingRecord {
  dataset: string;
  split: string;
  format: string;
  source: string;
  count: number;
  native: { channels: number; height: number; width: number; dtype: 'uint8' | 'float32' };
  size: number;
  resize: string;
  crop: 'center' | 'none';
  channels: { from: number; to: number; method: string };
  scaling: string;
  /** Dequantization is applied per batch during training, not at load; recorded here so the formula travels with the run. */
  dequantization: string;
  limit?: number;
  labels: boolean;
  /** Transforms named after the spec (`+hflip`, `+vflip`), applied after everything above (transforms.ts). */
  transforms?: string[];
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeString(shape: readonly number[]): string {
  return shape.join('x');
}
