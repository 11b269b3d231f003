// The contract and the docs page, served by the Worker in workerd: the bundled openapi.yaml byte for
// byte, its JSON form, and a page that lists every operation with its text escaped.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { FakeGpu } from './helpers/gpu-server.ts';
import { GPU_SECRET, startWorker, type TestWorker } from './helpers/worker.ts';

const SPEC_TEXT = readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8');
const gpu = new FakeGpu(GPU_SECRET);
let worker: TestWorker;

before(async () => {
  worker = await startWorker({ gpuUrl: await gpu.start() });
});
after(async () => {
  await worker.dispose();
  await gpu.close();
});

test('GET /openapi.yaml is the repository’s openapi.yaml, without a key', async () => {
  const response = await worker.fetch('/openapi.yaml');
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('Content-Type'), 'application/yaml; charset=utf-8');
  assert.equal(await response.text(), SPEC_TEXT);
});

test('GET /openapi.json is the same document as JSON', async () => {
  const response = await worker.fetch('/openapi.json');
  assert.equal(response.status, 200);
  assert.match(response.headers.get('Content-Type') ?? '', /^application\/json/);
  assert.deepEqual(await response.json(), parse(SPEC_TEXT));
});

test('GET /docs lists every operation with its summary, and escapes the document’s text', async () => {
  const response = await worker.fetch('/docs');
  assert.equal(response.status, 200);
  assert.match(response.headers.get('Content-Type') ?? '', /^text\/html/);
  assert.match(response.headers.get('Content-Security-Policy') ?? '', /default-src 'none'/);
  const page = await response.text();
  const spec = parse(SPEC_TEXT) as { paths: Record<string, Record<string, { operationId: string; summary: string }>> };
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (!operation?.operationId) continue;
      assert.ok(page.includes(`<section id="${operation.operationId}">`), `${operation.operationId} has a section`);
      assert.ok(
        page.includes(`<code>${method.toUpperCase()} ${path}</code> — ${operation.summary.replaceAll("'", '&#39;')}</h3>`),
        `${method} ${path} is named with its summary`,
      );
    }
  }
  assert.ok(page.includes('&lt;img src='), 'markup in descriptions is shown, not rendered');
  assert.ok(!page.includes('<img'), 'no element comes from the document’s text');
  assert.ok(page.includes('href="/openapi.yaml"'));
});
