// The request pipeline against a real local server that misbehaves on purpose.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  APIConnectionError,
  type APIError,
  APITimeoutError,
  APIUserAbortError,
  ConflictError,
  ForbiddenError,
  GenerationFailedError,
  GPUTimeoutError,
  GPUUnavailableError,
  IdempotencyKeyReusedError,
  InternalServerError,
  InvalidRequestError,
  MalformedResponseError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  StarClient,
  UnauthorizedError,
  type ClientOptions,
  type GenerationResponse,
} from '../src/index.ts';
import { drop, hang, json, problem, recordingSleep, startServer, type Handler, type RecordedRequest } from './helpers/test-server.ts';

const generation: GenerationResponse = {
  created: 1795444800,
  model: 'star-tiny',
  data: [{ key: 'a'.repeat(64), seed: 7, width: 64, height: 64, content_type: 'image/png', url: 'http://x/v1/images/a.png' }],
  timings: { queue_ms: 0, text_ms: 1, generate_ms: 2, decode_ms: 3, encode_ms: 4, total_ms: 10 },
  cached: false,
};

type Run = (client: StarClient, requests: () => RecordedRequest[]) => Promise<void>;

async function withServer(script: Handler[], options: ClientOptions, run: Run): Promise<void> {
  const server = await startServer(...script);
  try {
    const client = new StarClient({ apiKey: 'sk_test', baseURL: server.url, ...options });
    await run(client, () => server.requests);
  } finally {
    await server.close();
  }
}

test('sends the API key, JSON body and a generated seed; parses the answer', async () => {
  const { sleep } = recordingSleep();
  await withServer([json(200, generation)], { sleep }, async (client, requests) => {
    const result = await client.images.generate({ prompt: 'a fox' });
    assert.deepEqual(result, generation);
    const [sent] = requests();
    assert.equal(sent.method, 'POST');
    assert.equal(sent.url, '/v1/images/generations');
    assert.equal(sent.headers.authorization, 'Bearer sk_test');
    assert.equal(sent.headers['content-type'], 'application/json');
    const body = JSON.parse(sent.body);
    assert.equal(body.prompt, 'a fox');
    assert.ok(Number.isInteger(body.seed) && body.seed >= 0 && body.seed <= 0xffffffff, `seed ${body.seed}`);
  });
});

test('503 then 200: two attempts with the same Idempotency-Key, backoff between', async () => {
  const { sleeps, sleep } = recordingSleep();
  await withServer([problem(503, 'gpu_unavailable'), json(200, generation)], { sleep, random: () => 0 }, async (client, requests) => {
    await client.images.generate({ prompt: 'a fox', seed: 1 });
    const [first, second] = requests();
    assert.equal(requests().length, 2);
    assert.match(String(first.headers['idempotency-key']), /^idk_[0-9a-f]{32}$/);
    assert.equal(second.headers['idempotency-key'], first.headers['idempotency-key']);
    assert.equal(second.body, first.body);
    assert.deepEqual(sleeps, [500]);
  });
});

test('a caller-provided Idempotency-Key is sent as is; GETs carry none', async () => {
  const { sleep } = recordingSleep();
  await withServer([json(202, { id: 'job_1' }), json(200, { object: 'list', data: [] })], { sleep }, async (client, requests) => {
    await client.jobs.create({ prompt: 'a fox' }, { idempotencyKey: 'my-key-1' });
    await client.models.list();
    assert.equal(requests()[0].headers['idempotency-key'], 'my-key-1');
    assert.equal(requests()[1].headers['idempotency-key'], undefined);
  });
});

test('429 with Retry-After in seconds: waits exactly that long', async () => {
  const { sleeps, sleep } = recordingSleep();
  const limited = problem(429, 'rate_limited', { 'retry-after': '2' });
  await withServer([limited, json(200, generation)], { sleep, random: () => 0.5 }, async (client, requests) => {
    await client.images.generate({ prompt: 'a fox', seed: 1 });
    assert.equal(requests().length, 2);
    assert.deepEqual(sleeps, [2000]);
  });
});

test('Retry-After as an HTTP-date: waits until that date', async () => {
  const { sleeps, sleep } = recordingSleep();
  const inFiveSeconds = new Date(Date.now() + 5000).toUTCString();
  await withServer(
    [problem(503, 'gpu_unavailable', { 'retry-after': inFiveSeconds }), json(200, generation)],
    { sleep },
    async (client) => {
      await client.images.generate({ prompt: 'a fox', seed: 1 });
      // HTTP-dates have whole seconds, so the wait is between 4 and 5 s.
      assert.equal(sleeps.length, 1);
      assert.ok(sleeps[0] > 3000 && sleeps[0] <= 5000, `slept ${sleeps[0]} ms`);
    },
  );
});

