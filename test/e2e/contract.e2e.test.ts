// The running stack against openapi.yaml, as a validating proxy would see it: every operation is
// called (successes, redirects to cache, ranges and errors), and every answer must be a status
// the operation declares, with a declared media type, a body that matches its schema (JSON
// bodies, and each SSE event against JobEvent) and declared headers that match theirs. The same
// stack checks the bounds end to end (just past each public bound → 400 naming the field; all
// at their bound → 200 from the real gpu-service, never a 5xx) and PNG metadata as stored.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { dereference } from '@readme/openapi-parser';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parseServerSentEvents } from '../../sdk/src/core/sse.ts';
import { signRenderUrl } from '../../sdk/src/render-url.ts';
import type { RenderParams } from '../../sdk/src/types.ts';
import { readPngText } from '../../gpu-service/src/server/png-text.ts';
import { authHeaders, startTestStack, waitForJob, type TestStack } from '../lib/reliability.ts';

type Schema = Parameters<typeof z.fromJSONSchema>[0] & { type?: string };
interface Declared {
  headers?: Record<string, { schema: Schema }>;
  content?: Record<string, { schema: Schema }>;
}
interface Operation {
  operationId: string;
  responses: Record<string, Declared>;
}

const spec = (await dereference(parseYaml(await readFile(new URL('../../openapi.yaml', import.meta.url), 'utf8')))) as unknown as {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
};
const jobEvent = z.fromJSONSchema(spec.components.schemas.JobEvent);

/** operationId → statuses seen, printed at the end; every operation must have a 2xx. */
const seen = new Map<string, Set<number>>();
const METHODS = new Set(['get', 'post', 'put', 'patch', 'delete']);
for (const item of Object.values(spec.paths))
  for (const [method, op] of Object.entries(item)) if (METHODS.has(method)) seen.set(op.operationId, new Set());

let stack: TestStack;

before(async () => {
  stack = await startTestStack({ keyLimits: { requests: 10_000, images: 10_000, concurrent: 8 } });
});
after(async () => {
  await stack?.dispose();
  for (const [operation, statuses] of seen) console.log(`contract: ${operation}: ${[...statuses].sort().join(' ') || 'not called'}`);
});

function headerValue(schema: Schema, raw: string): unknown {
  return schema.type === 'integer' || schema.type === 'number' ? Number(raw) : raw;
}

/**
 * Calls `path` and checks the answer against `method template` in openapi.yaml. Returns the
 * response with its body read (`text`, and `bytes` for binary media).
 */
async function api(
  method: string,
  template: string,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; headers: Headers; text: string; bytes: Buffer }> {
  const op = spec.paths[template]?.[method.toLowerCase()];
  assert.ok(op, `${method} ${template} is not in openapi.yaml`);
  const response = await fetch(stack.edgeUrl + path, { ...init, method, signal: AbortSignal.timeout(60_000) });
  const bytes = Buffer.from(await response.arrayBuffer());
  const text = bytes.toString('utf8');
  const where = `${op.operationId} ${response.status}`;
  const declared = op.responses[String(response.status)];
  assert.ok(declared, `${where}: status not declared (declared: ${Object.keys(op.responses).join(', ')}): ${text.slice(0, 200)}`);
  seen.get(op.operationId)!.add(response.status);

  for (const [name, header] of Object.entries(declared.headers ?? {})) {
    const raw = response.headers.get(name);
    if (raw === null) continue;
    const result = z.fromJSONSchema(header.schema).safeParse(headerValue(header.schema, raw));
    assert.ok(result.success, `${where}: header ${name}: ${raw}: ${result.error?.message}`);
  }
  assert.ok(response.headers.get('X-Request-Id'), `${where}: no X-Request-Id`);

  if (!declared.content) {
    assert.equal(bytes.byteLength, 0, `${where}: declares no body but has one`);
    return { status: response.status, headers: response.headers, text, bytes };
  }
  const type = (response.headers.get('Content-Type') ?? '').split(';')[0].trim();
  const media = declared.content[type];
  assert.ok(media, `${where}: content type "${type}" not declared (declared: ${Object.keys(declared.content).join(', ')})`);
  if (type.endsWith('json')) {
    const result = z.fromJSONSchema(media.schema).safeParse(JSON.parse(text));
    assert.ok(result.success, `${where}: body does not match its schema: ${result.error?.message}\n${text.slice(0, 300)}`);
  } else if (type === 'text/event-stream') {
    let events = 0;
    for await (const message of parseServerSentEvents(new Response(bytes).body!)) {
      const result = jobEvent.safeParse({ id: Number(message.id), event: message.event, data: JSON.parse(message.data) });
      assert.ok(result.success, `${where}: event ${message.event} does not match JobEvent: ${result.error?.message}`);
      events++;
    }
    assert.ok(events > 0, `${where}: an empty event stream`);
  } else {
    assert.ok(bytes.byteLength > 0, `${where}: an empty ${type} body`);
  }
  return { status: response.status, headers: response.headers, text, bytes };
}

