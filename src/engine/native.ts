// The raw binding: a typed view of native/src/shim.cc. No logic lives here.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** Opaque handles owned by the addon. */
export type TensorHandle = { readonly __tensor: unique symbol };
export type OpHandle = { readonly __op: unique symbol };
export type GeneratorHandle = { readonly __generator: unique symbol };

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
  buildInfo(): { torchVersion: string; cudaBuild: boolean; parallelInfo: string };
}

function load(): NativeBinding {
  const here = dirname(fileURLToPath(import.meta.url));
  // src/engine -> repo root, also from dist/src/engine.
  const candidates = [join(here, '..', '..'), join(here, '..', '..', '..')].map((root) =>
    process.env.OODGEN_NATIVE ?? join(root, 'native', 'build', 'Release', 'oodgen_native.node'));
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    throw new Error('oodgen: the native addon is not built (native/build/Release/oodgen_native.node is missing). ' +
      'After installing libtorch, run `npm run build:native` in a checkout, or `npm rebuild oodgen` where it is installed.');
  }
  return createRequire(import.meta.url)(path) as NativeBinding;
}

export const native: NativeBinding = load();
