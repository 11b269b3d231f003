// POST /v1/images/generations in workerd: auth, validation, normalisation, per-image caching,
// coalescing of identical concurrent misses, and problem+json on every failure.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeGpu, tinyPng } from './helpers/gpu-server.ts';
import { GPU_SECRET, PUBLIC_ORIGIN, SIGNING_KEY, bearer, jsonPost, startWorker, type TestWorker } from './helpers/worker.ts';
import { contentKey, type GenerationParams } from '../src/generation/params.ts';
import { createRecord, generateKey, kvKeyFor } from '../src/keys/record.ts';

const gpu = new FakeGpu(GPU_SECRET);
let worker: TestWorker;
let key: string;

interface GenerationBody {
  model: string;
  cached: boolean;
  data: { url?: string; b64_json?: string; key: string; seed: number; width: number; height: number; content_type: string }[];
  timings: Record<string, number>;
}

interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  request_id: string;
  errors?: { path: string; message: string }[];
  retry_after?: number;
  error: { message: string; type: string; code: string; param?: string };
}

async function generate(body: unknown, apiKey = key): Promise<Response> {
  return worker.fetch('/v1/images/generations', jsonPost(apiKey, body));
}

async function problemOf(response: Response, status: number, name: string): Promise<ProblemBody> {
  assert.equal(response.status, status);
  assert.equal(response.headers.get('Content-Type'), 'application/problem+json');
  const body = (await response.json()) as ProblemBody;
  assert.equal(body.type, `https://star-api.dev/problems/${name}`);
  assert.equal(body.status, status);
  assert.equal(body.request_id, response.headers.get('X-Request-Id'));
  assert.equal(body.error.message, body.detail, 'OpenAI clients show error.message');
  assert.equal(body.error.code, name);
  assert.equal(body.error.param, body.errors?.[0].path);
  assert.doesNotMatch(JSON.stringify(body), /\\n\s+at |\.ts:\d+/, 'no stack trace');
  return body;
}

before(async () => {
  worker = await startWorker({ gpuUrl: await gpu.start() });
  key = await worker.createKey({ limits: { requests: 1000, images: 1000 } });
});
after(async () => {
  await worker.dispose();
  await gpu.close();
});

describe('health and request ids', () => {
  test('GET /healthz answers ok with a request id', async () => {
    const response = await worker.fetch('/healthz');
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: 'ok' });
    assert.match(response.headers.get('X-Request-Id') ?? '', /^req_[0-9a-f]{32}$/);
  });

  test('a sane caller-supplied X-Request-Id is kept, a hostile one replaced', async () => {
    const kept = await worker.fetch('/healthz', { headers: { 'X-Request-Id': 'client-trace-0001' } });
    assert.equal(kept.headers.get('X-Request-Id'), 'client-trace-0001');
    const replaced = await worker.fetch('/healthz', { headers: { 'X-Request-Id': 'x"><script>' } });
    assert.match(replaced.headers.get('X-Request-Id') ?? '', /^req_/);
  });

  test('unknown routes are problem+json 404s', async () => {
    await problemOf(await worker.fetch('/v1/nothing-here'), 404, 'not_found');
  });
});

describe('auth', () => {
  test('no Authorization header → 401 with a Bearer challenge', async () => {
    const response = await worker.fetch('/v1/models');
    await problemOf(response, 401, 'unauthorized');
    assert.match(response.headers.get('WWW-Authenticate') ?? '', /^Bearer/);
  });

  test('a well-formed but unknown key → 401', async () => {
    await problemOf(await worker.fetch('/v1/models', { headers: bearer(generateKey()) }), 401, 'unauthorized');
  });

  test('a malformed key → 401', async () => {
    await problemOf(await worker.fetch('/v1/models', { headers: bearer('not-a-key') }), 401, 'unauthorized');
  });

  test('a revoked key → 403', async () => {
    const revokedKey = generateKey();
    const record = await createRecord(revokedKey, 'revoked', 'free');
    await worker.kvPut(kvKeyFor(record.kid), JSON.stringify({ ...record, revoked_at: 1 }));
    await problemOf(await worker.fetch('/v1/models', { headers: bearer(revokedKey) }), 403, 'forbidden');
  });

  test('a KV record whose hash differs from the key (same kid) is rejected', async () => {
    const real = generateKey();
    const record = await createRecord(real, 'x', 'free');
    await worker.kvPut(kvKeyFor(record.kid), JSON.stringify({ ...record, hash: 'f'.repeat(64) }));
    await problemOf(await worker.fetch('/v1/models', { headers: bearer(real) }), 401, 'unauthorized');
  });

  test('GET /v1/models lists the models with the default marked, and rate-limit headers', async () => {
    const response = await worker.fetch('/v1/models', { headers: bearer(key) });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { object: string; data: { id: string; default: boolean; scales: number[] }[] };
    assert.equal(body.object, 'list');
    assert.deepEqual(
      body.data.filter((m) => m.default).map((m) => m.id),
      ['star-tiny'],
    );
    assert.match(response.headers.get('RateLimit-Policy') ?? '', /^"requests";q=1000;w=60, "images";q=1000;w=60$/);
    assert.match(response.headers.get('RateLimit') ?? '', /^"requests";r=\d+;t=\d+, "images";r=\d+;t=\d+$/);
  });
});