test('the real wait honours Retry-After (measured)', async () => {
  const limited = problem(429, 'rate_limited', { 'retry-after': '0.3' });
  await withServer([limited, json(200, generation)], {}, async (client, requests) => {
    const started = performance.now();
    await client.images.generate({ prompt: 'a fox', seed: 1 });
    assert.ok(performance.now() - started >= 290, 'returned before Retry-After elapsed');
    assert.equal(requests().length, 2);
  });
});

test('5xx every time: capped exponential backoff with jitter, then the last error', async () => {
  const { sleeps, sleep } = recordingSleep();
  await withServer([problem(500, 'internal')], { sleep, random: () => 1, maxRetries: 3 }, async (client, requests) => {
    await assert.rejects(client.images.generate({ prompt: 'a fox', seed: 1 }), InternalServerError);
    assert.equal(requests().length, 4);
    // 75% of 500, 1000, 2000 ms (random() = 1 takes the full 25% jitter off).
    assert.deepEqual(sleeps, [375, 750, 1500]);
  });
});

test('a Retry-After longer than a minute is not waited for', async () => {
  const { sleeps, sleep } = recordingSleep();
  await withServer([problem(429, 'rate_limited', { 'retry-after': '3600' })], { sleep }, async (client, requests) => {
    const error = await client.models.list().catch((e: unknown) => e);
    assert.ok(error instanceof RateLimitedError);
    assert.equal(error.retryAfter, 3600);
    assert.equal(requests().length, 1);
    assert.deepEqual(sleeps, []);
  });
});

test('a response slower than the timeout: APITimeoutError after every attempt timed out', async () => {
  const { sleep } = recordingSleep();
  await withServer([hang], { sleep, timeout: 100, maxRetries: 1 }, async (client, requests) => {
    const started = performance.now();
    await assert.rejects(client.models.list(), APITimeoutError);
    assert.equal(requests().length, 2);
    assert.ok(performance.now() - started >= 190, 'gave up before the timeouts elapsed');
  });
});

test('malformed JSON in a 200: MalformedResponseError with the body, not retried', async () => {
  const { sleep } = recordingSleep();
  const broken: Handler = (res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req_broken' });
    res.end('{"object": "list", "data": [');
  };
  await withServer([broken], { sleep }, async (client, requests) => {
    const error = await client.models.list().catch((e: unknown) => e);
    assert.ok(error instanceof MalformedResponseError, String(error));
    assert.equal(error.status, 200);
    assert.equal(error.requestId, 'req_broken');
    assert.equal(error.body, '{"object": "list", "data": [');
    assert.ok(error.cause instanceof SyntaxError);
    assert.equal(requests().length, 1);
  });
});

test('a dropped connection is retried, then APIConnectionError after maxRetries', async () => {
  const { sleeps, sleep } = recordingSleep();
  await withServer([drop], { sleep, random: () => 0, maxRetries: 2 }, async (client, requests) => {
    const error = await client.models.list().catch((e: unknown) => e);
    assert.ok(error instanceof APIConnectionError && !(error instanceof APITimeoutError), String(error));
    assert.equal(requests().length, 3);
    assert.deepEqual(sleeps, [500, 1000]);
  });
});

test('a dropped connection followed by an answer succeeds', async () => {
  const { sleep } = recordingSleep();
  await withServer([drop, json(200, { object: 'list', data: [] })], { sleep }, async (client, requests) => {
    assert.deepEqual(await client.models.list(), { object: 'list', data: [] });
    assert.equal(requests().length, 2);
  });
});

test('aborting mid-request: APIUserAbortError at once, no retry', async () => {
  const { sleeps, sleep } = recordingSleep();
  await withServer([hang], { sleep, maxRetries: 3 }, async (client, requests) => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(client.images.generate({ prompt: 'a fox' }, { signal: controller.signal }), APIUserAbortError);
    assert.equal(requests().length, 1);
    assert.deepEqual(sleeps, []);
  });
});

