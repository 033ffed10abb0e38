// Autograd helpers: grad-mode scopes and gradient clipping.
import { native } from './native.js';
import { Tensor } from './tensor.js';
import { tidy } from './scope.js';
import { norm, stack } from './ops/index.js';
import { foreachMul_ } from './ops/inplace.js';

/** Runs fn with gradient tracking off (like `with torch.no_grad()`). */
export function noGrad<T>(fn: () => T): T {
  const prev = native.gradEnabled(false);
  try {
    return fn();
  } finally {
    native.gradEnabled(prev);
  }
}

/** Runs fn with gradient tracking on. */
export function enableGrad<T>(fn: () => T): T {
  const prev = native.gradEnabled(true);
  try {
    return fn();
  } finally {
    native.gradEnabled(prev);
  }
}

export const isGradEnabled = (): boolean => native.gradEnabled();

/** Backpropagates from several outputs at once. */
export function backward(outputs: Tensor[], grads?: Tensor[], retainGraph = false): void {
  native.backward(outputs.map((t) => t.handle), grads ? grads.map((g) => g.handle) : null, retainGraph, false);
}

/** The gradients of many tensors in one native call (null where a tensor has none). Owned by the caller's scope. */
export function gradsOf(ts: Tensor[]): (Tensor | null)[] {
  return native.grads(ts.map((t) => t.handle)).map((h) => (h === null ? null : new Tensor(h)));
}

/** Clears the gradients of many tensors (set to none) in one native call. */
export function clearGrads(ts: Tensor[]): void {
  native.clearGrads(ts.map((t) => t.handle));
}

/**
 * Scales gradients in place so their global 2-norm is at most maxNorm (torch.nn.utils.clip_grad_norm_).
 * Returns the norm before clipping.
 */
export function clipGradNorm(params: Tensor[], maxNorm: number): number {
  return tidy(() => noGrad(() => {
    const grads = gradsOf(params).filter((g): g is Tensor => g !== null);
    if (grads.length === 0) return 0;
    const total = norm(stack(grads.map((g) => norm(g)))).item();
    const coef = maxNorm / (total + 1e-6);
    if (coef < 1) foreachMul_(grads, coef);
    return total;
  }));
}
