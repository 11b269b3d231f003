// The contract's examples and limits, checked against its own schemas (via
// zod's JSON Schema import, as the edge's validators are derived from the
// same component schemas). An example that drifts from its schema, or a
// limit that goes missing, fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { dereference } from '@readme/openapi-parser';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parseServerSentEvents } from '../../sdk/src/core/sse.ts';

type Schema = Parameters<typeof z.fromJSONSchema>[0];
type Media = { schema?: Schema; example?: unknown; examples?: Record<string, { value?: unknown }> };
type Operation = {
  parameters?: Array<{ name: string; schema: Schema; example?: unknown }>;
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, { content?: Record<string, Media> }>;
};

const spec = (await dereference(parseYaml(await readFile(new URL('../../openapi.yaml', import.meta.url), 'utf8')))) as unknown as {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
};
const schemaOf = (name: string) => z.fromJSONSchema(spec.components.schemas[name]);

function* operations(): Generator<[string, Operation]> {
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (['get', 'post', 'delete'].includes(method)) yield [`${method.toUpperCase()} ${path}`, op];
    }
  }
}

test('every JSON example (requests, responses, problems) and parameter example matches its schema', () => {
  let checked = 0;
  for (const [label, op] of operations()) {
    const media: Array<[string, Media]> = [
      ...Object.entries(op.requestBody?.content ?? {}).map(([type, m]): [string, Media] => [`${label} request ${type}`, m]),
      ...Object.entries(op.responses).flatMap(([code, r]) =>
        Object.entries(r.content ?? {}).map(([type, m]): [string, Media] => [`${label} ${code} ${type}`, m]),
      ),
    ];
    for (const [where, m] of media) {
      if (!m.schema || m.example === undefined || !/json/.test(where)) continue;
      const result = z.fromJSONSchema(m.schema).safeParse(m.example);
      assert.ok(result.success, `${where}: ${result.error?.message}`);
      checked++;
    }
    for (const param of op.parameters ?? []) {
      if (param.example === undefined) continue;
      const result = z.fromJSONSchema(param.schema).safeParse(param.example);
      assert.ok(result.success, `${label} parameter ${param.name}: ${result.error?.message}`);
      checked++;
    }
  }
  assert.ok(checked > 40, `only ${checked} examples checked`);
});

test('every event of the SSE example parses and matches JobEvent', async () => {
  const example = spec.paths['/v1/jobs/{id}/events'].get.responses['200'].content!['text/event-stream'].example as string;
  const body = new Response(example).body!;
  const jobEvent = schemaOf('JobEvent');
  const names: string[] = [];
  for await (const message of parseServerSentEvents(body)) {
    const event = { id: Number(message.id), event: message.event, data: JSON.parse(message.data) };
    const result = jobEvent.safeParse(event);
    assert.ok(result.success, `event ${message.id}: ${result.error?.message}`);
    names.push(message.event);
  }
  assert.deepEqual(names, ['queued', 'started', 'progress', 'completed']);
});

test('GenerationRequest enforces the contract’s limits and rejects unknown fields', () => {
  const request = schemaOf('GenerationRequest');
  const valid = (body: object) => request.safeParse({ prompt: 'a fox', ...body }).success;
  assert.ok(
    valid({ n: 4, seed: 4294967295, cfg: 20, top_k: 1, top_p: 1, more_smooth: true, output_format: 'jpeg', response_format: 'b64_json' }),
  );
  assert.ok(valid({ n: 1, seed: 0, cfg: 0, top_p: 0.001, prompt: 'x'.repeat(2000), negative_prompt: 'y'.repeat(2000) }));
  const invalid: object[] = [
    { prompt: '' },
    { prompt: 'x'.repeat(2001) },
    { negative_prompt: 'y'.repeat(2001) },
    { n: 0 },
    { n: 5 },
    { n: 1.5 },
    { seed: -1 },
    { seed: 4294967296 },
    { seed: 1.5 },
    { cfg: -0.1 },
    { cfg: 20.5 },
    { top_k: 0 },
    { top_k: 2.5 },
    { top_p: 0 },
    { top_p: 1.01 },
    { output_format: 'gif' },
    { response_format: 'bytes' },
    { width: 512 },
  ];
  for (const body of invalid) assert.equal(valid(body), false, `accepted ${JSON.stringify(body)}`);
  assert.equal(request.safeParse({ n: 1 }).success, false, 'accepted a request without prompt');
});

test('JobCreateRequest accepts only https webhook URLs', () => {
  const request = schemaOf('JobCreateRequest');
  assert.ok(request.safeParse({ prompt: 'a fox', webhook_url: 'https://example.com/hook' }).success);
  assert.equal(request.safeParse({ prompt: 'a fox', webhook_url: 'http://example.com/hook' }).success, false);
});
