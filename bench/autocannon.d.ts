// The part of autocannon's API that bench/serve.ts uses (the package ships no types; @types/autocannon is not a
// dependency).
declare module 'autocannon' {
  interface Request { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer }
  interface Options { url: string; connections?: number; amount?: number; duration?: number; timeout?: number; sampleInt?: number; requests?: Request[] }
  interface Histogram { average: number; mean: number; p50: number; p90: number; p99: number; max: number; total: number }
  interface Result { requests: Histogram; latency: Histogram; throughput: Histogram; duration: number; errors: number; timeouts: number; non2xx: number }
  function autocannon(o: Options): Promise<Result>;
  export default autocannon;
}