test('aborting during the wait before a retry: APIUserAbortError, no further attempt', async () => {
  await withServer([problem(503, 'gpu_unavailable', { 'retry-after': '30' })], {}, async (client, requests) => {
    const controller = new AbortController();
    // Abort once the first attempt reached the server (a fixed delay lost that race on a loaded machine).
    const watcher = setInterval(() => {
      if (requests().length === 0) return;
      clearInterval(watcher);
      setTimeout(() => controller.abort(), 50);
    }, 5);
    await assert.rejects(client.models.list({ signal: controller.signal }), APIUserAbortError);
    assert.equal(requests().length, 1);
  });
});

const problemCases: Array<[number, string, new (...args: never[]) => APIError]> = [
  [400, 'invalid_request', InvalidRequestError],
  [401, 'unauthorized', UnauthorizedError],
  [403, 'forbidden', ForbiddenError],
  [404, 'not_found', NotFoundError],
  [409, 'conflict', ConflictError],
  [413, 'payload_too_large', PayloadTooLargeError],
  [422, 'idempotency_key_reused', IdempotencyKeyReusedError],
  [429, 'rate_limited', RateLimitedError],
  [500, 'internal', InternalServerError],
  [502, 'generation_failed', GenerationFailedError],
  [503, 'gpu_unavailable', GPUUnavailableError],
  [504, 'gpu_timeout', GPUTimeoutError],
];

for (const [status, name, ErrorClass] of problemCases) {
  test(`${status} ${name} problem → ${ErrorClass.name} with status, type, detail and request id`, async () => {
    await withServer([problem(status, name)], { maxRetries: 0 }, async (client) => {
      const error = await client.jobs.get('job_1').catch((e: unknown) => e);
      assert.ok(error instanceof ErrorClass, `got ${String(error)}`);
      assert.equal(error.status, status);
      assert.equal(error.type, `https://star-api.dev/problems/${name}`);
      assert.equal(error.detail, `detail of ${name}`);
      assert.equal(error.requestId, `req_${name}`);
      assert.equal(error.headers.get('content-type'), 'application/problem+json');
    });
  });
}

test('the problem type wins over the status; a non-problem body falls back on status and X-Request-Id', async () => {
  const html: Handler = (res) => {
    res.writeHead(502, { 'content-type': 'text/html', 'x-request-id': 'req_proxy' });
    res.end('<h1>Bad gateway</h1>');
  };
  await withServer([problem(400, 'not_found'), html], { maxRetries: 0 }, async (client) => {
    await assert.rejects(client.jobs.get('job_1'), NotFoundError);
    const error = await client.jobs.get('job_1').catch((e: unknown) => e);
    assert.ok(error instanceof GenerationFailedError);
    assert.equal(error.type, undefined);
    assert.equal(error.requestId, 'req_proxy');
    assert.equal(error.body, '<h1>Bad gateway</h1>');
  });
});

test('a missing API key fails at construction', () => {
  const saved = process.env.STAR_API_KEY;
  delete process.env.STAR_API_KEY;
  try {
    assert.throws(() => new StarClient(), /Missing API key/);
  } finally {
    if (saved !== undefined) process.env.STAR_API_KEY = saved;
  }
});

test('withResponse() hands back the request id and rate-limit headers of a success, from the same single request', async () => {
  const headers = { 'x-request-id': 'req_ok', RateLimit: '"requests";r=59;t=1', 'RateLimit-Policy': '"requests";q=60;w=60' };
  await withServer([json(200, generation, headers)], {}, async (client, requests) => {
    const pending = client.images.generate({ prompt: 'a fox', seed: 1 });
    const { data, response, requestId } = await pending.withResponse();
    assert.deepEqual(data, generation);
    assert.equal(requestId, 'req_ok');
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('ratelimit'), '"requests";r=59;t=1');
    assert.equal(response.headers.get('ratelimit-policy'), '"requests";q=60;w=60');
    assert.deepEqual(await pending, generation, 'awaiting it as well gives the body');
    assert.equal(requests().length, 1, 'one request for both');
    assert.ok(pending instanceof Promise);
    const models = await client.models.list().withResponse();
    assert.equal(models.requestId, 'req_ok');
  });
});

test('a failed request rejects both ways with the typed error, and is no unhandled rejection when only one is read', async () => {
  await withServer([problem(404, 'not_found')], { maxRetries: 0 }, async (client) => {
    await assert.rejects(client.jobs.get('job_x').withResponse(), NotFoundError);
    await assert.rejects(client.jobs.get('job_x'), NotFoundError);
    const caught = await client.jobs.get('job_x').catch((error: unknown) => error);
    assert.ok(caught instanceof NotFoundError);
    assert.equal(caught.requestId, 'req_not_found');
  });
});