const json = (body: unknown, key = stack.apiKey, extra: Record<string, string> = {}): RequestInit => ({
  headers: { ...authHeaders(key), ...extra },
  body: JSON.stringify(body),
});
const bearer = (key = stack.apiKey): RequestInit => ({ headers: { Authorization: `Bearer ${key}` } });
const imageKeyOf = (url: string) => /\/v1\/images\/([0-9a-f]{64})\.(\w+)$/.exec(url)!;

function renderPath(params: RenderParams, expiresAt = Math.floor(Date.now() / 1000) + 3600): Promise<string> {
  return signRenderUrl({ apiKey: stack.apiKey, baseURL: '', params, expiresAt });
}

describe('every operation answers as openapi.yaml declares', { timeout: 180_000 }, () => {
  test('health and models', async () => {
    assert.equal((await api('GET', '/healthz', '/healthz')).status, 200);
    assert.equal((await api('GET', '/v1/models', '/v1/models', bearer())).status, 200);
    assert.equal((await api('GET', '/v1/models', '/v1/models')).status, 401);
    const limited = await stack.createKey({ requests: 1 });
    assert.equal((await api('GET', '/v1/models', '/v1/models', bearer(limited))).status, 200);
    assert.equal((await api('GET', '/v1/models', '/v1/models', bearer(limited))).status, 429);
  });

  test('generations: url, b64_json, private, and their errors', async () => {
    const op = (init: RequestInit) => api('POST', '/v1/images/generations', '/v1/images/generations', init);
    assert.equal((await op(json({ prompt: 'contract: url', seed: 1, n: 2 }))).status, 200);
    assert.equal((await op(json({ prompt: 'contract: b64', seed: 1, response_format: 'b64_json', output_format: 'webp' }))).status, 200);
    assert.equal((await op(json({ prompt: 'contract: private', seed: 1, private: true, png_metadata: false }))).status, 200);
    assert.equal((await op(json({ prompt: 'contract: bad size', size: '512x512' }))).status, 400);
    assert.equal((await op(json({ prompt: 'x' }, 'sk_unknown_key_0000000000000000000000'))).status, 401);
    assert.equal((await op(json({ prompt: 'x'.repeat(70_000) }))).status, 413);
  });

  test('jobs: create, replay conflicts, get, events, cancel, and 404', async () => {
    const created = await api(
      'POST',
      '/v1/jobs',
      '/v1/jobs',
      json({ prompt: 'contract: job', seed: 3 }, stack.apiKey, { 'Idempotency-Key': 'contract-job-1' }),
    );
    assert.equal(created.status, 202);
    const id = (JSON.parse(created.text) as { id: string }).id;
    assert.equal(
      (
        await api(
          'POST',
          '/v1/jobs',
          '/v1/jobs',
          json({ prompt: 'contract: other body', seed: 3 }, stack.apiKey, { 'Idempotency-Key': 'contract-job-1' }),
        )
      ).status,
      422,
    );
    assert.equal((await api('POST', '/v1/jobs', '/v1/jobs', json({ prompt: 'contract: job', n: 9 }))).status, 400);
    await waitForJob(stack.edgeUrl, stack.apiKey, id);
    assert.equal((await api('GET', '/v1/jobs/{id}', `/v1/jobs/${id}`, bearer())).status, 200);
    assert.equal((await api('GET', '/v1/jobs/{id}/events', `/v1/jobs/${id}/events`, bearer())).status, 200);
    assert.equal((await api('DELETE', '/v1/jobs/{id}', `/v1/jobs/${id}`, bearer())).status, 200);
    assert.equal((await api('GET', '/v1/jobs/{id}', '/v1/jobs/job_none', bearer())).status, 404);
    assert.equal((await api('GET', '/v1/jobs/{id}/events', '/v1/jobs/job_none/events', bearer())).status, 404);
    assert.equal((await api('DELETE', '/v1/jobs/{id}', '/v1/jobs/job_none', bearer())).status, 404);
  });

  test('images: whole, range, 304, 416, 400, 404', async () => {
    const generated = JSON.parse(
      (await api('POST', '/v1/images/generations', '/v1/images/generations', json({ prompt: 'contract: image', seed: 4 }))).text,
    ) as { data: { url: string }[] };
    const path = new URL(generated.data[0].url).pathname;
    const get = (init: RequestInit = {}, at = path) => api('GET', '/v1/images/{key}.{ext}', at, init);
    const whole = await get();
    assert.equal(whole.status, 200);
    assert.equal((await get({ headers: { Range: 'bytes=0-9' } })).status, 206);
    assert.equal((await get({ headers: { 'If-None-Match': whole.headers.get('ETag')! } })).status, 304);
    assert.equal((await get({ headers: { Range: `bytes=${whole.bytes.byteLength + 10}-` } })).status, 416);
    assert.equal((await get({}, '/v1/images/not-a-key.png')).status, 400);
    assert.equal((await get({}, `/v1/images/${'0'.repeat(64)}.png`)).status, 404);
  });

  test('DELETE /v1/images/{key}: 204 for the owner of a private image, 403 shared, 404, 400, 401', async () => {
    const generate = async (body: object) =>
      (JSON.parse((await api('POST', '/v1/images/generations', '/v1/images/generations', json(body))).text) as { data: { url: string }[] })
        .data[0].url;
    const [, privateKey] = imageKeyOf(await generate({ prompt: 'contract: mine', seed: 5, private: true }));
    const [, sharedKey] = imageKeyOf(await generate({ prompt: 'contract: ours', seed: 5 }));
    const remove = (key: string, init: RequestInit = bearer()) => api('DELETE', '/v1/images/{key}', `/v1/images/${key}`, init);
    assert.equal((await remove(privateKey)).status, 204);
    assert.equal((await remove(privateKey)).status, 404);
    assert.equal((await remove(sharedKey)).status, 403);
    assert.equal((await remove('nope')).status, 400);
    assert.equal((await remove(sharedKey, {})).status, 401);
  });

  test('render: 200, 304, 206 (a declared range), 416, 400, 403', async () => {
    const path = await renderPath({ prompt: 'contract: render', seed: 6 });
    const render = (init: RequestInit = {}, at = path) => api('GET', '/v1/render', at, init);
    const first = await render();
    assert.equal(first.status, 200);
    assert.equal((await render({ headers: { 'If-None-Match': first.headers.get('ETag')! } })).status, 304);
    assert.equal((await render({ headers: { Range: 'bytes=0-9' } })).status, 206);
    assert.equal((await render({ headers: { Range: `bytes=${first.bytes.byteLength + 10}-` } })).status, 416);
    assert.equal((await render({}, await renderPath({ prompt: 'contract: render', cfg: 21 }))).status, 400);
    assert.equal((await render({}, path.replace('seed=6', 'seed=7'))).status, 403);
    assert.equal((await render({}, await renderPath({ prompt: 'contract: expired' }, 1))).status, 403);
  });

  test('every operation was called and answered a 2xx', () => {
    for (const [operation, statuses] of seen)
      assert.ok(
        [...statuses].some((status) => status < 300),
        `${operation} never answered a 2xx (saw ${[...statuses].join(', ') || 'nothing'})`,
      );
  });
});

