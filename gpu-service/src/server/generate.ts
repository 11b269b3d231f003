// POST /internal/v1/generate: validate, queue, then stream the answer's frames (contract/src/frames.ts).
import { Hono } from 'hono';
import type { Context } from 'hono';
import type { ModelInfo, ProgressEvent } from '../engine/types.ts';
import type { Batcher, JobResult } from './batcher.ts';
import { DEADLINE_HEADER, encodeFrame, FRAMES_CONTENT_TYPE, GENERATE_PATH, generateRequestSchema, KEEP_ALIVE } from '@star-api/contract';
import type { GenerateBody, ImageEventBody, ProgressEventBody, ResultEventBody } from '@star-api/contract';
import { encodeImage, encodePreview } from './encode.ts';
import type { ServiceMetrics } from './metrics.ts';
import { problemBody, problemResponse, ProblemError } from './problem.ts';
import type { ProblemName } from './problem.ts';

export type Readiness = 'ready' | 'loading' | 'draining' | 'failed';

export interface GenerateDeps {
  maxBatch: number;
  requestTimeoutMs: number;
  /** A keep-alive line is written while an answer is otherwise quiet this long. */
  keepAliveMs: number;
  batcher: Batcher;
  /** Loaded models; empty until the engine is ready. */
  models: ReadonlyMap<string, ModelInfo>;
  readiness(): Readiness;
  metrics: ServiceMetrics;
}

