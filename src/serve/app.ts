// The gate's HTTP service (Fastify): POST /v1/score, GET /v1/info, GET /healthz, GET /metrics and the page at /.
// Every bad input is answered with a 4xx JSON body { error: { code, message } } naming what was wrong; nothing a
// client sends can take the process down or leave tensors behind (decoding runs on plain arrays; the only tensors
// live inside the batch's tidy scope).
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import sharp from 'sharp';
import { OodgenError } from '../errors.js';
import { liveTensors } from '../engine/index.js';
import { packInputs, type Gate, type GateResult } from './gate.js';
import { MicroBatcher } from './batcher.js';
import { ScoringPool } from './scoring-pool.js';
import { BUILTIN_DETECTORS } from '../scores/builtin.js';
import { detectorSpec } from '../scores/registry.js';
import { createMetrics } from './metrics.js';
import { DEFAULT_IMAGE_LIMITS, imageToInput, pixelsToInput, type ImageLimits } from './decode.js';
import { HttpError, badRequest } from './errors.js';
import { PAGE_HTML } from './page.js';

export interface ServeOptions {
  /** Most images scored in one forward pass (default 32). */
  maxBatch?: number;
  /** Longest an image waits for batch-mates, ms (default 5). */
  maxWaitMs?: number;
  /** Largest request body, bytes (default 8 MiB). */
  bodyLimit?: number;
  /** Most images in one JSON request (default 64). */
  maxImages?: number;
  /** Header limits on image dimensions. */
  image?: Partial<ImageLimits>;
  /** Time allowed to receive a whole request, ms (default 10,000; Node answers 408 after it). */
  requestTimeoutMs?: number;
  /** Time allowed from a received request to its answer, ms (default 30,000; 503 after it). */
  scoreTimeoutMs?: number;
  /**
   * Scoring workers (worker_threads), each scoring one micro-batch at a time while this thread parses and decodes
   * the next requests (default 0: score on this thread). On the 2-core development machine scoring here, with
   * libtorch's own two threads, measured faster (docs/benchmarks.md: the forward pass then has both cores, and a
   * worker's libtorch threads fight this thread for them); a worker keeps this thread answering health checks,
   * metrics and new requests during long forward passes (IWAE with large K, big models) and is restarted if it
   * dies. Only a gate opened by openGate with a built-in detector can be scored in a worker (a worker rebuilds the
   * scorer from the run folder and cannot see detectors registered at run time); any other gate is scored here.
   */
  workers?: number;
  /** libtorch threads per scoring worker (default 1; 2 measured slower on 2 cores: they compete with this thread). */
  workerThreads?: number;
  logger?: FastifyServerOptions['logger'];
}

/** The scoring workers behind a server built by buildServer (null when it scores on its own thread). */
const pools = new WeakMap<FastifyInstance, ScoringPool>();
export const scoringPool = (app: FastifyInstance): ScoringPool | null => pools.get(app) ?? null;

interface Item { x: Float32Array; rec: boolean }
interface Scored { score: number; rec?: Float32Array }

const errorBody = (code: string, message: string) => ({ error: { code, message } });

/** Fastify's own client errors, reworded to say what was wrong and what the gate accepts. */
function describeFastifyError(e: { code?: string; message: string; statusCode?: number }, o: { bodyLimit: number; contentType: string }): { status: number; code: string; message: string } | null {
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: 'body_too_large', message: `request body is larger than the limit of ${o.bodyLimit} bytes` };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, code: 'unsupported_content_type', message: `unsupported content type '${o.contentType}'; send image/png, image/jpeg, or application/json { "images": [base64, ...] }` };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, code: 'bad_content_length', message: 'the body length does not match the Content-Length header' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, code: 'empty_body', message: 'empty JSON body; send { "images": [base64, ...] }' };
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) return { status: e.statusCode, code: e.code ?? 'bad_request', message: e.message };
  return null;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decodeBase64(s: unknown, label: string): Buffer {
  if (typeof s !== 'string') throw badRequest('bad_image', `${label}: expected a base64 string, got ${s === null ? 'null' : Array.isArray(s) ? 'an array' : typeof s}`);
  // Data URLs (what a browser's FileReader gives) are accepted as they are.
  const body = s.replace(/^data:image\/[a-z+.-]+;base64,/i, '').replace(/\s+/g, '');
  if (body.length === 0) throw badRequest('empty_image', `${label}: empty string`);
  if (body.length % 4 === 1 || !BASE64.test(body)) throw badRequest('bad_base64', `${label}: not valid base64`);
  return Buffer.from(body, 'base64');
}

