// Property-based fuzzing (fast-check) of the public API (the edge in workerd) and the internal
// contract (the gpu-service, with valid and invalid signatures), on one real local stack:
// random and malformed JSON, wrong types, huge and unicode prompts, header injection and
// oversized headers, bad signatures, path tricks on image keys. Every answer is a legit 2xx of
// the documented shape (when the random input happens to be valid) or a well-formed
// problem+json 4xx; no body leaks a stack trace or a secret; both services answer afterwards.
// Short mode (CI) runs a few hundred cases; STAR_LOAD=full runs ~10× more.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { parse as parseYaml } from 'yaml';
import { GenerationRequest, GenerationResponse, Job, JobCreateRequest, ProblemType } from '../../edge/src/schemas.gen.ts';
import { signedHeaders } from '../../gpu-service/src/server/auth.ts';
import { type Frame, FRAMES_CONTENT_TYPE, GENERATE_PATH, imageEventSchema, readFrames, resultEventSchema } from '@star-api/contract';
import {
  FULL,
  PROBLEM_PREFIX,
  assertNoLeak,
  assertProblem,
  authHeaders,
  call,
  startTestStack,
  type TestStack,
} from '../lib/reliability.ts';

const RUNS = FULL ? 10 : 1;
const BODY_LIMIT = 64 * 1024;

let stack: TestStack;
let secrets: string[];
let realImagePath: string;

before(async () => {
  stack = await startTestStack({ keyLimits: { requests: 1_000_000, images: 1_000_000, concurrent: 1000, window: 86_400 } });
  secrets = [stack.secrets.GPU_SHARED_SECRET, stack.secrets.URL_SIGNING_KEY, stack.apiKey];
  const answer = await call(`${stack.edgeUrl}/v1/images/generations`, {
    method: 'POST',
    headers: authHeaders(stack.apiKey),
    body: JSON.stringify({ prompt: 'fuzz: the one real image', seed: 7 }),
  });
  assert.equal(answer.status, 200, answer.text);
  realImagePath = new URL((JSON.parse(answer.text) as { data: { url: string }[] }).data[0].url).pathname;
});

/** Statuses seen per target, printed at the end: what the fuzzing actually exercised. */
const seen: Record<string, Record<string, number>> = {};
function tally(target: string, status: number | null): void {
  seen[target] ??= {};
  seen[target][String(status)] = (seen[target][String(status)] ?? 0) + 1;
}

after(async () => {
  await stack?.dispose();
  for (const [target, statuses] of Object.entries(seen)) {
    console.log(`fuzz: ${target}: ${Object.values(statuses).reduce((a, b) => a + b, 0)} cases, statuses ${JSON.stringify(statuses)}`);
  }
});

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  bytes: Buffer;
}