describe('validation', () => {
  test('malformed JSON → 400', async () => {
    const response = await worker.fetch('/v1/images/generations', {
      method: 'POST',
      headers: bearer(key, { 'Content-Type': 'application/json' }),
      body: '{"prompt": ',
    });
    await problemOf(response, 400, 'invalid_request');
  });

  test('wrong types and out-of-range values name each field', async () => {
    const body = await problemOf(await generate({ prompt: 5, n: 9, top_p: 0, cfg: 'high' }), 400, 'invalid_request');
    const paths = (body.errors ?? []).map((error) => error.path).sort();
    assert.deepEqual(paths, ['cfg', 'n', 'prompt', 'top_p']);
  });

  test('a value past a bound the GPU also enforces → 400 naming the field, before any GPU call', async () => {
    gpu.reset();
    const body = await problemOf(await generate({ prompt: 'a fox', top_k: 1_000_001 }), 400, 'invalid_request');
    assert.deepEqual(
      body.errors?.map((error) => error.path),
      ['top_k'],
    );
    assert.equal(body.error.type, 'invalid_request_error');
    assert.equal(gpu.calls, 0);
  });

  test('unknown fields are rejected (the schema is closed)', async () => {
    const body = await problemOf(await generate({ prompt: 'a fox', steps: 50 }), 400, 'invalid_request');
    assert.ok(body.errors?.length);
  });

  test('a whitespace-only prompt is empty after trimming → 400', async () => {
    const body = await problemOf(await generate({ prompt: ' \n\t ' }), 400, 'invalid_request');
    assert.equal(body.errors?.[0].path, 'prompt');
  });

  test('an unknown model → 404 model_not_found on model', async () => {
    const body = await problemOf(await generate({ prompt: 'a fox', model: 'star-9000' }), 404, 'model_not_found');
    assert.equal(body.errors?.[0].path, 'model');
  });

  test('a body over 64 KiB → 413', async () => {
    await problemOf(await generate({ prompt: 'x'.repeat(70 * 1024) }), 413, 'payload_too_large');
  });

  test('a streamed body (no Content-Length) over 64 KiB → 413 too', async () => {
    // Just over the limit, so the Worker's early 413 leaves (almost) nothing unsent to race with.
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(`{"prompt":"${'x'.repeat(64 * 1024)}"}`));
        controller.close();
      },
    });
    const response = await worker.fetch('/v1/images/generations', {
      method: 'POST',
      headers: bearer(key, { 'Content-Type': 'application/json' }),
      body,
      duplex: 'half',
    } as RequestInit);
    await problemOf(response, 413, 'payload_too_large');
  });

  test('a non-JSON content type → 400', async () => {
    const response = await worker.fetch('/v1/images/generations', {
      method: 'POST',
      headers: bearer(key, { 'Content-Type': 'text/plain' }),
      body: 'prompt',
    });
    await problemOf(response, 400, 'invalid_request');
  });
});