export async function buildServer(gate: Gate, o: ServeOptions = {}): Promise<FastifyInstance> {
  const maxBatch = o.maxBatch ?? 32;
  const maxImages = o.maxImages ?? 64;
  const bodyLimit = o.bodyLimit ?? 8 * 1024 * 1024;
  const scoreTimeoutMs = o.scoreTimeoutMs ?? 30_000;
  const limits: ImageLimits = { ...DEFAULT_IMAGE_LIMITS, ...o.image };
  if (!Number.isInteger(maxImages) || maxImages < 1) throw new OodgenError(`max images per request must be a positive integer, got ${maxImages}`);

  const app = Fastify({
    logger: o.logger ?? false, bodyLimit, requestTimeout: o.requestTimeoutMs ?? 10_000,
    return503OnClosing: true, forceCloseConnections: 'idle',
  });
  let batcher: MicroBatcher<Item, Scored> | undefined;
  let pool: ScoringPool | null = null;
  const metrics = createMetrics(maxBatch, () => batcher?.pending ?? 0, async () => liveTensors() + (pool ? await pool.liveTensors() : 0));
  const builtin = gate.source !== undefined && BUILTIN_DETECTORS.includes(detectorSpec(gate.scorer.name));
  const nWorkers = builtin ? o.workers ?? 0 : 0;
  if (!Number.isInteger(nWorkers) || nWorkers < 0) throw new OodgenError(`scoring workers must be an integer >= 0, got ${o.workers}`);
  // Started once the app exists (the pool logs through it).
  pool = nWorkers > 0 ? await ScoringPool.start(gate.source!, gate.scorer.settings(), {
    workers: nWorkers, threads: o.workerThreads ?? 1, onRestart: () => metrics.workerRestarts.inc(),
    log: (line) => app.log.warn(line),
  }) : null;
  const workers = pool;
  if (workers) {
    pools.set(app, workers);
    // After the in-flight requests have been answered: the workers free their models and exit.
    app.addHook('onClose', async () => workers.close());
  }

  const per = gate.input.channels * gate.input.size * gate.input.size;
  const answers = (items: Item[], scores: Float32Array, rec?: Float32Array): Scored[] =>
    items.map((it, k) => (it.rec && rec ? { score: scores[k]!, rec: rec.slice(k * per, (k + 1) * per) } : { score: scores[k]! }));
  const queue = new MicroBatcher<Item, Scored>({
    maxBatch, maxWaitMs: o.maxWaitMs ?? 5, concurrency: workers?.size ?? 1,
    run(items) {
      const rec = items.some((i) => i.rec);
      if (!workers) {
        const r = gate.scoreBatch(items.map((i) => i.x), rec);
        return items.map((it, k) => (it.rec && r.reconstructions ? { score: r.scores[k]!, rec: r.reconstructions[k]! } : { score: r.scores[k]! }));
      }
      // The packed batch is transferred to the worker, not copied.
      return workers.score(packInputs(items.map((i) => i.x), per), items.length, rec).then((r) => answers(items, r.scores, r.reconstructions));
    },
    onBatch: (n) => metrics.batchSize.observe(n),
  });
  batcher = queue;

  // Only the three body types the gate takes; anything else is 415 (Fastify's default text/plain parser is removed).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(badRequest('empty_body', 'empty JSON body; send { "images": [base64, ...] }'), undefined);
    try {
      done(null, JSON.parse(text));
    } catch (e) {
      done(badRequest('malformed_json', `malformed JSON body: ${(e as Error).message}`), undefined);
    }
  });
  app.addContentTypeParser(['image/png', 'image/jpeg'], { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    if (err instanceof HttpError) return reply.code(err.statusCode).send(errorBody(err.code, err.message));
    const f = describeFastifyError(err, { bodyLimit, contentType: String(req.headers['content-type'] ?? '(none)') });
    if (f) return reply.code(f.status).send(errorBody(f.code, f.message));
    if (err instanceof OodgenError) return reply.code(400).send(errorBody('bad_request', err.message));
    req.log.error(err);
    return reply.code(500).send(errorBody('internal', 'internal error while scoring; the request was not scored'));
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send(errorBody('not_found', `no route ${req.method} ${req.url.split('?')[0]}; try POST /v1/score, GET /v1/info, GET /healthz, GET /metrics or GET /`));
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route, status: String(reply.statusCode) });
    metrics.latency.observe({ route }, reply.elapsedTime / 1000);
  });
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    queue.close();
  });
  // While closing, answers to in-flight requests also close their connection, so a keep-alive client does not hold
  // the shutdown for the keep-alive timeout.
  app.addHook('onSend', async (_req, reply) => {
    if (closing) reply.header('connection', 'close');
  });

  /** The request's images as model inputs. */
  async function inputsOf(req: FastifyRequest): Promise<Float32Array[]> {
    const body = req.body;
    const shape = gate.input;
    if (body === undefined || body === null || (Buffer.isBuffer(body) && body.length === 0)) throw badRequest('empty_body', 'empty body; send an image/png or image/jpeg body, or application/json { "images": [base64, ...] }');
    if (Buffer.isBuffer(body)) {
      const ct = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      return [await imageToInput(body, 'image 0', shape, limits, ct === 'image/png' ? 'png' : 'jpeg')];
    }
    if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('bad_json', 'JSON body must be an object { "images": [base64, ...] } or { "pixels": [[...], ...] }');
    const b = body as Record<string, unknown>;
    const keys = ['images', 'pixels'].filter((k) => b[k] !== undefined);
    if (keys.length !== 1) throw badRequest('bad_json', `JSON body needs exactly one of "images" (base64 PNG/JPEG) or "pixels" (arrays of ${shape.channels}x${shape.size}x${shape.size} values in [0, 1]); got ${keys.length ? keys.join(' and ') : `keys ${JSON.stringify(Object.keys(b))}`}`);
    const key = keys[0]!;
    const list = b[key];
    if (!Array.isArray(list)) throw badRequest('bad_json', `"${key}" must be an array, got ${typeof list}`);
    if (list.length === 0) throw badRequest('bad_json', `"${key}" is empty; send at least one image`);
    if (key === 'pixels' && typeof list[0] === 'number') throw badRequest('bad_pixels', `"pixels" is a flat array of numbers; it must hold one array per image: { "pixels": [[...${shape.channels * shape.size * shape.size} values...]] }`);
    if (list.length > maxImages) throw new HttpError(413, 'too_many_images', `"${key}" has ${list.length} images; at most ${maxImages} per request`);
    if (key === 'pixels') return list.map((v, i) => pixelsToInput(v, `pixels[${i}]`, shape));
    return Promise.all(list.map((s, i) => imageToInput(decodeBase64(s, `images[${i}]`), `images[${i}]`, shape, limits)));
  }

  app.post('/v1/score', async (req, reply) => {
    const xs = await inputsOf(req);
    const q = req.query as Record<string, string | undefined>;
    const rec = q.reconstruction === '1' || q.reconstruction === 'true';
    let gone = false;
    let timer: NodeJS.Timeout | undefined;
    // The client hung up before its answer: its queued images are skipped rather than scored.
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) gone = true;
    });
    const scored = await Promise.race([
      Promise.all(xs.map((x) => queue.submit({ x, rec }, () => gone))),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          gone = true;
          reject(new HttpError(503, 'timeout', `not scored within ${scoreTimeoutMs} ms (the gate is overloaded); retry later`));
        }, scoreTimeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    const results = await Promise.all(scored.map(async (s) => {
      const r: GateResult & { reconstruction?: string } = gate.decide(s.score);
      metrics.images.inc({ decision: r.ood ? 'ood' : 'id' });
      if (s.rec) r.reconstruction = await pngDataUrl(s.rec, gate.input.channels, gate.input.size);
      return r;
    }));
    return reply.send({ detector: gate.scorer.name, results });
  });

  app.get('/v1/info', async () => ({ ...gate.info(), histogram: gate.histogram() }));
  app.get('/healthz', async (_req, reply) => {
    if (workers?.down) return reply.code(503).send({ status: 'unavailable', detector: gate.scorer.name, queue: queue.pending, reason: workers.down });
    return { status: 'ok', detector: gate.scorer.name, queue: queue.pending };
  });
  app.get('/metrics', async (_req, reply: FastifyReply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(PAGE_HTML));
  return app;
}

/** A CHW float image in [0, 1] as a PNG data URL (for the page's reconstruction). */
async function pngDataUrl(x: Float32Array, c: number, s: number): Promise<string> {
  const plane = s * s;
  const hwc = Buffer.alloc(c * plane);
  for (let p = 0; p < plane; p++) for (let k = 0; k < c; k++) hwc[p * c + k] = Math.round(Math.min(1, Math.max(0, x[k * plane + p]!)) * 255);
  const png = await sharp(hwc, { raw: { width: s, height: s, channels: c as 1 | 3 } }).png().toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}