/** node:http, so paths go out exactly as written (fetch would normalise `..` and `%2e`). */
function send(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: string | Uint8Array): Promise<Raw> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method, path, headers, timeout: 60_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        resolve({ status: res.statusCode!, headers: res.headers, text: bytes.toString('utf8'), bytes });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 60 s`)));
    req.on('response', (res) =>
      tally(
        `${base === stack.gpuUrl ? 'gpu-service' : 'edge'} ${method} ${path
          .split('?')[0]
          .replace(/\/v1\/images\/(?!generations).*/, '/v1/images/*')
          .replace(/\/v1\/jobs\/.*/, '/v1/jobs/*')}`,
        res.statusCode!,
      ),
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Raw bytes on a socket, for what no HTTP client will send (CR/LF inside header values). */
function sendRaw(base: string, text: string): Promise<{ status: number | null; text: string }> {
  const url = new URL(base);
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), '127.0.0.1', () => socket.end(text));
    let out = '';
    const timer = setTimeout(() => socket.destroy(), 10_000);
    socket.on('data', (chunk: Buffer) => {
      out += chunk.toString('latin1');
    });
    socket.on('error', () => {
      /* a reset is an acceptable refusal */
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(out);
      tally(`raw ${base === stack.gpuUrl ? 'gpu-service' : 'edge'}`, status ? Number(status[1]) : null);
      resolve({ status: status ? Number(status[1]) : null, text: out });
    });
  });
}

const contentType = (raw: Raw) => String(raw.headers['content-type'] ?? '');

/** An edge answer: 2xx as `ok` checks it, otherwise a problem+json 4xx with the request id; no leak. */
function assertEdgeAnswer(raw: Raw, context: string, ok?: (body: unknown) => void): void {
  assertNoLeak(raw.text, secrets, context);
  if (raw.status >= 200 && raw.status < 300) {
    if (ok) ok(JSON.parse(raw.text));
    return;
  }
  assert.ok(raw.status >= 400 && raw.status < 500, `${context}: status ${raw.status}: ${raw.text.slice(0, 300)}`);
  const problem = assertProblem(raw.status, contentType(raw), raw.text, context);
  assert.ok(ProblemType.safeParse(problem.type).success, `${context}: undocumented problem type ${problem.type}`);
  assert.equal(problem.request_id, raw.headers['x-request-id'], `${context}: request_id is X-Request-Id`);
}

const okGeneration = (body: unknown) =>
  assert.ok(GenerationResponse.safeParse(body).success, `not a GenerationResponse: ${JSON.stringify(body).slice(0, 300)}`);
const okJob = (body: unknown) => assert.ok(Job.safeParse(body).success, `not a Job: ${JSON.stringify(body).slice(0, 300)}`);

// ------------------------------------------------------------------ arbitraries

const text = (maxLength: number) =>
  fc.oneof(
    fc.string({ unit: 'grapheme', maxLength }),
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ unit: 'grapheme-composite', maxLength }),
    fc.constantFrom('', '   ', '\u0000', '\u200b', 'e\u0301', '\ud800', '🦊'.repeat(600), 'x'.repeat(2001), ' a '.repeat(700)),
  );
const hex = (length: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length });
const wrongType = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 8 }),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.object({ maxDepth: 1 }),
);

/** Objects shaped like a GenerationRequest with every field possibly wrong, missing or extra. */
const nearGeneration = fc
  .record(
    {
      prompt: fc.oneof({ weight: 4, arbitrary: text(80) }, { weight: 1, arbitrary: wrongType }),
      negative_prompt: fc.oneof(text(40), wrongType),
      n: fc.oneof(fc.integer({ min: -1, max: 6 }), wrongType),
      seed: fc.oneof(fc.integer({ min: -2, max: 2 ** 32 + 1 }), fc.double(), wrongType),
      cfg: fc.oneof(fc.double({ min: -1, max: 25, noNaN: true }), wrongType),
      top_k: fc.oneof(fc.integer({ min: -1, max: 5000 }), wrongType),
      top_p: fc.oneof(fc.double({ min: -0.5, max: 1.5, noNaN: true }), wrongType),
      more_smooth: fc.oneof(fc.boolean(), wrongType),
      output_format: fc.oneof(fc.constantFrom('png', 'webp', 'jpeg', 'gif', 'PNG', ''), wrongType),
      response_format: fc.constantFrom('url', 'b64_json', 'base64'),
      model: fc.oneof(fc.constantFrom('star-tiny', 'star-256-d16', 'STAR-TINY', '../etc', ''), wrongType),
      surprise: fc.anything({ maxDepth: 1 }),
    },
    { requiredKeys: [] },
  )
  .map((body) => {
    // Keep valid requests cheap: small n, so the GPU is not the bottleneck of the fuzz run.
    if (typeof body.n === 'number' && body.n > 2 && body.n <= 4) body.n = 2;
    return body;
  });

// ------------------------------------------------------------------ the public API

test('random and near-valid JSON bodies: documented 2xx or problem+json 4xx, and invalid per openapi.yaml ⇒ 4xx', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof({ weight: 3, arbitrary: nearGeneration }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) }),
      fc.constantFrom('/v1/images/generations', '/v1/jobs'),
      async (value, path) => {
        const body = JSON.stringify(value) ?? 'null';
        const raw = await send(stack.edgeUrl, 'POST', path, authHeaders(stack.apiKey), body);
        const context = `POST ${path} ${body.slice(0, 200)}`;
        assertEdgeAnswer(raw, context, path === '/v1/jobs' ? okJob : okGeneration);
        const schema = path === '/v1/jobs' ? JobCreateRequest : GenerationRequest;
        if (!schema.safeParse(value).success)
          assert.ok(raw.status >= 400, `${context}: invalid per openapi.yaml but answered ${raw.status}`);
        if (raw.status === 400)
          assert.ok(Array.isArray((JSON.parse(raw.text) as { errors?: unknown }).errors), `${context}: 400 lists its errors`);
      },
    ),
    { numRuns: 60 * RUNS },
  );
});

/** Every bounded field of openapi.yaml's GenerationRequest, at each bound and just past it. */
function boundCases(): Array<{ field: string; value: unknown; valid: boolean }> {
  const spec = parseYaml(readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8')) as {
    components: { schemas: { GenerationRequest: { properties: Record<string, Record<string, number | string>> } } };
  };
  const cases: Array<{ field: string; value: unknown; valid: boolean }> = [];
  for (const [field, schema] of Object.entries(spec.components.schemas.GenerationRequest.properties)) {
    const step = schema.type === 'integer' ? 1 : 0.001;
    const { minimum, maximum, exclusiveMinimum, minLength, maxLength } = schema as Record<string, number | undefined>;
    if (minimum !== undefined) cases.push({ field, value: minimum, valid: true }, { field, value: minimum - step, valid: false });
    if (exclusiveMinimum !== undefined)
      cases.push({ field, value: exclusiveMinimum + step, valid: true }, { field, value: exclusiveMinimum, valid: false });
    if (maximum !== undefined) cases.push({ field, value: maximum, valid: true }, { field, value: maximum + step, valid: false });
    // Astral characters where no pattern forbids them: the bound counts characters, not UTF-16 units.
    const unit = schema.pattern ? 'a' : '🦊';
    if (minLength) cases.push({ field, value: unit.repeat(minLength), valid: true }, { field, value: '', valid: false });
    if (maxLength !== undefined)
      cases.push({ field, value: unit.repeat(maxLength), valid: true }, { field, value: unit.repeat(maxLength + 1), valid: false });
  }
  return cases;
}

test('every bound of GenerationRequest, at it and just past it, on random valid backgrounds: 200 or a 400 (404 for a model not served) naming the field, never a 5xx', async () => {
  const cases = boundCases();
  assert.ok(
    cases.some(({ field, value }) => field === 'top_k' && value === 1_000_001),
    'the cases come from openapi.yaml, top_k bound included',
  );
  const reached = new Set<string>();
  const background = fc.record(
    {
      seed: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      cfg: fc.double({ min: 0, max: 20, noNaN: true }),
      output_format: fc.constantFrom('png', 'webp', 'jpeg'),
    },
    { requiredKeys: [] },
  );
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...cases), background, async ({ field, value, valid }, rest) => {
      reached.add(
        `${field} ${valid ? 'at' : 'past'} ${String(value).length > 12 ? `${[...String(value)].length} characters` : String(value)}`,
      );
      const body = JSON.stringify({ prompt: 'fuzz: bounds', ...rest, [field]: value });
      const raw = await send(stack.edgeUrl, 'POST', '/v1/images/generations', authHeaders(stack.apiKey), body);
      const context = `${field} = ${String(value).slice(0, 20)} (${valid ? 'valid' : 'invalid'})`;
      assertEdgeAnswer(raw, context, okGeneration);
      if (valid && raw.status === 200) return;
      // A value within its schema bound can still be refused for what it means: a model this
      // deployment does not serve (404 model_not_found), a size the model does not make (400).
      const refusal = valid && field === 'model' ? 404 : 400;
      assert.equal(raw.status, refusal, `${context}: answered ${raw.status}: ${raw.text.slice(0, 200)}`);
      if (valid) assert.ok(['model', 'size'].includes(field), `${context}: a valid value refused: ${raw.text.slice(0, 200)}`);
      const paths = new Set((JSON.parse(raw.text) as { errors: { path: string }[] }).errors.map((error) => error.path));
      assert.deepEqual([...paths], [field], `${context}: the 400 names the field`);
    }),
    { numRuns: cases.length * RUNS, examples: cases.map((boundCase) => [boundCase, {}]) },
  );
  assert.equal(
    reached.size,
    new Set(
      cases.map(
        ({ field, value, valid }) =>
          `${field} ${valid ? 'at' : 'past'} ${String(value).length > 12 ? `${[...String(value)].length} characters` : String(value)}`,
      ),
    ).size,
    'every bound was reached',
  );
});

test('malformed bodies and content types: problem+json 400/413/415, never a 5xx', async () => {
  const body = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.uint8Array({ maxLength: 200 }),
    fc
      .jsonValue()
      .map((v) => JSON.stringify(v) ?? '')
      .chain((s) => fc.nat({ max: Math.max(0, s.length - 1) }).map((cut) => s.slice(0, cut))),
    fc.constantFrom(
      '{',
      '{"prompt":',
      '{"prompt":"x",}',
      "{'prompt':'x'}",
      '[{"prompt":"x"}]',
      '{"prompt":"x"}{"prompt":"y"}',
      '\ufeff{"prompt":"x"}',
      '{"prompt":"\\ud800"}',
      '{"__proto__":{"n":3},"prompt":"x"}',
    ),
    fc.nat({ max: 3 }).map((k) => `{"prompt":"${'x'.repeat(BODY_LIMIT + k * 50_000)}"}`),
  );
  const type = fc.constantFrom(
    'application/json',
    'text/plain',
    '',
    'application/x-www-form-urlencoded',
    'application/json; charset=utf-16',
    'multipart/form-data; boundary=x',
    'application/problem+json',
  );
  await fc.assert(
    fc.asyncProperty(body, type, fc.constantFrom('/v1/images/generations', '/v1/jobs'), async (payload, contentTypeValue, path) => {
      const headers: Record<string, string> = { Authorization: `Bearer ${stack.apiKey}` };
      if (contentTypeValue) headers['Content-Type'] = contentTypeValue;
      const raw = await send(stack.edgeUrl, 'POST', path, headers, payload);
      const context = `POST ${path} [${contentTypeValue}] ${String(typeof payload === 'string' ? payload : `bytes(${payload.length})`).slice(0, 120)}`;
      assertEdgeAnswer(raw, context, path === '/v1/jobs' ? okJob : okGeneration);
      const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
      if (size > BODY_LIMIT) assert.equal(raw.status, 413, `${context}: over 64 KiB`);
    }),
    { numRuns: 60 * RUNS },
  );
});

test('huge and unicode prompts: valid ones generate, the rest are 400/413 problem+json', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        text(2100),
        fc.constantFrom(
          '🦊'.repeat(2000),
          'x'.repeat(40_000),
          '\u0041\u030a'.repeat(1000),
          '\u212b'.repeat(2000),
          '\u202e\u2066 rtl',
          '\t\n\r\f\v',
        ),
      ),
      fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      async (prompt, seed) => {
        const body = JSON.stringify({ prompt, seed });
        const raw = await send(stack.edgeUrl, 'POST', '/v1/images/generations', authHeaders(stack.apiKey), body);
        const context = `prompt of ${prompt.length} code units`;
        assertEdgeAnswer(raw, context, okGeneration);
        // Limits count characters (code points), as JSON Schema's maxLength does.
        const characters = [...prompt.normalize('NFC').trim()].length;
        if (Buffer.byteLength(body) > BODY_LIMIT) assert.equal(raw.status, 413, context);
        else if (characters === 0 || characters > 2000) assert.equal(raw.status, 400, `${context}: answered ${raw.status}`);
        else assert.equal(raw.status, 200, `${context}: ${characters} characters are valid: ${raw.text.slice(0, 200)}`);
      },
    ),
    { numRuns: 12 * RUNS },
  );
});

test('header values a client can send (odd Authorization, X-Request-Id, Idempotency-Key, Range, If-None-Match, Last-Event-ID): 2xx or problem+json 4xx', async () => {
  // Visible ASCII and Latin-1, the bytes an HTTP client may put in a header value.
  const headerValue = fc.oneof(
    fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 80 }),
    fc.string({ unit: fc.integer({ min: 0xa0, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 20 }),
    fc.nat({ max: 2 }).map((k) => 'a'.repeat(1000 * 8 ** k)),
    fc.constantFrom(
      'Bearer',
      'Bearer ',
      'bearer ' + 'sk_x',
      'Basic Zm9vOmJhcg==',
      `Bearer sk_${'A'.repeat(300)}`,
      'bytes=0-',
      'bytes=-0',
      'bytes=99999999-',
      'bytes=5-1',
      'bytes=0-1,2-3',
      '"*"',
      '*',
      '99999999999999999999',
    ),
  );
  const route = fc.constantFrom(
    { method: 'GET', path: '/v1/models' },
    { method: 'POST', path: '/v1/jobs' },
    { method: 'GET', path: '/v1/jobs/job_abc/events' },
    { method: 'GET', path: '__IMAGE__' },
  );
  const header = fc.constantFrom(
    'Authorization',
    'X-Request-Id',
    'Idempotency-Key',
    'Range',
    'If-None-Match',
    'Last-Event-ID',
    'Origin',
    'Accept',
    'Content-Length-Not',
    'X-Forwarded-For',
  );
  await fc.assert(
    fc.asyncProperty(route, header, headerValue, async ({ method, path }, name, value) => {
      const realPath = path === '__IMAGE__' ? realImagePath : path;
      const headers: Record<string, string> = { ...authHeaders(stack.apiKey), [name]: value };
      const raw = await send(
        stack.edgeUrl,
        method,
        realPath,
        headers,
        method === 'POST' ? JSON.stringify({ prompt: 'header fuzz', seed: 3 }) : undefined,
      );
      const context = `${method} ${realPath} ${name}: ${value.slice(0, 80)}`;
      assertNoLeak(raw.text, secrets, context);
      const requestId = String(raw.headers['x-request-id'] ?? '');
      assert.match(requestId, /^[\x21-\x7e]{1,200}$/, `${context}: X-Request-Id ${requestId.slice(0, 80)}`);
      if (raw.status >= 400) assertEdgeAnswer(raw, context);
      else assert.ok([200, 202, 206, 304].includes(raw.status), `${context}: status ${raw.status}`);
    }),
    { numRuns: 80 * RUNS },
  );
});

test('CR/LF and NUL inside header values, and oversized headers, sent raw: refused (4xx or closed), no injected header echoed, no 5xx', async () => {
  const injection = fc.tuple(
    fc.constantFrom('Authorization', 'X-Request-Id', 'Idempotency-Key', 'Range'),
    fc.string({ maxLength: 20, unit: fc.integer({ min: 0x41, max: 0x5a }).map((c) => String.fromCharCode(c)) }),
    fc.constantFrom('\r\n', '\r', '\n', '\u0000', '\r\n\r\n', '\r\nX-Injected: yes', '\nX-Injected: yes', '\rX-Injected: yes'),
    fc.string({ maxLength: 20, unit: fc.integer({ min: 0x41, max: 0x5a }).map((c) => String.fromCharCode(c)) }),
  );
  await fc.assert(
    fc.asyncProperty(injection, fc.constantFrom(stack.edgeUrl, stack.gpuUrl), async ([name, left, evil, right], base) => {
      const path = base === stack.edgeUrl ? '/v1/models' : '/healthz';
      const answer = await sendRaw(
        base,
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${name}: ${left}${evil}${right}\r\nConnection: close\r\n\r\n`,
      );
      const context = `${base === stack.edgeUrl ? 'edge' : 'gpu-service'} ${name}: ${JSON.stringify(left + evil + right)}`;
      assert.ok(answer.status === null || answer.status < 500, `${context}: ${answer.text.slice(0, 200)}`);
      const head = answer.text.slice(0, answer.text.indexOf('\r\n\r\n') + 1);
      assert.doesNotMatch(head, /^x-injected:/im, `${context}: an injected header came back`);
      assertNoLeak(answer.text, secrets, context);
    }),
    { numRuns: 30 * RUNS },
  );
  for (const size of [17 * 1024, 128 * 1024, 1024 * 1024]) {
    for (const base of [stack.edgeUrl, stack.gpuUrl]) {
      const answer = await sendRaw(
        base,
        `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(size)}\r\nConnection: close\r\n\r\n`,
      );
      assert.ok(answer.status === null || answer.status < 500, `${base} with a ${size}-byte header: ${answer.status}`);
      assertNoLeak(answer.text, secrets, `${size}-byte header`);
    }
  }
});

