// The public contract, checked as a document: a real OpenAPI 3.1 validator,
// plus the house rules that a validator cannot know (examples everywhere,
// problem+json on every error, the job body mirroring the generation body).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { validate, dereference, compileErrors } from '@readme/openapi-parser';
import { parse as parseYaml } from 'yaml';

const specPath = new URL('../../openapi.yaml', import.meta.url);
const specText = await readFile(specPath, 'utf8');

// Loosely typed views of the dereferenced document: enough to walk it.
type MediaType = { example?: unknown; examples?: Record<string, unknown>; schema?: Record<string, unknown> };
type Response = { content?: Record<string, MediaType>; headers?: Record<string, unknown> };
type Parameter = { name: string; in: string; required?: boolean; example?: unknown; examples?: unknown };
type Operation = {
  operationId: string;
  security?: unknown[];
  parameters?: Parameter[];
  requestBody?: { content: Record<string, MediaType> };
  responses: Record<string, Response>;
};
type Spec = {
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, { properties?: Record<string, unknown>; enum?: string[] }> };
};

const methods = ['get', 'put', 'post', 'delete', 'patch'];

async function loadDereferenced(): Promise<Spec> {
  return (await dereference(parseYaml(specText))) as unknown as Spec;
}

function operationsOf(spec: Spec): Array<{ label: string; op: Operation; pathParams: Parameter[] }> {
  const out = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    const pathParams = (item.parameters ?? []) as Parameter[];
    for (const method of methods) {
      const op = item[method] as Operation | undefined;
      if (op) out.push({ label: `${method.toUpperCase()} ${path}`, op, pathParams });
    }
  }
  return out;
}

function hasExample(media: MediaType): boolean {
  return media.example !== undefined || Object.keys(media.examples ?? {}).length > 0;
}

test('openapi.yaml is a valid OpenAPI 3.1 document', async () => {
  const result = await validate(parseYaml(specText));
  assert.equal(result.valid, true, result.valid ? '' : compileErrors(result));
  assert.match(specText, /^openapi: 3\.1\./);
});

test('every operation has a request example and a success response example', async () => {
  const spec = await loadDereferenced();
  const ops = operationsOf(spec);
  assert.ok(ops.length >= 9, `expected the whole API, found ${ops.length} operations`);
  for (const { label, op, pathParams } of ops) {
    for (const param of [...pathParams, ...(op.parameters ?? [])]) {
      if (param.required) {
        assert.ok(param.example !== undefined || param.examples !== undefined, `${label}: parameter ${param.name} has no example`);
      }
    }
    for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) {
      assert.ok(hasExample(media), `${label}: request body ${type} has no example`);
    }
    const successCode = Object.keys(op.responses)
      .filter((code) => code.startsWith('2'))
      .sort()[0];
    assert.ok(successCode, `${label}: no 2xx response`);
    const content = op.responses[successCode].content ?? {};
    // 204 No Content is the one success that has no body to show.
    assert.ok(Object.keys(content).length > 0 || successCode === '204', `${label}: ${successCode} has no content`);
    for (const [type, media] of Object.entries(content)) {
      assert.ok(hasExample(media), `${label}: ${successCode} ${type} has no example`);
    }
  }
});

test('every 4xx/5xx response is problem+json with a documented type matching its status', async () => {
  const spec = await loadDereferenced();
  const problemTypes = spec.components.schemas.ProblemType.enum ?? [];
  for (const { label, op } of operationsOf(spec)) {
    for (const [code, response] of Object.entries(op.responses)) {
      if (!/^[45]/.test(code)) continue;
      const types = Object.keys(response.content ?? {});
      assert.deepEqual(types, ['application/problem+json'], `${label} ${code}`);
      const media = response.content!['application/problem+json'];
      assert.ok(media.schema?.required, `${label} ${code}: no Problem schema`);
      const example = media.example as { type: string; status: number };
      assert.ok(problemTypes.includes(example.type), `${label} ${code}: undocumented type ${example.type}`);
      assert.equal(String(example.status), code, `${label} ${code}: example status`);
    }
  }
});

test('every response carries X-Request-Id; authenticated operations document 401 and 429', async () => {
  const spec = await loadDereferenced();
  for (const { label, op } of operationsOf(spec)) {
    for (const [code, response] of Object.entries(op.responses)) {
      assert.ok(response.headers?.['X-Request-Id'], `${label} ${code}: no X-Request-Id header`);
    }
    const isPublic = Array.isArray(op.security) && op.security.length === 0;
    if (!isPublic) {
      assert.ok(op.responses['401'], `${label}: no 401`);
      assert.ok(op.responses['429']?.headers?.['Retry-After'], `${label}: no 429 with Retry-After`);
    }
  }
});

test('JobCreateRequest is GenerationRequest plus webhook_url', async () => {
  const spec = await loadDereferenced();
  const { GenerationRequest, JobCreateRequest } = spec.components.schemas;
  const { webhook_url, ...rest } = JobCreateRequest.properties ?? {};
  assert.ok(webhook_url, 'webhook_url missing');
  assert.deepEqual(rest, GenerationRequest.properties);
});

test('ProblemType lists exactly the problem names of the contract', async () => {
  const spec = await loadDereferenced();
  const names = (spec.components.schemas.ProblemType.enum ?? []).map((uri) => uri.replace('https://star-api.dev/problems/', ''));
  assert.deepEqual(names.toSorted(), [
    'conflict',
    'forbidden',
    'generation_failed',
    'gpu_timeout',
    'gpu_unavailable',
    'idempotency_key_reused',
    'internal',
    'invalid_request',
    'model_not_found',
    'not_found',
    'payload_too_large',
    'range_not_satisfiable',
    'rate_limited',
    'unauthorized',
  ]);
});
