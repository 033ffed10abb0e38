// `oodgen serve`: the OoD gate over HTTP (src/serve). Parses options, opens the gate, listens, and on SIGTERM or
// SIGINT stops accepting, lets in-flight requests finish, frees the model and returns.
import { InvalidArgumentError, type Command } from 'commander';
import { OodgenError } from '../errors.js';

function intArg(name: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got "${v}"`);
    return n;
  };
}
function numArg(name: string, ok: (n: number) => boolean, what: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || !ok(n)) throw new InvalidArgumentError(`${name} must be ${what}, got "${v}"`);
    return n;
  };
}

export interface ServeCliOptions {
  checkpoint: string; detector: string; calibrate?: string; tpr?: number; calibrateLimit?: number;
  k: number; samples: number; seed: number; bn: string; device: string; best?: boolean;
  port: number; host: string; maxBatch: number; maxWait: number; bodyLimitMb: number; maxImages: number;
  maxSide: number; requestTimeout: number; scoreTimeout: number; logLevel: string; workers: number; workerThreads: number;
}

export async function runServe(o: ServeCliOptions, log: (s: string) => void): Promise<void> {
  const { openGate, buildServer } = await import('../serve/index.js');
  const gate = await openGate({
    checkpoint: o.checkpoint, detector: o.detector, calibrate: o.calibrate, tpr: o.tpr, calibrateLimit: o.calibrateLimit,
    k: o.k, samples: o.samples, seed: o.seed, bn: o.bn, device: o.device, which: o.best ? 'best' : 'final', log,
  });
  let app: Awaited<ReturnType<typeof buildServer>>;
  try {
    app = await buildServer(gate, {
      maxBatch: o.maxBatch, maxWaitMs: o.maxWait, bodyLimit: Math.round(o.bodyLimitMb * 1024 * 1024), maxImages: o.maxImages,
      image: { maxSide: o.maxSide, maxPixels: o.maxSide * o.maxSide }, requestTimeoutMs: o.requestTimeout, scoreTimeoutMs: o.scoreTimeout,
      logger: o.logLevel === 'silent' ? false : { level: o.logLevel }, workers: o.workers, workerThreads: o.workerThreads,
    });
  } catch (e) {
    gate.dispose();
    throw e;
  }
  let address: string;
  try {
    address = await app.listen({ port: o.port, host: o.host });
  } catch (e) {
    gate.dispose();
    throw new OodgenError(`cannot listen on ${o.host}:${o.port}: ${(e as Error).message}`);
  }
  log(`oodgen gate: ${gate.scorer.name}, threshold ${gate.threshold.toPrecision(6)} (TPR ${gate.calibration.tpr}); listening on ${address}`);
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      log(`oodgen gate: ${sig}, finishing in-flight requests`);
      app.close().then(() => {
        gate.dispose();
        log('oodgen gate: stopped');
        resolve();
      }, (e) => {
        log(`oodgen gate: error while closing: ${(e as Error).message}`);
        resolve();
      });
    };
    const onTerm = () => stop('SIGTERM');
    const onInt = () => stop('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
}

export function registerServeCommand(program: Command): void {
  const log = (s: string) => void process.stderr.write(s + '\n');
  program.command('serve')
    .description('OoD gate over HTTP: POST /v1/score (image/png, image/jpeg or JSON {"images": [base64...]}) -> {score, threshold, ood, pValue}; page at /')
    .requiredOption('--checkpoint <dir>', 'run folder (config.json + model.safetensors)')
    .requiredOption('--detector <name>', 'per-sample detector: rec | elbo | components | iwae | bpd')
    .option('--calibrate <spec>', 'ID dataset to calibrate on (saved to the run folder); without it the saved calibration is used')
    .option('--tpr <x>', 'fraction of ID calibration images let through (with --calibrate; default 0.95)', numArg('--tpr', (n) => n > 0 && n <= 1, 'in (0, 1]'))
    .option('--calibrate-limit <n>', 'at most this many calibration images', intArg('--calibrate-limit', 2))
    .option('--k <n>', 'IWAE / bpd importance samples', intArg('--k', 1), 50)
    .option('--samples <n>', 'ELBO / components reconstruction samples', intArg('--samples', 1), 1)
    .option('--seed <n>', 'seed of the fixed posterior noise', intArg('--seed', 0), 0)
    .option('--bn <mode>', 'BatchNorm statistics; only eval can be served (batch statistics depend on batch-mates)', 'eval')
    .option('--device <device>', 'cpu | cuda', 'cpu')
    .option('--best', 'use best.safetensors instead of model.safetensors')
    .option('--port <n>', 'TCP port (0: any free port)', intArg('--port', 0), 8080)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--max-batch <n>', 'most images per forward pass', intArg('--max-batch', 1), 32)
    .option('--max-wait <ms>', 'longest an image waits for batch-mates', numArg('--max-wait', (n) => n >= 0, '>= 0'), 5)
    .option('--workers <n>', 'scoring worker threads, each scoring one micro-batch while the HTTP thread takes the next requests (0: score on the HTTP thread, measured faster on 2 cores)', intArg('--workers', 0), 0)
    .option('--worker-threads <n>', 'libtorch threads per scoring worker', intArg('--worker-threads', 1), 1)
    .option('--max-images <n>', 'most images per JSON request', intArg('--max-images', 1), 64)
    .option('--body-limit-mb <n>', 'largest request body in MiB', numArg('--body-limit-mb', (n) => n > 0, '> 0'), 8)
    .option('--max-side <n>', 'largest image width or height (read from the header before decoding)', intArg('--max-side', 1), 4096)
    .option('--request-timeout <ms>', 'time to receive a request', intArg('--request-timeout', 1), 10000)
    .option('--score-timeout <ms>', 'time from a received request to its answer (503 after)', intArg('--score-timeout', 1), 30000)
    .option('--log-level <level>', 'pino level: info | warn | error | silent', 'info')
    .action(async (o: ServeCliOptions) => {
      await runServe(o, log);
    });
}