test('path tricks on image keys: only the real key answers 200; everything else is a problem+json 4xx', async () => {
  const [, , , file] = realImagePath.split('/');
  const key = file.slice(0, 64);
  const trick = fc.oneof(
    fc.constantFrom(
      `${key.toUpperCase()}.png`,
      `${key.slice(0, 32).toUpperCase()}${key.slice(32)}.png`,
      `${key}.PNG`,
      `${key}.gif`,
      `${key}.png.png`,
      `${key}.`,
      key,
      `${key}0.png`,
      `${key.slice(1)}.png`,
      `..%2f..%2f${key}.png`,
      `%2e%2e/${key}.png`,
      `..%5c${key}.png`,
      `${key}%00.png`,
      `${key}.png%00`,
      `${key}%2epng`,
      `${key.replace(/[0-9]/, `%3${key.match(/[0-9]/)![0]}`)}.png`,
      `${key}.png/`,
      `${key}.png;.webp`,
      `${key}.png?x=/../`,
      `${key}%2Fpng`,
      `%${key}.png`,
      `${key}.p%6eg`,
      `./${key}.png`,
      `../images/${key}.png`,
      `${key}.png%20`,
      `${key}.webp`,
      `${key}.jpeg`,
    ),
    fc
      .tuple(
        fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF./%'.split('')), minLength: 60, maxLength: 70 }),
        fc.constantFrom('png', 'webp', 'jpeg', 'jpg', 'PNG', 'exe', ''),
      )
      .map(([k, ext]) => `${k}.${ext}`),
    hex(64).map((k) => `${k}.png`),
  );
  await fc.assert(
    fc.asyncProperty(trick, fc.constantFrom('GET', 'HEAD'), async (tail, method) => {
      const path = `/v1/images/${tail}`;
      const raw = await send(stack.edgeUrl, method, path);
      const context = `${method} ${path}`;
      if (raw.status === 200) {
        // Dot segments and percent-encoded unreserved characters name the same resource
        // (RFC 3986 §5.2.4, §6.2.2.2; WHATWG URL treats %2e as a dot): 200 only for an equivalent path.
        let decoded = new URL(path, 'http://127.0.0.1').pathname;
        try {
          decoded = decodeURIComponent(decoded);
        } catch {
          /* not decodable: compare as is */
        }
        assert.equal(decoded, realImagePath, `${context}: 200 for a path that is not the image's`);
        return;
      }
      if (method === 'HEAD') {
        assert.ok(raw.status >= 400 && raw.status < 500, `${context}: ${raw.status}`);
        return;
      }
      assertEdgeAnswer(raw, context);
    }),
    { numRuns: 60 * RUNS },
  );
  const real = await send(stack.edgeUrl, 'GET', realImagePath);
  assert.equal(real.status, 200, 'the real image still answers');
});