describe('bounds end to end', { timeout: 180_000 }, () => {
  const request = spec.components.schemas.GenerationRequest as { properties: Record<string, Schema & Record<string, number>> };
  const generate = (body: object) => api('POST', '/v1/images/generations', '/v1/images/generations', json(body));

  /** A value just past each declared bound of GenerationRequest, from openapi.yaml itself. */
  function pastBounds(): Array<[string, unknown]> {
    const out: Array<[string, unknown]> = [];
    for (const [field, schema] of Object.entries(request.properties)) {
      const step = schema.type === 'integer' ? 1 : 0.001;
      if (schema.minimum !== undefined) out.push([field, schema.minimum - step]);
      if (schema.exclusiveMinimum !== undefined) out.push([field, schema.exclusiveMinimum]);
      if (schema.maximum !== undefined) out.push([field, schema.maximum + step]);
      if (schema.maxLength !== undefined) out.push([field, 'a'.repeat(schema.maxLength + 1)]);
      if (schema.minLength !== undefined && schema.minLength > 0) out.push([field, '']);
    }
    return out;
  }

  test('just past each public bound → 400 naming that field (top_k 1000001 was a 502 from the GPU)', async () => {
    const cases = pastBounds();
    assert.ok(cases.some(([field, value]) => field === 'top_k' && value === 1_000_001));
    for (const [field, value] of cases) {
      const answer = await generate({ prompt: 'contract: bounds', seed: 1, [field]: value });
      assert.equal(answer.status, 400, `${field} = ${String(value).slice(0, 20)}: ${answer.text.slice(0, 200)}`);
      const problem = JSON.parse(answer.text) as { errors: { path: string }[] };
      assert.deepEqual([...new Set(problem.errors.map((error) => error.path))], [field], `${field}: ${answer.text.slice(0, 200)}`);
    }
  });

  test('every field at its upper bound at once is generated by the real gpu-service', async () => {
    const at = {
      n: 4,
      seed: 4_294_967_295,
      cfg: 20,
      top_k: 1_000_000,
      top_p: 1,
      prompt: 'p'.repeat(2000),
      negative_prompt: 'n'.repeat(2000),
    };
    for (const [field, value] of Object.entries(at)) {
      const declared = request.properties[field];
      assert.equal(
        declared.maximum ?? declared.maxLength,
        typeof value === 'string' ? value.length : value,
        `${field}: the test uses openapi.yaml's bound`,
      );
    }
    const answer = await generate(at);
    assert.equal(answer.status, 200, answer.text.slice(0, 300));
    const body = JSON.parse(answer.text) as { data: { seed: number }[] };
    assert.deepEqual(
      body.data.map((image) => image.seed),
      [4_294_967_295, 0, 1, 2],
      'seeds wrap modulo 2^32',
    );
  });
});

describe('PNG metadata as stored by the real stack', () => {
  const textOf = async (url: string) => readPngText(Buffer.from(await (await fetch(url)).arrayBuffer()));

  test('the JSON API writes the prompt into the PNG unless png_metadata is false; render URLs do not', async () => {
    const generate = async (body: object) =>
      (JSON.parse((await api('POST', '/v1/images/generations', '/v1/images/generations', json(body))).text) as { data: { url: string }[] })
        .data[0].url;
    const withText = await textOf(await generate({ prompt: 'contract: with text', seed: 8 }));
    assert.equal(JSON.parse(withText.parameters).prompt, 'contract: with text');
    assert.deepEqual(await textOf(await generate({ prompt: 'contract: without text', seed: 8, png_metadata: false })), {});
    const rendered = await api('GET', '/v1/render', await renderPath({ prompt: 'contract: rendered', seed: 8 }));
    assert.deepEqual(readPngText(rendered.bytes), {});
    const optedIn = await api('GET', '/v1/render', await renderPath({ prompt: 'contract: rendered', seed: 8, png_metadata: true }));
    assert.equal(JSON.parse(readPngText(optedIn.bytes).parameters).prompt, 'contract: rendered');
  });
});
