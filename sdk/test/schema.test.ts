// schema.d.ts and render-params.gen.ts are generated from openapi.yaml and committed; they must
// not lag behind the contract. Fix a failure with `npm run generate -w sdk`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { generateRenderParams, generateSchema, renderParamsUrl, schemaUrl } from '../scripts/generate-schema.ts';

test('src/schema.d.ts is what openapi-typescript generates from openapi.yaml today', async () => {
  const committed = await readFile(schemaUrl, 'utf8');
  const fresh = await generateSchema();
  assert.ok(fresh.includes('GenerationRequest'), 'generator produced no schema types');
  assert.equal(committed, fresh, 'sdk/src/schema.d.ts is stale: run `npm run generate -w sdk`');
});

test('src/render-params.gen.ts is what the generator makes from openapi.yaml today', async () => {
  const committed = await readFile(renderParamsUrl, 'utf8');
  const fresh = await generateRenderParams();
  assert.match(fresh, /"prompt": \{/, 'generator found no render parameters');
  assert.equal(committed, fresh, 'sdk/src/render-params.gen.ts is stale: run `npm run generate -w sdk`');
});
