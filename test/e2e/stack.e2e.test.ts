// End to end, as a customer sees it: the packed SDK → the edge Worker in workerd
// (local KV, R2, Durable Objects) → the real gpu-service running star-tiny on
// CPU, all started on free ports with throwaway state. Nothing is faked.
//
// The gpu-service waits BATCH_WINDOW_MS for company before each batch, which
// keeps a request in flight there long enough to cancel it or to kill the
// service under it; the tests find that moment from the service's own metrics.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { imageSeeds } from '@star-api/contract';
import { contentKey, DEFAULTS, type GenerationParams } from '../../edge/src/generation/params.ts';
import { gpuMetric } from '../helpers/gpu-metrics.ts';
import { installPackedSdk, type PackedSdk } from '../helpers/packed-sdk.ts';
import { sleep, startTestStack, type TestStack } from '../lib/reliability.ts';

const BATCH_WINDOW_MS = 1000;
const IMMUTABLE = 'public, max-age=31536000, immutable';

let stack: TestStack;
let packed: PackedSdk;

before(async () => {
  const [started, installed] = await Promise.allSettled([
    // localWebhooks: what `STAR_LOCAL_WEBHOOKS=1 npm start` switches on, so a loopback receiver works.
    startTestStack({ gpuEnv: { BATCH_WINDOW_MS: String(BATCH_WINDOW_MS) }, localWebhooks: true }),
    installPackedSdk(),
  ]);
  // Keep whatever started, so that after() cleans it up even when the other half failed.
  if (started.status === 'fulfilled') stack = started.value;
  if (installed.status === 'fulfilled') packed = installed.value;
  for (const result of [started, installed]) if (result.status === 'rejected') throw result.reason;
});

after(async () => {
  await stack?.dispose();
  await packed?.remove();
});

function client(apiKey = stack.apiKey) {
  return new packed.sdk.StarClient({ apiKey, baseURL: stack.edgeUrl, maxRetries: 0, timeout: 60_000 });
}

/** The content key the edge gives star-tiny's image for this prompt and seed: where it is (or is not) in R2. */
function expectedKey(prompt: string, seed: number, n = 1, pngMetadata = true): Promise<string> {
  const params: GenerationParams = {
    ...DEFAULTS,
    model: 'star-tiny',
    prompt,
    negative_prompt: '',
    seeds: imageSeeds(seed, n),
    png_metadata: pngMetadata,
  };
  return contentKey(stack.secrets.URL_SIGNING_KEY, params, seed);
}

async function imageStatus(key: string): Promise<number> {
  const res = await fetch(`${stack.edgeUrl}/v1/images/${key}.png`);
  await res.body?.cancel();
  return res.status;
}

/** Resolves once the gpu-service holds a request that has not started generating (it is waiting out its batch window). */
async function untilQueuedAtGpu(timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await gpuMetric(stack, 'star_queue_depth')) > 0) return;
    await sleep(25);
  }
  throw new Error(`no request reached the gpu-service's queue within ${timeoutMs} ms`);
}

