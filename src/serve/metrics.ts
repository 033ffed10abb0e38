// Prometheus metrics of the gate (prom-client), in a registry of its own so several gates (tests) never share
// counters. Live tensors and RSS are read at scrape time.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { liveTensors } from '../engine/index.js';

export interface GateMetrics {
  registry: Registry;
  requests: Counter<'route' | 'status'>;
  latency: Histogram<'route'>;
  batchSize: Histogram;
  images: Counter<'decision'>;
  workerRestarts: Counter;
}

/** `live` counts native tensors of this thread and of the scoring workers. */
export function createMetrics(maxBatch: number, queueDepth: () => number, live: () => Promise<number> = async () => liveTensors()): GateMetrics {
  const registry = new Registry();
  const registers = [registry];
  const requests = new Counter({ name: 'oodgen_requests_total', help: 'HTTP requests by route and status code', labelNames: ['route', 'status'] as const, registers });
  const latency = new Histogram({
    name: 'oodgen_request_duration_seconds', help: 'Request latency (receive to reply) by route', labelNames: ['route'] as const, registers,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });
  const buckets: number[] = [];
  for (let b = 1; b < maxBatch; b *= 2) buckets.push(b);
  buckets.push(maxBatch);
  const batchSize = new Histogram({ name: 'oodgen_batch_size', help: 'Images per scored micro-batch', buckets, registers });
  const images = new Counter({ name: 'oodgen_images_scored_total', help: 'Images scored, by decision', labelNames: ['decision'] as const, registers });
  new Gauge({ name: 'oodgen_live_tensors', help: 'Native tensor handles alive (engine liveTensors()), this thread and the scoring workers together', registers, async collect() { this.set(await live()); } });
  new Gauge({ name: 'oodgen_resident_memory_bytes', help: 'Resident set size of the process (RSS)', registers, collect() { this.set(process.memoryUsage().rss); } });
  new Gauge({ name: 'oodgen_queue_depth', help: 'Images waiting for a micro-batch', registers, collect() { this.set(queueDepth()); } });
  const workerRestarts = new Counter({ name: 'oodgen_worker_restarts_total', help: 'Scoring workers started again after one died', registers });
  return { registry, requests, latency, batchSize, images, workerRestarts };
}
