// The built-in model families, one line each (registry.ts registers them in this order). A new family is one file
// exporting its ModelFamily plus one line here; outside code calls registerModel(family) instead.
import type { ModelFamily } from './registry.js';
import { aeFamily } from './ae.js';
import { vaeFamily } from './vae.js';
import { sintroFamily } from './sintro.js';

export const BUILTIN_MODELS: readonly ModelFamily[] = [
  aeFamily,
  vaeFamily,
  sintroFamily,
];
