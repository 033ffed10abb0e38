// Writes a named dataset split, decoded at SIZE here exactly as `oodgen train` decodes it, as a uint8 safetensors
// file (`images` N,C,H,W, `labels`) that the tensor-folder source (src/data/sources.ts) reads back as the same split:
// `$OODGEN_DATA/<name>/<split>.safetensors`. scripts/gpu/prepare.sh uses it to carry CelebA at 32x32 to a GPU
// machine that has neither sharp nor the JPEGs. It then loads the written file through that source and checks that
// the float32 images the trainer gets are bit-identical to those from the original folder.
//   npx tsx scripts/gpu/pack-data.ts SPEC OUT_FILE [SIZE]      e.g. celeba:train .gpu/data/celeba/train.safetensors 32
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { loadDataset, parseSpec, resolveSpec } from '../../src/data/registry.js';
import { saveSafetensorsImages } from '../../src/data/safetensors-images.js';

const [spec, out, sizeArg = '32'] = process.argv.slice(2);
if (!spec || !out || !/^[a-z0-9-]+:[a-z]+$/.test(spec)) {
  console.error('usage: npx tsx scripts/gpu/pack-data.ts NAME:SPLIT OUT_FILE [SIZE]');
  process.exit(2);
}
const size = Number(sizeArg);
const { entry } = resolveSpec(spec);
// The decoder's own output (uint8 at size for image folders), before the float32 scaling that loadDataset applies.
const raw = await entry.load({ size: entry.decoded ? size : undefined });
if (!(raw.images instanceof Uint8Array)) throw new Error(`${spec}: decoded as float32, not uint8; cannot pack losslessly`);
mkdirSync(dirname(out), { recursive: true });
saveSafetensorsImages(out, raw, { spec, source: entry.source, size: String(size) });

// Round trip: the packed file as `NAME:SPLIT` through the tensor-folder source vs the original source.
const tmp = mkdtempSync(join(tmpdir(), 'oodgen-pack-'));
try {
  const { name, split } = parseSpec(spec);
  mkdirSync(join(tmp, name));
  symlinkSync(resolve(out), join(tmp, name, `${split}.safetensors`));
  if (basename(out) !== `${split}.safetensors`) console.error(`note: ${out} must be named ${split}.safetensors inside a folder named ${name} to be found as ${spec}`);
  const a = (await loadDataset(spec, { imageSize: size })).set;
  const b = (await loadDataset(spec, { imageSize: size, root: tmp })).set;
  const same = a.images.length === b.images.length && a.images.every((v, i) => v === b.images[i]) && a.shape.join() === b.shape.join();
  if (!same) throw new Error(`${spec}: the packed file does not load to the same images as ${entry.source}`);
  console.log(JSON.stringify({ spec, out, shape: raw.shape, source: entry.source, identicalAfterLoad: same }));
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