test('render URLs with random or tampered signatures: 400 or 403 problem+json, never an image', async () => {
  const query = fc.record(
    {
      prompt: fc.oneof(text(30), fc.constant('a red fox')),
      kid: fc.oneof(hex(16), fc.string({ maxLength: 20 })),
      exp: fc.oneof(fc.integer({ min: 0, max: 2 ** 40 }).map(String), fc.string({ maxLength: 12 })),
      sig: fc.oneof(
        hex(64),
        hex(64).map((s) => s.toUpperCase()),
        fc.string({ maxLength: 70 }),
      ),
      seed: fc.oneof(fc.integer({ min: -1, max: 2 ** 32 }).map(String), fc.string({ maxLength: 5 })),
      format: fc.constantFrom('png', 'gif', ''),
    },
    { requiredKeys: ['sig'] },
  );
  await fc.assert(
    fc.asyncProperty(query, async (params) => {
      const search = new URLSearchParams(params as Record<string, string>).toString();
      const raw = await send(stack.edgeUrl, 'GET', `/v1/render?${search}`);
      const context = `render ?${search.slice(0, 200)}`;
      assert.ok(raw.status === 400 || raw.status === 403, `${context}: ${raw.status}`);
      assertEdgeAnswer(raw, context);
    }),
    { numRuns: 40 * RUNS },
  );
});