describe('OpenAI Images compatibility', () => {
  test("size: the model's native size is accepted; any other is a 400 that lists the valid one", async () => {
    assert.equal((await generate({ prompt: 'sized', seed: 1, size: '64x64' })).status, 200);
    const body = await problemOf(await generate({ prompt: 'sized', seed: 1, size: '1024x1024' }), 400, 'invalid_request');
    assert.match(body.detail, /valid sizes: 64x64/);
    assert.deepEqual(
      body.errors?.map((error) => error.path),
      ['size'],
    );
    assert.equal(body.error.param, 'size');
  });

  test('user, quality and style are accepted and change nothing: the same image, from the cache', async () => {
    const plain = (await (await generate({ prompt: 'openai extras', seed: 2 })).json()) as GenerationBody;
    const extras = (await (
      await generate({ prompt: 'openai extras', seed: 2, user: 'end-user-42', quality: 'hd', style: 'vivid', size: '64x64' })
    ).json()) as GenerationBody;
    assert.equal(extras.data[0].key, plain.data[0].key);
    assert.equal(extras.cached, true);
  });

  test('every problem carries an OpenAI-shaped error whose type follows the status', async () => {
    const unauthorized = await problemOf(await generate({ prompt: 'x' }, 'sk_unknown_key_00000000000000000000'), 401, 'unauthorized');
    assert.deepEqual(unauthorized.error, { message: unauthorized.detail, type: 'authentication_error', code: 'unauthorized' });
    const missing = await problemOf(await worker.fetch('/v1/jobs/job_nothing', { headers: bearer(key) }), 404, 'not_found');
    assert.equal(missing.error.type, 'not_found_error');
  });
});

describe('generation and caching', () => {
  test('a miss calls the GPU once with signed request; the same request is then a cache hit', async () => {
    gpu.reset();
    const first = await generate({ prompt: 'a lighthouse', seed: 42, n: 2 });
    assert.equal(first.status, 200);
    const body = (await first.json()) as GenerationBody;
    assert.equal(body.cached, false);
    assert.deepEqual(
      body.data.map((image) => image.seed),
      [42, 43],
    );
    assert.equal(gpu.calls, 1);
    assert.equal(gpu.rejectedSignatures, 0);
    assert.deepEqual(gpu.requests[0].seeds, [42, 43]);
    assert.equal(gpu.headers[0]['x-request-deadline-ms'], '5000', 'the edge tells the GPU its deadline');
    assert.equal(gpu.headers[0]['x-request-id'], first.headers.get('X-Request-Id'), 'and the request id, for tracing');
    for (const image of body.data) {
      assert.match(image.key, /^[0-9a-f]{64}$/);
      assert.equal(image.url, `${PUBLIC_ORIGIN}/v1/images/${image.key}.png`, 'image URLs are on the configured public origin');
      assert.equal(image.content_type, 'image/png');
    }

    const again = (await (await generate({ prompt: 'a lighthouse', seed: 42, n: 2 })).json()) as GenerationBody;
    assert.equal(again.cached, true);
    assert.equal(gpu.calls, 1, 'the hit did not touch the GPU');
    assert.deepEqual(
      again.data.map((image) => image.key),
      body.data.map((image) => image.key),
    );
    assert.equal(again.timings.generate_ms, 0);
  });

  test('each image is cached on its own: image 1 of seed 42 is image 0 of seed 43', async () => {
    gpu.reset();
    const first = (await (await generate({ prompt: 'per image', seed: 100, n: 2 })).json()) as GenerationBody;
    const second = (await (await generate({ prompt: 'per image', seed: 101, n: 2 })).json()) as GenerationBody;
    assert.equal(second.data[0].key, first.data[1].key);
    assert.equal(gpu.calls, 2);
    assert.deepEqual(gpu.requests[1].seeds, [102], 'only the missing image was generated');
  });

  test('seeds wrap modulo 2^32', async () => {
    const body = (await (await generate({ prompt: 'wrap', seed: 4294967295, n: 2 })).json()) as GenerationBody;
    assert.deepEqual(
      body.data.map((image) => image.seed),
      [4294967295, 0],
    );
  });

  test('a request without seed gets a random one, echoed, that reproduces the image', async () => {
    const a = (await (await generate({ prompt: 'random seed' })).json()) as GenerationBody;
    const seed = a.data[0].seed;
    assert.ok(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff);
    const b = (await (await generate({ prompt: 'random seed', seed })).json()) as GenerationBody;
    assert.equal(b.cached, true);
    assert.equal(b.data[0].key, a.data[0].key);
  });

  test('prompts are NFC-normalised and trimmed before hashing', async () => {
    gpu.reset();
    const decomposed = 'cafe\u0301 at night';
    const composed = '  caf\u00e9 at night\n';
    const a = (await (await generate({ prompt: decomposed, seed: 7 })).json()) as GenerationBody;
    const b = (await (await generate({ prompt: composed, seed: 7 })).json()) as GenerationBody;
    assert.equal(a.data[0].key, b.data[0].key);
    assert.equal(b.cached, true);
    assert.equal(gpu.requests[0].prompt, 'caf\u00e9 at night');
  });

  test('the content key is the HMAC of the canonical parameters', async () => {
    const body = (await (await generate({ prompt: 'keyed', seed: 9, cfg: 3, output_format: 'webp' })).json()) as GenerationBody;
    const params: GenerationParams = {
      model: 'star-tiny',
      prompt: 'keyed',
      negative_prompt: '',
      seeds: [9],
      cfg: 3,
      top_k: 900,
      top_p: 0.95,
      more_smooth: false,
      output_format: 'webp',
      png_metadata: true,
    };
    assert.equal(body.data[0].key, await contentKey(SIGNING_KEY, params, 9));
    assert.equal(body.data[0].content_type, 'image/webp');
  });

  test('image URLs come from PUBLIC_ORIGIN, whatever host the request names', async () => {
    const spoofed = await worker.fetch('http://attacker.example/v1/images/generations', jsonPost(key, { prompt: 'which host', seed: 3 }));
    assert.equal(spoofed.status, 200);
    const body = (await spoofed.json()) as GenerationBody;
    assert.equal(body.data[0].url, `${PUBLIC_ORIGIN}/v1/images/${body.data[0].key}.png`);
    const image = await worker.fetch(`http://attacker.example/v1/images/${body.data[0].key}.png`);
    assert.equal(image.status, 200, 'the image is served whatever the Host');
    await image.arrayBuffer();
  });

  test('b64_json returns the same bytes as the permanent URL', async () => {
    const url = (await (await generate({ prompt: 'bytes', seed: 11 })).json()) as GenerationBody;
    const b64 = (await (await generate({ prompt: 'bytes', seed: 11, response_format: 'b64_json' })).json()) as GenerationBody;
    assert.equal(b64.data[0].url, undefined);
    const image = Buffer.from(await (await worker.fetch(new URL(url.data[0].url!).pathname)).arrayBuffer());
    assert.deepEqual(Buffer.from(b64.data[0].b64_json!, 'base64'), image);
    assert.deepEqual([...image.subarray(1, 4)], [0x50, 0x4e, 0x47]);
  });

  test('identical concurrent misses are coalesced into one GPU call', async () => {
    gpu.reset();
    gpu.delayMs = 300;
    const responses = await Promise.all(Array.from({ length: 6 }, () => generate({ prompt: 'coalesce me', seed: 5 })));
    const bodies = (await Promise.all(responses.map((response) => response.json()))) as GenerationBody[];
    assert.deepEqual(
      responses.map((response) => response.status),
      [200, 200, 200, 200, 200, 200],
    );
    assert.equal(gpu.calls, 1);
    assert.equal(new Set(bodies.map((body) => body.data[0].key)).size, 1);
  });

  test('overlapping concurrent requests share the images they have in common', async () => {
    gpu.reset();
    gpu.delayMs = 300;
    const [a, b] = await Promise.all([generate({ prompt: 'overlap', seed: 1, n: 2 }), generate({ prompt: 'overlap', seed: 2, n: 2 })]);
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    const seeds = gpu.requests.flatMap((request) => request.seeds).sort();
    assert.deepEqual(seeds, [1, 2, 3], 'seed 2 was generated once');
  });
});

