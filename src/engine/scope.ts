// Memory scopes: every tensor created inside `tidy(fn)` is freed when fn returns, except what fn returns
// (moved to the enclosing scope) and what was `keep()`-ed. This is the per-step scope of the training loop;
// the FinalizationRegistry in tensor.ts is only a backstop for tensors that escape every scope.
import type { Tensor } from './tensor.js';

const stack: Set<Tensor>[] = [];

/** Adds a new tensor to the innermost scope; false when no scope is open. */
export function track(t: Tensor): boolean {
  if (stack.length === 0) return false;
  stack[stack.length - 1].add(t);
  return true;
}

/** Removes a tensor from every open scope so `tidy` will not free it (the FinalizationRegistry then backs it up). */
export function keep<T extends Tensor>(t: T): T {
  for (const s of stack) s.delete(t);
  t._guard();
  return t;
}

function collect(value: unknown, out: Set<Tensor>, depth = 0): void {
  if (value === null || value === undefined || depth > 4) return;
  if (typeof value !== 'object') return;
  if ((value as { __isTensor?: boolean }).__isTensor) {
    out.add(value as Tensor);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collect(v, out, depth + 1);
    return;
  }
  if (value instanceof Map) {
    for (const v of value.values()) collect(v, out, depth + 1);
    return;
  }
  if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value as Record<string, unknown>)) collect(v, out, depth + 1);
  }
}

/**
 * Runs fn and frees every tensor it created that is not part of its result.
 * The result may be a tensor, or arrays / plain objects / Maps holding tensors. Only tensors this scope owns
 * (created in it, or passed up to it by an inner scope) move to the enclosing scope; a tensor from outside
 * (a module's parameter, an input, what `Identity` returns unchanged) or one protected with `keep()` stays
 * where it was.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  stack.push(scope);
  let result: T;
  try {
    result = fn();
    if (result instanceof Promise) throw new Error('tidy(fn): fn must be synchronous (it returned a Promise)');
  } finally {
    stack.pop();
    const survivors = new Set<Tensor>();
    // result is unassigned only when fn threw; then everything in the scope is freed.
    try { collect(result!, survivors); } catch { /* fn threw */ }
    const parent = stack[stack.length - 1];
    for (const t of scope) {
      if (!survivors.has(t)) t.dispose();
      else if (t.isDisposed) continue;
      else if (parent) parent.add(t);
      else t._guard();
    }
  }
  return result;
}

/** Number of open scopes (for tests). */
export const scopeDepth = (): number => stack.length;
