// Random number generators. A Generator is seeded explicitly; its state can be saved and restored so an
// interrupted training run resumes with exactly the random stream it would have had.
import { native, type GeneratorHandle } from './native.js';
import { Tensor } from './tensor.js';
import { fromTypedArray } from './ops/creation.js';

export class Generator {
  private constructor(private readonly h: GeneratorHandle, readonly device: string) {}

  /** A new CPU generator with its own stream. */
  static cpu(seed: number): Generator {
    return new Generator(native.newGenerator(seed), 'cpu');
  }
  /** The default generator of a device (what ops use when given none). */
  static default(device = 'cpu'): Generator {
    return new Generator(native.defaultGenerator(device), device);
  }

  /** The handle for an op on `device`: a CPU generator cannot drive CUDA kernels, so that is refused clearly. */
  handleFor(device: string): GeneratorHandle {
    const onCuda = device.startsWith('cuda');
    if (onCuda !== this.device.startsWith('cuda')) {
      throw new Error(`a ${this.device} generator cannot sample on ${device}; use Generator.default('${device}') or sample on CPU and move`);
    }
    return this.h;
  }

  seed(seed: number): void {
    native.generatorSeed(this.h, seed);
  }
  /** The generator's state as bytes. */
  getState(): Uint8Array {
    const t = new Tensor(native.generatorGetState(this.h));
    try { return t.data() as Uint8Array; } finally { t.dispose(); }
  }
  setState(state: Uint8Array): void {
    const t = fromTypedArray(state, [state.length]);
    try { native.generatorSetState(this.h, t.handle); } finally { t.dispose(); }
  }
}

/** Seeds the default generators of the CPU and every CUDA device (like torch.manual_seed). */
export function manualSeed(seed: number): void {
  native.manualSeed(seed);
}