// ------------------------------------------------------------------ the internal contract

/** Mostly `valid`, sometimes a value of the wrong type. */
const mostly = <T>(valid: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 6, arbitrary: valid as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: wrongType });

/** Objects shaped like the internal generate request, every field possibly wrong or out of range. */
const nearInternal = fc
  .record(
    {
      model: mostly(fc.constantFrom('star-tiny', 'star-tiny', 'star-tiny', 'star-tiny', 'star-256-d16', '')),
      prompt: mostly(text(60)),
      negative_prompt: mostly(text(20)),
      seeds: fc.oneof(
        { weight: 6, arbitrary: fc.array(fc.integer({ min: 0, max: 2 ** 32 - 1 }), { minLength: 1, maxLength: 2 }) },
        { weight: 1, arbitrary: fc.array(fc.integer({ min: -1, max: 2 ** 32 }), { maxLength: 3 }) },
        { weight: 1, arbitrary: fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 9, maxLength: 300 }) },
        { weight: 1, arbitrary: wrongType },
      ),
      // Ranges a little wider than the contract's, so most values are valid and the edges are hit.
      cfg: mostly(fc.double({ min: -2, max: 55, noNaN: true })),
      top_k: mostly(fc.integer({ min: -1, max: 1_100_000 })),
      top_p: mostly(fc.double({ min: -0.05, max: 1.05, noNaN: true })),
      more_smooth: mostly(fc.boolean()),
      output_format: mostly(fc.constantFrom('png', 'webp', 'jpeg', 'rgb', 'gif')),
      preview: mostly(fc.boolean()),
    },
    { requiredKeys: ['model', 'prompt', 'seeds'] },
  )
  .chain((body) =>
    // Now and then an unknown field, which the contract rejects.
    fc.oneof(
      { weight: 5, arbitrary: fc.constant(body) },
      { weight: 1, arbitrary: fc.anything({ maxDepth: 1 }).map((extra) => ({ ...body, extra })) },
    ),
  );

