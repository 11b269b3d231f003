// POST /internal/v1/generate: validate, queue, then answer as JSON or stream SSE.
import { Hono } from 'hono';
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { SSEStreamingApi } from 'hono/streaming';
import type { ModelInfo, ProgressEvent } from '../engine/types.ts';
import type { Batcher, JobResult } from './batcher.ts';
import { DEADLINE_HEADER, GENERATE_PATH, generateRequestSchema } from '@star-api/contract';
import type { GenerateBody, GenerateResponse, ProgressEventBody } from '@star-api/contract';
import { encodeImage, encodePreview } from './encode.ts';
import type { ServiceMetrics } from './metrics.ts';
import { problemBody, problemResponse, ProblemError } from './problem.ts';
import type { ProblemName } from './problem.ts';

export type Readiness = 'ready' | 'loading' | 'draining' | 'failed';

export interface GenerateDeps {
  maxBatch: number;
  requestTimeoutMs: number;
  sseHeartbeatMs: number;
  batcher: Batcher;
  /** Loaded models; empty until the engine is ready. */
  models: ReadonlyMap<string, ModelInfo>;
  readiness(): Readiness;
  metrics: ServiceMetrics;
}

async function responseBody(
  body: GenerateBody,
  info: ModelInfo,
  job: JobResult,
  acceptedAt: number,
  metrics: ServiceMetrics,
): Promise<GenerateResponse> {
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
      return { seed, format: body.output_format, b64: bytes.toString('base64') };
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
  return {
    model: info.name,
    width: first?.width ?? info.resolution,
    height: first?.height ?? info.resolution,
    images,
    timings,
    batch_size: job.batchSize,
  };
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
    body.preview = body.previews[0];
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

    const wantsStream = (c.req.header('accept') ?? '').includes('text/event-stream');
    const clientSignal = c.req.raw.signal;
    // SSE events are written in order through one chain that starts once the
    // stream is open: the batcher may report "started" before it is.
    const stream = Promise.withResolvers<SSEStreamingApi>();
    let events: Promise<unknown> = stream.promise;
    const emit = (event: string, data: () => unknown) => {
      if (!wantsStream) return;
      events = events
        .then(async () => {
          const payload = await data();
          await (await stream.promise).writeSSE({ event, data: JSON.stringify(payload) });
        })
        .catch(() => {});
    };

    // Queued comes first: submit may already start the batch (and emit "started").
    emit('queued', () => ({ position: submitted.position }));
    let submitted: ReturnType<Batcher['submit']>;
    try {
      submitted = deps.batcher.submit({
        model: body.model,
        request: body,
        preview: body.preview && wantsStream,
        signal: clientSignal,
        deadlineMs,
        onStarted: ({ batchSize, scales }) => emit('started', () => ({ scales, batch_size: batchSize })),
        onProgress: (progress) => emit('progress', () => progressBody(progress)),
      });
    } catch (error) {
      const problem = problemOf(error);
      return problemResponse(problem.name, problem.detail, { retryAfterS: problem.retryAfterS });
    }

    const finish = async (): Promise<{ ok: GenerateResponse } | { problem: ReturnType<typeof problemOf> }> => {
      try {
        const job = await submitted.result;
        return { ok: await responseBody(body, info, job, acceptedAt, deps.metrics) };
      } catch (error) {
        const problem = problemOf(error);
        // app.ts counts every error status; only errors inside a 200 stream, and clients that left, are counted here.
        if (clientSignal.aborted) deps.metrics.countError('client_closed');
        else if (wantsStream) deps.metrics.countError(problem.name);
        return { problem };
      }
    };

    if (!wantsStream) {
      const outcome = await finish();
      if ('ok' in outcome) return c.json(outcome.ok);
      return problemResponse(outcome.problem.name, outcome.problem.detail, { retryAfterS: outcome.problem.retryAfterS });
    }

    return streamSSE(c, async (sseStream) => {
      stream.resolve(sseStream);
      // Queue waits and long scales can leave a stream quiet for minutes; proxies close quiet streams.
      const heartbeat = setInterval(() => {
        events = events.then(() => sseStream.write(': keep-alive\n\n')).catch(() => {});
      }, deps.sseHeartbeatMs);
      try {
        const outcome = await finish();
        if ('ok' in outcome) emit('result', () => outcome.ok);
        else emit('error', () => problemBody(outcome.problem.name, outcome.problem.detail));
        await events;
      } finally {
        clearInterval(heartbeat);
      }
    });
  });

  return app;
}