describe('GPU failures store nothing and charge nothing', () => {
  const cases = [
    { mode: 'busy', status: 503, name: 'gpu_unavailable' },
    { mode: 'error', status: 502, name: 'generation_failed' },
    { mode: 'garbage', status: 502, name: 'generation_failed' },
    { mode: 'not-an-image', status: 502, name: 'generation_failed' },
  ] as const;
  for (const { mode, status, name } of cases) {
    test(`GPU ${mode} → ${status} ${name}`, async () => {
      gpu.reset();
      gpu.mode = mode;
      const failingKey = await worker.createKey({ limits: { images: 5 } });
      const prompt = `failure ${mode}`;
      const body = await problemOf(await generate({ prompt, seed: 1 }, failingKey), status, name);
      if (mode === 'busy') assert.equal(body.retry_after, 7);
      const params: GenerationParams = {
        model: 'star-tiny',
        prompt,
        negative_prompt: '',
        seeds: [1],
        cfg: 4.5,
        top_k: 900,
        top_p: 0.95,
        more_smooth: false,
        output_format: 'png',
        png_metadata: true,
      };
      const imageKey = await contentKey(SIGNING_KEY, params, 1);
      assert.equal((await worker.fetch(`/v1/images/${imageKey}.png`)).status, 404, 'no partial image stored');
      const models = await worker.fetch('/v1/models', { headers: bearer(failingKey) });
      assert.match(models.headers.get('RateLimit') ?? '', /"images";r=5;/, 'image quota untouched');
      gpu.mode = 'ok';
      const retry = await generate({ prompt, seed: 1 }, failingKey);
      assert.equal(retry.status, 200, 'a retry after the fault succeeds');
    });
  }
});