async function assertGpuAnswer(raw: Raw, context: string): Promise<void> {
  assertNoLeak(raw.text, secrets, context);
  if (raw.status === 200) {
    assert.equal(contentType(raw), FRAMES_CONTENT_TYPE, context);
    const frames: Frame[] = [];
    for await (const frame of readFrames(new Blob([new Uint8Array(raw.bytes)]).stream())) frames.push(frame);
    const last = frames.at(-1);
    for (const frame of frames.filter((f) => f.event === 'image'))
      assert.ok(imageEventSchema.safeParse(frame.data).success && frame.payload, `${context}: image frame not in the contract's shape`);
    if (last?.event === 'error')
      assertProblem(Number((last.data as { status: unknown }).status), 'application/problem+json', JSON.stringify(last.data), context);
    else
      assert.ok(
        last?.event === 'result' && resultEventSchema.safeParse(last.data).success,
        `${context}: the answer does not end in a result`,
      );
    return;
  }
  assert.ok(raw.status >= 400 && raw.status < 500, `${context}: status ${raw.status}: ${raw.text.slice(0, 300)}`);
  const problem = assertProblem(raw.status, contentType(raw), raw.text, context);
  assert.ok(ProblemType.safeParse(problem.type).success, `${context}: undocumented problem type ${problem.type}`);
}