describe('through the packed SDK', { timeout: 120_000 }, () => {
  test('sync generation returns a decodable 64×64 RGB PNG at an immutable URL that answers 304 to If-None-Match', async () => {
    const result = await client().images.generate({ prompt: 'a lighthouse on a cliff at dusk', seed: 11 });
    assert.equal(result.model, 'star-tiny');
    assert.equal(result.cached, false);
    const [image] = result.data;
    assert.equal(image.key, await expectedKey('a lighthouse on a cliff at dusk', 11));
    assert.equal(image.url, `${stack.edgeUrl}/v1/images/${image.key}.png`);
    assert.deepEqual([image.width, image.height, image.content_type, image.seed], [64, 64, 'image/png', 11]);

    const res = await fetch(image.url!);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    assert.equal(res.headers.get('cache-control'), IMMUTABLE);
    const etag = res.headers.get('etag');
    assert.ok(etag, 'the image has an ETag');
    const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height, meta.channels], ['png', 64, 64, 3]);

    const again = await fetch(image.url!, { headers: { 'If-None-Match': etag } });
    assert.equal(again.status, 304);
    assert.equal(again.headers.get('cache-control'), IMMUTABLE);
    assert.equal((await again.arrayBuffer()).byteLength, 0);
  });

  test('the same request twice is a cache hit: identical bytes, one GPU call', async () => {
    const star = client();
    const request = { prompt: 'a red fox in the snow', seed: 7 } as const;
    const gpuCallsBefore = await gpuMetric(stack, 'star_requests_total');
    const first = await star.images.generate(request);
    const second = await star.images.generate(request);
    const inline = await star.images.generate({ ...request, response_format: 'b64_json' });
    assert.equal(await gpuMetric(stack, 'star_requests_total'), gpuCallsBefore + 1, 'one GPU call for three identical requests');
    assert.equal(first.cached, false);
    assert.equal(second.cached, true);
    assert.equal(inline.cached, true);
    assert.equal(second.data[0].url, first.data[0].url);
    assert.deepEqual(second.timings, {
      queue_ms: 0,
      text_ms: 0,
      generate_ms: 0,
      decode_ms: 0,
      encode_ms: 0,
      total_ms: second.timings.total_ms,
    });
    const served = Buffer.from(await (await fetch(first.data[0].url!)).arrayBuffer());
    assert.ok(Buffer.from(inline.data[0].b64_json!, 'base64').equals(served), 'the cached bytes are the generated bytes');
  });

  test('a job streams progress for every scale over SSE and completes with a served image', async () => {
    const star = client();
    const { data: models } = await star.models.list();
    const scales = models.find((model) => model.id === 'star-tiny')!.scales.length;
    const job = await star.jobs.create({ prompt: 'a paper boat on a pond', seed: 3 });
    assert.equal(job.status, 'queued');
    const seen: number[] = [];
    let completed: import('@star-api/sdk').Job | undefined;
    for await (const event of star.jobs.stream(job.id)) {
      if (event.event === 'progress') {
        assert.equal(event.data.scales, scales);
        assert.match(event.data.preview ?? '', /^data:image\/png;base64,/);
        seen.push(event.data.scale);
      }
      if (event.event === 'completed') completed = event.data.job;
    }
    assert.deepEqual(
      seen,
      Array.from({ length: scales }, (_, i) => i + 1),
    );
    assert.equal(completed?.status, 'succeeded');
    assert.deepEqual(completed?.progress, { scale: scales, scales });
    const image = completed!.result!.data[0];
    assert.equal(image.key, await expectedKey('a paper boat on a pond', 3));
    const res = await fetch(image.url!);
    assert.equal(res.status, 200);
    assert.equal((await sharp(Buffer.from(await res.arrayBuffer())).metadata()).width, 64);
    assert.equal((await star.jobs.get(job.id)).status, 'succeeded');
  });

  test('a job cancelled while the GPU holds it ends cancelled and stores no image', async () => {
    const star = client();
    const prompt = 'a job that is cancelled';
    const key = await expectedKey(prompt, 99);
    const imagesBefore = await gpuMetric(stack, 'star_images_total');
    const closedBefore = await gpuMetric(stack, 'star_errors_total', 'type="client_closed"');
    const job = await star.jobs.create({ prompt, seed: 99 });
    await untilQueuedAtGpu();
    const cancelled = await star.jobs.cancel(job.id);
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(cancelled.result, undefined);

    const events = [];
    for await (const event of star.jobs.stream(job.id)) events.push(event.event);
    assert.equal(events.at(-1), 'cancelled');
    // Past the batch window: had the GPU call gone on, its image would exist by now.
    await sleep(BATCH_WINDOW_MS + 500);
    assert.equal((await star.jobs.get(job.id)).status, 'cancelled');
    assert.equal(await gpuMetric(stack, 'star_images_total'), imagesBefore, 'the gpu-service generated nothing');
    assert.equal(
      await gpuMetric(stack, 'star_errors_total', 'type="client_closed"'),
      closedBefore + 1,
      'the edge hung up on the gpu-service',
    );
    assert.equal(await imageStatus(key), 404);
  });

  test('a signed render URL answers image bytes, generated once and cached after', async () => {
    const star = client();
    const url = await star.renderUrl({ prompt: 'a kite over the dunes', seed: 5 });
    assert.match(url, new RegExp(`^${stack.edgeUrl}/v1/render\\?.*&sig=[0-9a-f]{64}$`));
    const gpuCallsBefore = await gpuMetric(stack, 'star_requests_total');
    const first = await fetch(url);
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('content-type'), 'image/png');
    assert.equal(first.headers.get('cache-control'), IMMUTABLE);
    const key = await expectedKey('a kite over the dunes', 5, 1, false); // render URLs leave PNG metadata out
    assert.equal(first.headers.get('content-location'), `${stack.edgeUrl}/v1/images/${key}.png`);
    const bytes = Buffer.from(await first.arrayBuffer());
    assert.equal((await sharp(bytes).metadata()).width, 64);
    const second = await fetch(url);
    assert.ok(Buffer.from(await second.arrayBuffer()).equals(bytes));
    assert.equal(await gpuMetric(stack, 'star_requests_total'), gpuCallsBefore + 1);

    const tampered = url.replace('seed=5', 'seed=6');
    const forbidden = await fetch(tampered);
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.headers.get('content-type'), 'application/problem+json');
  });

  test('a bad key is 401 UnauthorizedError', async () => {
    const error = await client('sk_not_a_real_key_000000000000000000')
      .models.list()
      .then(
        () => assert.fail('a bad key was accepted'),
        (error: unknown) => error,
      );
    assert.ok(error instanceof packed.sdk.UnauthorizedError, String(error));
    assert.equal(error.status, 401);
    assert.equal(error.type, 'https://star-api.dev/problems/unauthorized');
    assert.ok(error.requestId);
  });

  test('a key over its request limit gets 429 RateLimitedError with retryAfter', async () => {
    const star = client(await stack.createKey({ requests: 2 }));
    await star.models.list();
    await star.models.list();
    const error = await star.models.list().then(
      () => assert.fail('the third request within the window was allowed'),
      (error: unknown) => error,
    );
    assert.ok(error instanceof packed.sdk.RateLimitedError, String(error));
    assert.equal(error.status, 429);
    assert.ok(error.retryAfter !== undefined && error.retryAfter > 0, `retryAfter ${error.retryAfter}`);
    assert.equal(error.headers.get('retry-after'), String(error.retryAfter));
    assert.match(error.headers.get('ratelimit-policy') ?? '', /"requests";q=2;/);
  });

  test('4 parallel jobs on a free-tier key (2 at once) are all accepted; the 2 beyond the limit queue, then succeed', async () => {
    const star = client(await stack.createKey({ concurrent: 2 }));
    const jobs = await Promise.all([0, 1, 2, 3].map((i) => star.jobs.create({ prompt: `a queue of boats ${i}`, seed: 60 + i })));
    assert.deepEqual(
      jobs.map((job) => job.status),
      ['queued', 'queued', 'queued', 'queued'],
    );
    const done = await Promise.all(jobs.map((job) => star.jobs.wait(job.id)));
    assert.deepEqual(
      done.map((job) => job.status),
      ['succeeded', 'succeeded', 'succeeded', 'succeeded'],
    );
  });

  test('a webhook reaches a loopback receiver on the local stack, signed with the secret the stack printed', async () => {
    const received = Promise.withResolvers<{ headers: IncomingHttpHeaders; body: string }>();
    const receiver = createServer(async (req, res) => {
      const parts: Buffer[] = [];
      for await (const part of req) parts.push(part as Buffer);
      res.writeHead(204).end();
      received.resolve({ headers: req.headers, body: Buffer.concat(parts).toString('utf8') });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    try {
      const webhookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/star-hook`;
      const created = await fetch(`${stack.edgeUrl}/v1/jobs`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${stack.apiKey}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ prompt: 'a lantern on the jetty', seed: 12, webhook_url: webhookUrl }),
      });
      assert.equal(created.status, 202, await created.clone().text());
      const job = (await created.json()) as { id: string };
      const timeout = sleep(60_000).then(() => assert.fail('no webhook within 60 s'));
      const delivery = await Promise.race([received.promise, timeout]);
      assert.equal(delivery.headers['star-webhook-id'], `${job.id}:succeeded`);
      // Verified as a receiver would, from the README's scheme and the printed secret alone.
      const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(delivery.headers['star-signature']));
      assert.ok(match, `Star-Signature ${delivery.headers['star-signature']}`);
      const expected = createHmac('sha256', stack.webhookSecret).update(`${match[1]}.${delivery.body}`).digest();
      assert.ok(timingSafeEqual(expected, Buffer.from(match[2], 'hex')), 'the signature verifies');
      assert.ok(Math.abs(Date.now() / 1000 - Number(match[1])) < 300, 'the timestamp is fresh');
      const delivered = JSON.parse(delivery.body) as { id: string; status: string; result?: { data: { url: string }[] } };
      assert.equal(delivered.id, job.id);
      assert.equal(delivered.status, 'succeeded');
      assert.equal((await fetch(delivered.result!.data[0].url)).status, 200);
    } finally {
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
  });

  // Last: it kills the gpu-service and leaves a new one running.
  test('the gpu-service killed mid-request: 503/502 problem+json, nothing stored; the same request succeeds once it is back', async () => {
    const star = client();
    const request = { prompt: 'a storm over the harbour', seed: 40, n: 4 } as const;
    const keys = await Promise.all([40, 41, 42, 43].map((seed) => expectedKey(request.prompt, seed, 4)));
    const pending = star.images.generate(request).then(
      () => assert.fail('the generation succeeded although the gpu-service was killed'),
      (error: unknown) => error,
    );
    await untilQueuedAtGpu();
    await stack.gpu.stop('SIGKILL');
    const error = await pending;
    assert.ok(error instanceof packed.sdk.APIError, String(error));
    assert.ok(error.status === 503 || error.status === 502, error.message);
    assert.equal(error.headers.get('content-type'), 'application/problem+json');
    assert.match(error.type ?? '', /^https:\/\/star-api\.dev\/problems\/(gpu_unavailable|generation_failed)$/);
    for (const key of keys) assert.equal(await imageStatus(key), 404, `image ${key} was stored`);

    await stack.restartGpu();
    const result = await star.images.generate(request).catch((failure: unknown) => {
      assert.fail(`after the restart: ${failure}\n${stack.gpu.output().slice(-2000)}`);
    });
    assert.equal(result.cached, false);
    assert.deepEqual(
      result.data.map((image) => image.key),
      keys,
    );
    for (const key of keys) assert.equal(await imageStatus(key), 200);
  });
});
