// The shape conversions a dataset went through to reach a model's input shape (channels and size), read from its
// PreprocessingRecord: what `oodgen score` / `eval` / `evaluate-run` report once on stderr and record in their JSON,
// and what --strict-shape refuses (issue 11 item 5: no silent 1<->3 channel or resize conversions).
import type { PreprocessingRecord } from './types.js';

/** One sentence per conversion (channels, then size); empty when the images already had the model's shape. */
export function shapeConversions(p: PreprocessingRecord): string[] {
  const out: string[] = [];
  if (p.channels.from !== p.channels.to) out.push(`channels ${p.channels.from} -> ${p.channels.to} (${p.channels.method})`);
  if (p.native.height !== p.size || p.native.width !== p.size) {
    out.push(`size ${p.native.height}x${p.native.width} -> ${p.size}x${p.size} (${p.resize}${p.crop === 'center' ? ', center crop' : ''})`);
  }
  return out;
}
