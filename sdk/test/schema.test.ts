// schema.d.ts is generated from openapi.yaml and committed; it must not lag
// behind the contract. Fix a failure with `npm run generate -w sdk`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { generateSchema, schemaUrl } from '../scripts/generate-schema.ts';

test('src/schema.d.ts is what openapi-typescript generates from openapi.yaml today', async () => {
  const committed = await readFile(schemaUrl, 'utf8');
  const fresh = await generateSchema();
  assert.ok(fresh.includes('GenerationRequest'), 'generator produced no schema types');
  assert.equal(committed, fresh, 'sdk/src/schema.d.ts is stale: run `npm run generate -w sdk`');
});
