// The service over loopback: auth, validation, generation, the answer's frames,
// batching, metrics. One server for the whole file keeps the CPU cost low.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { FRAMES_CONTENT_TYPE, progressEventSchema, queuedEventSchema, startedEventSchema } from '@star-api/contract';
import { readPngText } from '../src/server/png-text.ts';
import type { RunningService } from '../src/server/server.ts';
import {
  ENGINE_ENV,
  GENERATE_PATH,
  generateBody,
  readAnswer,
  signedGet,
  signedPost,
  startTestService,
  TEST_SECRET,
} from './support/service.ts';

let service: RunningService;
before(async () => {
  // A window wide enough that two concurrent requests meet on a loaded 2-core CI machine
  // (at 30 ms the second arrived after the first had started: batches of 1 and 3).
  service = await startTestService({ ...ENGINE_ENV, MAX_BATCH: '8', BATCH_WINDOW_MS: '250' });
});
after(() => service.shutdown());

async function problem(response: Response) {
  assert.equal(response.headers.get('content-type'), 'application/problem+json');
  return (await response.json()) as { type: string; status: number; detail?: string; errors?: { path: string; message: string }[] };
}

describe('authentication', () => {
  it('accepts a correctly signed request', async () => {
    const answer = await readAnswer(await signedPost(service.url, GENERATE_PATH, generateBody()));
    assert.equal(answer.images.length, 1);
  });

  it('rejects a request without signature headers with 401 problem+json', async () => {
    const response = await fetch(service.url + GENERATE_PATH, { method: 'POST', body: JSON.stringify(generateBody()) });
    assert.equal(response.status, 401);
    assert.equal((await problem(response)).type, 'https://star-api.dev/problems/unauthorized');
  });

  it('rejects a signature made with another secret', async () => {
    const response = await signedPost(service.url, GENERATE_PATH, generateBody(), { secret: TEST_SECRET.replace('test', 'evil') });
    assert.equal(response.status, 401);
    await problem(response);
  });

  it('rejects a signature over a different body', async () => {
    const signed = JSON.stringify(generateBody());
    const { signedHeaders } = await import('../src/server/auth.ts');
    const response = await fetch(service.url + GENERATE_PATH, {
      method: 'POST',
      body: JSON.stringify(generateBody({ seeds: [99] })),
      headers: signedHeaders(TEST_SECRET, 'POST', GENERATE_PATH, signed),
    });
    assert.equal(response.status, 401);
  });

  it('rejects a stale timestamp (more than 300 s old)', async () => {
    const response = await signedPost(service.url, GENERATE_PATH, generateBody(), { nowS: Math.floor(Date.now() / 1000) - 301 });
    assert.equal(response.status, 401);
    assert.match((await problem(response)).detail ?? '', /stale/);
  });

  it('refuses the same signed request a second time (its nonce is spent)', async () => {
    const { signedHeaders } = await import('../src/server/auth.ts');
    const body = JSON.stringify(generateBody());
    const headers = signedHeaders(TEST_SECRET, 'POST', GENERATE_PATH, body, undefined, { 'content-type': 'application/json' });
    const first = await fetch(service.url + GENERATE_PATH, { method: 'POST', body, headers });
    await readAnswer(first);
    const replay = await fetch(service.url + GENERATE_PATH, { method: 'POST', body, headers });
    assert.equal(replay.status, 401);
    assert.match((await problem(replay)).detail ?? '', /replayed/);
  });

  it('refuses a request without a nonce', async () => {
    const { signedHeaders } = await import('../src/server/auth.ts');
    const body = JSON.stringify(generateBody());
    const headers = signedHeaders(TEST_SECRET, 'POST', GENERATE_PATH, body);
    delete headers['x-star-nonce'];
    const response = await fetch(service.url + GENERATE_PATH, { method: 'POST', body, headers });
    assert.equal(response.status, 401);
  });

  it('covers Accept and X-Request-Deadline-Ms by the signature: changing either after signing is a 401', async () => {
    const { signedHeaders } = await import('../src/server/auth.ts');
    const body = JSON.stringify(generateBody());
    for (const change of [{ accept: 'text/plain' }, { 'x-request-deadline-ms': '1' }]) {
      const headers = {
        ...signedHeaders(TEST_SECRET, 'POST', GENERATE_PATH, body, undefined, {
          accept: FRAMES_CONTENT_TYPE,
          'x-request-deadline-ms': '60000',
        }),
        ...change,
      };
      const response = await fetch(service.url + GENERATE_PATH, { method: 'POST', body, headers });
      assert.equal(response.status, 401, JSON.stringify(change));
      assert.match((await problem(response)).detail ?? '', /bad signature/);
    }
  });

  it('protects /metrics but leaves the /healthz and /readyz probes open', async () => {
    assert.equal((await fetch(`${service.url}/metrics`)).status, 401);
    assert.equal((await signedGet(service.url, '/metrics')).status, 200);
    const health = await fetch(`${service.url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const ready = await fetch(`${service.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready', models: ['star-tiny'] });
  });
});

describe('validation', () => {
  it('answers 400 with one error per bad field', async () => {
    const response = await signedPost(service.url, GENERATE_PATH, generateBody({ seeds: [], cfg: 'high', output_format: 'gif' }));
    assert.equal(response.status, 400);
    const body = await problem(response);
    assert.deepEqual(body.errors?.map((e) => e.path).sort(), ['cfg', 'output_format', 'seeds']);
  });

  it('rejects more seeds than MAX_BATCH and unknown fields', async () => {
    const response = await signedPost(
      service.url,
      GENERATE_PATH,
      generateBody({ seeds: Array.from({ length: 9 }, (_, i) => i), steps: 3 }),
    );
    assert.equal(response.status, 400);
    const paths = (await problem(response)).errors?.map((e) => e.path);
    assert.ok(paths?.includes('seeds'));
    assert.ok(paths?.includes(''), 'unknown key reported at the root');
  });

  it('answers 400 for a malformed X-Request-Deadline-Ms', async () => {
    const response = await signedPost(service.url, GENERATE_PATH, generateBody(), { headers: { 'x-request-deadline-ms': 'soon' } });
    assert.equal(response.status, 400);
    assert.match((await problem(response)).detail ?? '', /x-request-deadline-ms/);
  });

  it('answers 400 for malformed JSON', async () => {
    const response = await signedPost(service.url, GENERATE_PATH, '{"model":');
    assert.equal(response.status, 400);
  });

  it('answers 404 for an unknown model', async () => {
    const response = await signedPost(service.url, GENERATE_PATH, generateBody({ model: 'star-9000' }));
    assert.equal(response.status, 404);
    assert.equal((await problem(response)).type, 'https://star-api.dev/problems/not_found');
  });

  it('answers 413 for a body over 64 KiB', async () => {
    const response = await signedPost(service.url, GENERATE_PATH, generateBody({ prompt: 'x'.repeat(70_000) }));
    assert.equal(response.status, 413);
    await problem(response);
  });
});

describe('generation', () => {
  it('returns one PNG per seed with the parameters and seed in tEXt', async () => {
    const answer = await readAnswer(await signedPost(service.url, GENERATE_PATH, generateBody({ seeds: [7, 8], cfg: 3 })));
    assert.deepEqual(
      answer.images.map((image) => [image.seed, image.format]),
      [
        [7, 'png'],
        [8, 'png'],
      ],
    );
    const png = answer.images[1].bytes;
    const meta = await sharp(png).metadata();
    assert.equal(meta.format, 'png');
    assert.equal(meta.width, answer.result?.width);
    const text = readPngText(png);
    assert.equal(text.seed, '8');
    assert.deepEqual(JSON.parse(text.parameters), {
      model: 'star-tiny',
      prompt: 'a red fox in the snow',
      negative_prompt: '',
      seed: 8,
      cfg: 3,
      top_k: 900,
      top_p: 0.95,
      more_smooth: false,
    });
  });

  it('png_metadata: false gives the same pixels in a PNG without any text chunk', async () => {
    const answers = await Promise.all(
      [true, false].map(async (png_metadata) => {
        const answer = await readAnswer(await signedPost(service.url, GENERATE_PATH, generateBody({ seeds: [9], png_metadata })));
        return answer.images[0].bytes;
      }),
    );
    assert.ok(Object.keys(readPngText(answers[0])).length > 0);
    assert.deepEqual(readPngText(answers[1]), {});
    const [withText, without] = await Promise.all(answers.map((png) => sharp(png).raw().toBuffer()));
    assert.ok(withText.equals(without));
  });

  it('takes any Unicode prompt and keeps it exactly in the PNG parameters', async () => {
    const prompt = 'un renard 🦊 dans la neige — 雪の中の狐 "quoted"';
    const answer = await readAnswer(await signedPost(service.url, GENERATE_PATH, generateBody({ prompt })));
    const text = readPngText(answer.images[0].bytes);
    assert.equal(JSON.parse(text.parameters).prompt, prompt);
  });

  it('image i equals image 0 of a request for seeds[i] alone', async () => {
    const both = await readAnswer(await signedPost(service.url, GENERATE_PATH, generateBody({ seeds: [5, 6], output_format: 'rgb' })));
    const alone = await readAnswer(await signedPost(service.url, GENERATE_PATH, generateBody({ seeds: [6], output_format: 'rgb' })));
    assert.ok(both.images[1].bytes.equals(alone.images[0].bytes));
    assert.ok(!both.images[0].bytes.equals(both.images[1].bytes));
  });

  for (const format of ['webp', 'jpeg'] as const) {
    it(`encodes ${format}`, async () => {
      const answer = await readAnswer(await signedPost(service.url, GENERATE_PATH, generateBody({ output_format: format })));
      assert.equal((await sharp(answer.images[0].bytes).metadata()).format, format);
    });
  }

  it('returns raw RGB as width × height × 3 bytes', async () => {
    const answer = await readAnswer(await signedPost(service.url, GENERATE_PATH, generateBody({ output_format: 'rgb' })));
    assert.equal(answer.images[0].bytes.length, answer.result!.width * answer.result!.height * 3);
  });
});

describe('the answer as it streams', () => {
  it('streams queued, started, one progress per scale with previews, one image per seed, then the result', async () => {
    const answer = await readAnswer(await signedPost(service.url, GENERATE_PATH, generateBody({ seeds: [1, 2], preview: true })));
    const events = answer.frames;
    const names = events.map((e) => e.event);
    const scales = startedEventSchema.parse(events[1].data).scales;
    assert.deepEqual(names, ['queued', 'started', ...Array(scales).fill('progress'), 'image', 'image', 'result']);
    queuedEventSchema.parse(events[0].data);
    const progress = events.filter((e) => e.event === 'progress').map((e) => progressEventSchema.parse(e.data));
    assert.deepEqual(
      progress.map((p) => p.scale),
      Array.from({ length: scales }, (_, i) => i + 1),
    );
    const last = progress.at(-1)!;
    assert.equal(last.previews?.length, 2);
    assert.equal((await sharp(Buffer.from(last.previews![1].b64, 'base64')).metadata()).format, 'png');
  });

  it('sends no previews unless asked', async () => {
    const answer = await readAnswer(await signedPost(service.url, GENERATE_PATH, generateBody()));
    const progress = answer.frames.filter((e) => e.event === 'progress');
    assert.ok(progress.length > 0);
    for (const event of progress) assert.equal(progressEventSchema.parse(event.data).previews, undefined);
  });
});

describe('micro-batching and metrics', () => {
  it('runs two concurrent requests for the same model as one engine batch', async () => {
    const before = service.metrics.batchSize.count({ model: 'star-tiny' });
    const [a, b] = await Promise.all([
      signedPost(service.url, GENERATE_PATH, generateBody({ seeds: [10] })),
      signedPost(service.url, GENERATE_PATH, generateBody({ seeds: [11, 12, 13] })),
    ]);
    const answers = [await readAnswer(a), await readAnswer(b)];
    assert.deepEqual(
      answers.map((answer) => answer.result?.batch_size),
      [4, 4],
    );
    assert.equal(service.metrics.batchSize.count({ model: 'star-tiny' }) - before, 1, 'one engine run');
  });

  it('serves Prometheus text that parses, with the service metrics present', async () => {
    const response = await signedGet(service.url, '/metrics');
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|\+Inf|NaN)$/;
    const names = new Set<string>();
    for (const line of text.trimEnd().split('\n')) {
      if (line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
      const match = sample.exec(line);
      assert.ok(match, `not a valid sample line: ${line}`);
      names.add(match[1]);
    }
    for (const name of [
      'star_queue_depth',
      'star_batch_size_bucket',
      'star_stage_seconds_bucket',
      'star_errors_total',
      'star_process_memory_bytes',
      'star_engine_worker_heap_bytes',
    ]) {
      assert.ok(names.has(name), `missing ${name}`);
    }
    for (const stage of ['queue', 'text', 'generate', 'decode', 'encode', 'total'])
      assert.match(text, new RegExp(`star_stage_seconds_count\\{stage="${stage}"`));
    assert.match(text, /star_errors_total\{type="not_found"\} [1-9]/);
    assert.match(text, /star_errors_total\{type="unauthorized"\} [1-9]/, 'errors from middleware are counted too');
    assert.match(text, /star_requests_total\{status="401"\} [1-9]/);
  });
});
