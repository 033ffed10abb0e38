// The raw binding: a typed view of native/src/shim.cc. No logic lives here.
import { createRequire } from 'node:module';
import { applyOpenblasCoreType } from './blas-core.js';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** Opaque handles owned by the addon. */
export type TensorHandle = { readonly __tensor: unique symbol };
export type OpHandle = { readonly __op: unique symbol };
export type GeneratorHandle = { readonly __generator: unique symbol };
export type GroupHandle = { readonly __group: unique symbol };
export type CudaGraphHandle = { readonly __cudaGraph: unique symbol };

/** What `call` can return: tensors come back as handles. */
export type NativeValue = TensorHandle | number | boolean | null | undefined | NativeValue[];

export interface NativeBinding {
  op(name: string, overload: string): OpHandle;
  schema(op: OpHandle): string;
  call(op: OpHandle, args: unknown[]): NativeValue;
  fromBuffer(data: ArrayBufferView, shape: number[], scalarType: number): TensorHandle;
  toBuffer(t: TensorHandle): ArrayBuffer;
  shape(t: TensorHandle): number[];
  dtype(t: TensorHandle): number;
  device(t: TensorHandle): string;
  dispose(t: TensorHandle): void;
  liveTensors(): number;
  requiresGrad(t: TensorHandle): boolean;
  setRequiresGrad(t: TensorHandle, value: boolean): void;
  grad(t: TensorHandle): TensorHandle | null;
  setGrad(t: TensorHandle, g: TensorHandle | null): void;
  grads(ts: TensorHandle[]): (TensorHandle | null)[];
  clearGrads(ts: TensorHandle[]): void;
  backward(outputs: TensorHandle[], grads: TensorHandle[] | null, retainGraph: boolean, createGraph: boolean): void;
  gradEnabled(value?: boolean): boolean;
  manualSeed(seed: number): void;
  defaultGenerator(device: string): GeneratorHandle;
  newGenerator(seed: number): GeneratorHandle;
  generatorGetState(g: GeneratorHandle): TensorHandle;
  generatorSetState(g: GeneratorHandle, state: TensorHandle): void;
  generatorSeed(g: GeneratorHandle, seed: number): void;
  cudaDeviceCount(): number;
  synchronize(): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  buildInfo(): { torchVersion: string; cudaBuild: boolean; cudaGraphs: boolean; parallelInfo: string };
  /** torch.autocast's __enter__ on one device type: returns the previous [enabled, dtype code] for autocastExit. */
  autocastEnter(device: 'cpu' | 'cuda', scalarType: number): [boolean, number];
  autocastExit(device: 'cpu' | 'cuda', enabled: boolean, scalarType: number): void;
  /** CUDA graphs (CUDA builds only; the CPU build throws a clear Error). */
  cudaGraphNew(): CudaGraphHandle;
  cudaGraph(g: CudaGraphHandle, action: 'stream-on' | 'stream-off' | 'begin' | 'end' | 'replay' | 'reset'): void;
  // c10d (native/src/c10d.cc); typed for callers in src/engine/distributed.ts.
  c10dBackends(): { gloo: boolean; nccl: boolean };
  c10dInit(o: { backend: 'gloo' | 'nccl'; masterAddr: string; masterPort: number; rank: number; worldSize: number; timeoutMs: number; hostname?: string }): GroupHandle;
  c10dDestroy(g: GroupHandle): void;
  c10dAllreduce(g: GroupHandle, ts: TensorHandle[], op: 'sum' | 'max' | 'min' | 'product', timeoutMs?: number): void;
  c10dBroadcast(g: GroupHandle, ts: TensorHandle[], root: number, timeoutMs?: number): void;
  c10dAllgather(g: GroupHandle, outs: TensorHandle[], input: TensorHandle[], timeoutMs?: number): void;
  c10dBarrier(g: GroupHandle, timeoutMs?: number): void;
}

/** Every entry point of the addon; the fuzz test (tests/native) checks this against what the addon exports. */
export const NATIVE_ENTRY_POINTS = [
  'op', 'schema', 'call', 'fromBuffer', 'toBuffer', 'shape', 'dtype', 'device', 'dispose', 'liveTensors',
  'requiresGrad', 'setRequiresGrad', 'grad', 'setGrad', 'grads', 'clearGrads', 'backward', 'gradEnabled',
  'manualSeed', 'defaultGenerator', 'newGenerator', 'generatorGetState', 'generatorSetState', 'generatorSeed',
  'cudaDeviceCount', 'synchronize', 'setNumThreads', 'getNumThreads', 'buildInfo',
  'autocastEnter', 'autocastExit', 'cudaGraphNew', 'cudaGraph',
  'c10dBackends', 'c10dInit', 'c10dDestroy', 'c10dAllreduce', 'c10dBroadcast', 'c10dAllgather', 'c10dBarrier',
] as const satisfies readonly (keyof NativeBinding)[];
// Fails to compile if NativeBinding gains a method the list above lacks.
type Missing = Exclude<keyof NativeBinding, (typeof NATIVE_ENTRY_POINTS)[number]>;
const complete: [Missing] extends [never] ? true : Missing = true;
void complete;

/** Where the addon is looked for: $OODGEN_NATIVE, else native/build/Release from src/engine or dist/src/engine. */
export function addonPath(): string | undefined {
  if (process.env.OODGEN_NATIVE) return existsSync(process.env.OODGEN_NATIVE) ? process.env.OODGEN_NATIVE : undefined;
  const here = dirname(fileURLToPath(import.meta.url));
  return [join(here, '..', '..'), join(here, '..', '..', '..')]
    .map((root) => join(root, 'native', 'build', 'Release', 'oodgen_native.node'))
    .find((p) => existsSync(p));
}

let loaded: NativeBinding | null = null;

/** The raw addon, loaded on first use (so importing oodgen, e.g. for --help or pure-TS modules, never needs it). */
function binding(): NativeBinding {
  if (loaded) return loaded;
  const path = addonPath();
  if (!path) {
    const where = process.env.OODGEN_NATIVE ? `OODGEN_NATIVE=${process.env.OODGEN_NATIVE} does not exist` :
      'native/build/Release/oodgen_native.node is missing';
    throw new Error(`oodgen: the native addon is not built (${where}). ` +
      'After installing libtorch, run `npm run build:native` in a checkout, or `npm rebuild oodgen` where it is installed.');
  }
  // OpenBLAS chooses its kernels when libtorch pulls it in, right here (blas-core.ts).
  applyOpenblasCoreType();
  loaded = createRequire(import.meta.url)(path) as NativeBinding;
  return loaded;
}

/**
 * The binding. Each method starts as a stub that loads the addon and then replaces every stub with the addon's
 * own function, so after the first call there is no indirection on the per-op path.
 */
export const native = {} as NativeBinding;
for (const name of NATIVE_ENTRY_POINTS) {
  (native as unknown as Record<string, unknown>)[name] = (...args: unknown[]): unknown => {
    Object.assign(native, binding());
    return (native[name] as (...a: unknown[]) => unknown)(...args);
  };
}