describe('coalescing across isolates (GenerationLock)', () => {
  interface LockStub {
    claim(owner: string, ttlMs: number): Promise<string>;
    release(owner: string, outcome: 'stored' | 'failed'): Promise<void>;
  }
  async function lockFor(prompt: string, seed: number): Promise<{ imageKey: string; lock: LockStub }> {
    const params: GenerationParams = {
      model: 'star-tiny',
      prompt,
      negative_prompt: '',
      seeds: [seed],
      cfg: 4.5,
      top_k: 900,
      top_p: 0.95,
      more_smooth: false,
      output_format: 'png',
      png_metadata: true,
    };
    const imageKey = await contentKey(SIGNING_KEY, params, seed);
    const ns = await worker.mf.getDurableObjectNamespace('GENERATION_LOCKS');
    return { imageKey, lock: ns.get(ns.idFromName(imageKey)) as unknown as LockStub };
  }

  test('a miss claimed by another isolate waits for it and serves its stored image without a GPU call', async () => {
    gpu.reset();
    const { imageKey, lock } = await lockFor('claimed elsewhere', 1);
    assert.equal(await lock.claim('another-isolate', 60_000), 'owner');
    const pending = generate({ prompt: 'claimed elsewhere', seed: 1 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(gpu.calls, 0, 'the request waits instead of generating');
    // The other isolate finishes: stores the image as the Worker does, then releases its claim.
    const bucket = await worker.mf.getR2Bucket('IMAGES');
    await bucket.put(`images/${imageKey}.png`, new Uint8Array(tinyPng(4242)), {
      httpMetadata: { contentType: 'image/png' },
      customMetadata: { seed: '1', width: '2', height: '2', model: 'star-tiny' },
    });
    await lock.release('another-isolate', 'stored');
    const response = await pending;
    assert.equal(response.status, 200);
    const body = (await response.json()) as GenerationBody;
    assert.equal(body.data[0].key, imageKey);
    assert.equal(body.cached, false);
    assert.equal(gpu.calls, 0);
    const image = await worker.fetch(`/v1/images/${imageKey}.png`);
    assert.deepEqual(Buffer.from(await image.arrayBuffer()), tinyPng(4242));
  });

  test('when the other isolate fails, the waiting request generates the image itself', async () => {
    gpu.reset();
    const { imageKey, lock } = await lockFor('failed elsewhere', 1);
    assert.equal(await lock.claim('another-isolate', 60_000), 'owner');
    const pending = generate({ prompt: 'failed elsewhere', seed: 1 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await lock.release('another-isolate', 'failed');
    const response = await pending;
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as GenerationBody).data[0].key, imageKey);
    assert.equal(gpu.calls, 1);
  });
});

describe('logs', () => {
  test('one JSON line per request with its id, and never a key, signature or secret', async () => {
    const logKey = await worker.createKey();
    const record = await createRecord(logKey, 'x', 'free');
    const marker = 'req-log-check-0001';
    await (await worker.fetch('/v1/models', { headers: bearer(logKey, { 'X-Request-Id': marker }) })).arrayBuffer();
    await (await worker.fetch('/v1/models', { headers: bearer(`${logKey}x`) })).arrayBuffer();
    gpu.mode = 'error';
    await (await generate({ prompt: 'log me', seed: 1 }, logKey)).arrayBuffer();
    gpu.mode = 'ok';
    await new Promise((resolve) => setTimeout(resolve, 100));
    const lines = worker.logs.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
    const mine = lines.find((line) => line.request_id === marker && line.message === 'request');
    assert.ok(mine, 'the request was logged under its id');
    assert.equal(mine.status, 200);
    assert.equal(mine.kid, record.kid);
    assert.ok(
      lines.some((line) => line.message === 'gpu call failed'),
      'GPU failures are logged',
    );
    const all = worker.logs.join('\n');
    for (const secret of [logKey, record.hash, record.sk, record.whsec, GPU_SECRET, SIGNING_KEY])
      assert.ok(!all.includes(secret), 'no secret in the logs');
  });
});
