// The per-thread workload of threads.test.ts, shared by the main thread and the workers. Returns how many results
// were wrong (a slot table shared between threads hands out one thread's tensor to another) and the live count.
export function hammer(n, iterations, seed) {
  const add = n.op('aten::add', 'Tensor');
  const sum = n.op('aten::sum', '');
  const held = [];
  let wrong = 0;
  let rng = seed >>> 0;
  const rand = () => ((rng = (Math.imul(rng, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  for (let i = 0; i < iterations; i++) {
    const v = (i % 97) + seed;
    const a = n.fromBuffer(new Float32Array(16).fill(v), [16], 6);
    const b = n.call(add, [a, a, 1]);
    const s = n.call(sum, [b]);
    const got = new Float32Array(n.toBuffer(s))[0];
    if (got !== 32 * v) wrong++;
    n.dispose(a);
    n.dispose(s);
    // Hold some results for a while so the table grows to a few hundred slots and shrinks again.
    if (rand() < 0.5 && held.length < 400) held.push([b, 2 * v]);
    else n.dispose(b);
    if (held.length > 0 && rand() < 0.4) {
      const [h, want] = held.splice(Math.floor(rand() * held.length), 1)[0];
      if (new Float32Array(n.toBuffer(h))[3] !== want) wrong++;
      n.dispose(h);
    }
  }
  for (const [h] of held) n.dispose(h);
  return { wrong, live: n.liveTensors() };
}