/** The image frames (encoded bytes as payloads) and the result frame of a finished job. */
async function answerFrames(
  body: GenerateBody,
  info: ModelInfo,
  job: JobResult,
  acceptedAt: number,
  metrics: ServiceMetrics,
): Promise<Uint8Array[]> {
  const encodeStart = performance.now();
  const images = await Promise.all(
    job.images.map(async (image, i) => {
      const seed = body.seeds[i];
      const bytes = await encodeImage(
        image,
        body.output_format,
        body.png_metadata && {
          model: body.model,
          prompt: body.prompt,
          negative_prompt: body.negative_prompt,
          seed,
          cfg: body.cfg,
          top_k: body.top_k,
          top_p: body.top_p,
          more_smooth: body.more_smooth,
        },
      );
      return encodeFrame('image', { seed, format: body.output_format } satisfies ImageEventBody, bytes);
    }),
  );
  const encodeMs = performance.now() - encodeStart;
  const timings = {
    queue_ms: round(job.queueMs),
    text_ms: round(job.timings.textMs),
    generate_ms: round(job.timings.generateMs),
    decode_ms: round(job.timings.decodeMs),
    encode_ms: round(encodeMs),
    total_ms: round(performance.now() - acceptedAt),
  };
  metrics.observeStage('queue', timings.queue_ms, body.model);
  metrics.observeStage('text', timings.text_ms, body.model);
  metrics.observeStage('generate', timings.generate_ms, body.model);
  metrics.observeStage('decode', timings.decode_ms, body.model);
  metrics.observeStage('encode', timings.encode_ms, body.model);
  metrics.observeStage('total', timings.total_ms, body.model);
  metrics.images.inc({ model: body.model }, images.length);
  const first = job.images[0];
  const result: ResultEventBody = {
    model: info.name,
    width: first?.width ?? info.resolution,
    height: first?.height ?? info.resolution,
    timings,
    batch_size: job.batchSize,
  };
  return [...images, encodeFrame('result', result)];
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** Maps any failure to its problem; unknown errors are the engine's (500). */
function problemOf(error: unknown): { name: ProblemName; detail: string; retryAfterS?: number } {
  if (error instanceof ProblemError) return { name: error.problem, detail: error.message, retryAfterS: error.retryAfterS };
  return { name: 'generation_failed', detail: error instanceof Error ? error.message : String(error) };
}

async function progressBody(progress: ProgressEvent): Promise<ProgressEventBody> {
  const body: ProgressEventBody = { scale: progress.scale, scales: progress.scales, side: progress.side };
  if (progress.previews) {
    body.previews = await Promise.all(
      progress.previews.map(async (image) => ({ format: 'png' as const, b64: await encodePreview(image) })),
    );
  }
  return body;
}

export function generateRoutes(deps: GenerateDeps): Hono {
  const app = new Hono();
  const schema = generateRequestSchema(deps.maxBatch);

  app.post(GENERATE_PATH, async (c: Context) => {
    const acceptedAt = performance.now();
    let json: unknown;
    try {
      json = await c.req.json();
    } catch {
      return problemResponse('invalid_request', 'body is not valid JSON');
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const errors = parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
      return problemResponse('invalid_request', 'the request does not match the contract', { errors });
    }
    const body = parsed.data;

    let deadlineMs = deps.requestTimeoutMs;
    const deadlineHeader = c.req.header(DEADLINE_HEADER);
    if (deadlineHeader !== undefined) {
      if (!/^\d{1,9}$/.test(deadlineHeader) || Number(deadlineHeader) === 0) {
        return problemResponse('invalid_request', `${DEADLINE_HEADER} must be a positive whole number of milliseconds`);
      }
      deadlineMs = Math.min(deadlineMs, Number(deadlineHeader));
    }

    const readiness = deps.readiness();
    if (readiness !== 'ready') return problemResponse('gpu_unavailable', `the engine is not ready (${readiness})`, { retryAfterS: 5 });
    const info = deps.models.get(body.model);
    if (!info) return problemResponse('not_found', `unknown model "${body.model}"`);

    const clientSignal = c.req.raw.signal;
    // Frames are written in order through one chain (progress bodies are encoded asynchronously);
    // each write waits for the reader, and fails quietly once the client has gone.
    const answer = new TransformStream<Uint8Array, Uint8Array>();
    const writer = answer.writable.getWriter();
    let writes: Promise<unknown> = Promise.resolve();
    const write = (frames: () => Uint8Array[] | Promise<Uint8Array[]>) => {
      writes = writes
        .then(async () => {
          for (const frame of await frames()) await writer.write(frame);
        })
        .catch(() => {});
    };
    const emit = (event: string, data: () => unknown) => write(async () => [encodeFrame(event, await data())]);

    // Queued comes first: submit may already start the batch (and emit "started").
    emit('queued', () => ({ position: submitted.position }));
    let submitted: ReturnType<Batcher['submit']>;
    try {
      submitted = deps.batcher.submit({
        model: body.model,
        request: body,
        preview: body.preview,
        signal: clientSignal,
        deadlineMs,
        onStarted: ({ batchSize, scales }) => emit('started', () => ({ scales, batch_size: batchSize })),
        onProgress: (progress) => emit('progress', () => progressBody(progress)),
      });
    } catch (error) {
      const problem = problemOf(error);
      return problemResponse(problem.name, problem.detail, { retryAfterS: problem.retryAfterS });
    }

    // Queue waits and long scales can leave an answer quiet for minutes; proxies close quiet connections.
    const heartbeat = setInterval(() => write(() => [KEEP_ALIVE]), deps.keepAliveMs);
    void (async () => {
      try {
        const job = await submitted.result;
        const frames = await answerFrames(body, info, job, acceptedAt, deps.metrics);
        write(() => frames);
      } catch (error) {
        const problem = problemOf(error);
        // app.ts counts the error statuses of answers; a failure inside a 200 answer, or a client that left, is counted here.
        deps.metrics.countError(clientSignal.aborted ? 'client_closed' : problem.name);
        write(() => [encodeFrame('error', problemBody(problem.name, problem.detail))]);
      } finally {
        clearInterval(heartbeat);
        await writes;
        await writer.close().catch(() => {});
      }
    })();
    return new Response(answer.readable, { headers: { 'Content-Type': FRAMES_CONTENT_TYPE, 'Cache-Control': 'no-store' } });
  });

  return app;
}
