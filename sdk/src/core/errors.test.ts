import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { APIError, GPUUnavailableError, ModelNotFoundError, NotFoundError, RateLimitedError, makeAPIError } from './errors.ts';

const problemBody = (name: string, status: number, extra: object = {}) =>
  JSON.stringify({ type: `https://star-api.dev/problems/${name}`, title: name, status, detail: 'd', request_id: 'req_1', ...extra });

test('every problem type of openapi.yaml maps to its own APIError subclass', async () => {
  const spec = parseYaml(await readFile(new URL('../../../openapi.yaml', import.meta.url), 'utf8'));
  const types: string[] = spec.components.schemas.ProblemType.enum;
  // Range requests are for browsers and CDNs; the SDK never sends one.
  const sdkFacing = types.filter((type) => !type.endsWith('/range_not_satisfiable'));
  const classes = new Set<unknown>();
  for (const type of sdkFacing) {
    const name = type.split('/').pop()!;
    // A status the class cannot be guessed from, so the type alone decides.
    const error = makeAPIError(599, problemBody(name, 599), new Headers());
    assert.notEqual(error.constructor, APIError, `${name} has no subclass`);
    classes.add(error.constructor);
  }
  assert.equal(classes.size, sdkFacing.length, 'two problem types share a class');
});

test('model_not_found is a ModelNotFoundError, which is also a NotFoundError', () => {
  const error = makeAPIError(404, problemBody('model_not_found', 404), new Headers());
  assert.ok(error instanceof ModelNotFoundError);
  assert.ok(error instanceof NotFoundError, 'code catching any 404 still catches it');
});

test('retryAfter comes from the Retry-After header, else from the problem body', () => {
  const fromHeader = makeAPIError(429, problemBody('rate_limited', 429, { retry_after: 9 }), new Headers({ 'retry-after': '3' }));
  assert.ok(fromHeader instanceof RateLimitedError);
  assert.equal(fromHeader.retryAfter, 3);
  const fromBody = makeAPIError(503, problemBody('gpu_unavailable', 503, { retry_after: 9 }), new Headers());
  assert.ok(fromBody instanceof GPUUnavailableError);
  assert.equal(fromBody.retryAfter, 9);
});

test('an unknown 4xx without a problem body is a plain APIError whose message says what came back', () => {
  const error = makeAPIError(418, 'short and stout', new Headers({ 'x-request-id': 'req_tea' }));
  assert.equal(error.constructor, APIError);
  assert.equal(error.message, '418 short and stout (request req_tea)');
});