test('internal contract, valid signatures: random and near-valid bodies → contract-shaped 200 or problem+json 4xx', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        { weight: 3, arbitrary: nearInternal },
        { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
        { weight: 1, arbitrary: fc.string({ maxLength: 100 }) },
      ),
      async (value) => {
        const body = typeof value === 'string' ? value : (JSON.stringify(value) ?? 'null');
        const headers = {
          'Content-Type': 'application/json',
          ...signedHeaders(stack.secrets.GPU_SHARED_SECRET, 'POST', GENERATE_PATH, body),
        };
        const raw = await send(stack.gpuUrl, 'POST', GENERATE_PATH, headers, body);
        await assertGpuAnswer(raw, `signed ${body.slice(0, 200)}`);
      },
    ),
    { numRuns: 40 * RUNS },
  );
});

test('internal contract, invalid signatures: every tampering → 401 unauthorized problem+json, before any work', async () => {
  const secret = stack.secrets.GPU_SHARED_SECRET;
  const now = () => Math.floor(Date.now() / 1000);
  const tamper = fc.oneof(
    fc.record({ kind: fc.constant('wrong secret' as const), secret: fc.string({ minLength: 1, maxLength: 64 }) }),
    fc.record({
      kind: fc.constant('stale' as const),
      skew: fc.oneof(fc.integer({ min: 301, max: 10 ** 7 }), fc.integer({ min: -(10 ** 7), max: -301 })),
    }),
    fc.record({ kind: fc.constant('other body' as const), other: fc.string({ minLength: 1, maxLength: 50 }) }),
    fc.record({
      kind: fc.constant('other path' as const),
      path: fc.constantFrom('/internal/v1/generate?x=1', '/metrics', '/internal/v1/generat', '/INTERNAL/v1/generate'),
    }),
    fc.record({ kind: fc.constant('other method' as const), method: fc.constantFrom('GET', 'PUT', 'DELETE') }),
    fc.record({ kind: fc.constant('uppercase hex' as const) }),
    fc.record({ kind: fc.constant('no v1= prefix' as const) }),
    fc.record({
      kind: fc.constant('random signature' as const),
      signature: fc.oneof(
        hex(64).map((h) => `v1=${h}`),
        fc.string({ maxLength: 100 }),
      ),
    }),
    fc.record({
      kind: fc.constant('random timestamp' as const),
      timestamp: fc.oneof(fc.string({ maxLength: 15 }), fc.constantFrom('1e9', '-0', ' 1', '0x10', '')),
    }),
    fc.record({
      kind: fc.constant('missing header' as const),
      drop: fc.constantFrom('x-star-timestamp', 'x-star-nonce', 'x-star-signature'),
    }),
    fc.record({
      kind: fc.constant('unsigned header' as const),
      header: fc.constantFrom(['accept', 'text/event-stream'], ['x-request-deadline-ms', '1']),
    }),
    fc.record({ kind: fc.constant('replayed' as const) }),
  );
  await fc.assert(
    fc.asyncProperty(tamper, fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(GENERATE_PATH, '/metrics'), async (t, value, path) => {
      const body = path === '/metrics' ? '' : JSON.stringify({ model: 'star-tiny', prompt: 'unsigned work', seeds: [1], junk: value });
      const method = path === '/metrics' ? 'GET' : 'POST';
      let headers: Record<string, string> = signedHeaders(secret, method, path, body);
      const [timestampName, signatureName] = ['x-star-timestamp', 'x-star-signature'].map(
        (name) => Object.keys(headers).find((key) => key.toLowerCase() === name)!,
      );
      switch (t.kind) {
        case 'wrong secret':
          headers = signedHeaders(t.secret === secret ? `${t.secret}x` : t.secret, method, path, body);
          break;
        case 'stale':
          headers = signedHeaders(secret, method, path, body, now() + t.skew);
          break;
        case 'other body':
          headers = signedHeaders(secret, method, path, body + t.other);
          break;
        case 'other path':
          headers = signedHeaders(secret, method, t.path === path ? `${path}/` : t.path, body);
          break;
        case 'other method':
          headers = signedHeaders(secret, t.method === method ? 'PUT' : t.method, path, body);
          break;
        case 'uppercase hex':
          headers[signatureName] = `v1=${headers[signatureName].slice(3).toUpperCase()}`;
          break;
        case 'no v1= prefix':
          headers[signatureName] = headers[signatureName].slice(3);
          break;
        case 'random signature':
          headers[signatureName] = t.signature;
          break;
        case 'random timestamp':
          headers[timestampName] = t.timestamp;
          break;
        case 'missing header':
          delete headers[t.drop];
          break;
        case 'unsigned header':
          headers[t.header[0]] = t.header[1];
          break;
        case 'replayed':
          await send(stack.gpuUrl, method, path, { ...headers, 'Content-Type': 'application/json' }, body || undefined);
          break;
      }
      // Header values must be sendable; a value node:http refuses is not a request at all.
      for (const [name, value] of Object.entries(headers))
        if (/[^\t\x20-\x7e\x80-\xff]/.test(value)) headers[name] = encodeURIComponent(value);
      const raw = await send(stack.gpuUrl, method, path, { ...headers, 'Content-Type': 'application/json' }, body || undefined);
      const context = `${t.kind} ${JSON.stringify(t).slice(0, 120)} on ${method} ${path}`;
      assert.equal(raw.status, 401, `${context}: ${raw.status} ${raw.text.slice(0, 200)}`);
      const problem = assertProblem(401, contentType(raw), raw.text, context);
      assert.equal(problem.type, `${PROBLEM_PREFIX}unauthorized`, context);
      assertNoLeak(raw.text, secrets, context);
    }),
    { numRuns: 80 * RUNS },
  );
});

test('both services still answer after the fuzzing, and neither process died', async () => {
  assert.equal(stack.gpu.child.exitCode, null, 'gpu-service is running');
  assert.equal(stack.edge.child.exitCode, null, 'wrangler is running');
  assert.equal((await call(`${stack.edgeUrl}/healthz`)).status, 200);
  assert.equal((await call(`${stack.gpuUrl}/healthz`)).status, 200);
  assert.equal((await call(`${stack.gpuUrl}/readyz`)).status, 200);
  const generation = await call(`${stack.edgeUrl}/v1/images/generations`, {
    method: 'POST',
    headers: authHeaders(stack.apiKey),
    body: JSON.stringify({ prompt: 'after the fuzz', seed: 1 }),
  });
  assert.equal(generation.status, 200, generation.text);
});
