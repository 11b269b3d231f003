// One source for every bound: each numeric or length bound the gpu-service's internal contract
// enforces (@star-api/contract, contract/src/internal-api.ts) has a public field in openapi.yaml that declares
// a bound of its own, and every value the public schema allows is accepted by the internal one.
// The edge validates with zod generated from openapi.yaml, so input the GPU would refuse is a
// 400 naming the field at the edge, never a 5xx from the GPU. The public doors that take these
// fields (the JSON bodies and the render URL's query) declare the same bounds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { dereference } from '@readme/openapi-parser';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { generateRequestSchema } from '@star-api/contract';
import { loadConfig } from '../../gpu-service/src/server/config.ts';

interface Schema {
  type?: string;
  pattern?: string;
  items?: Schema;
  properties?: Record<string, Schema>;
  [bound: string]: unknown;
}

const BOUNDS = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minLength', 'maxLength', 'minItems', 'maxItems'] as const;
const UPPER = ['maximum', 'exclusiveMaximum', 'maxLength'] as const;

/** Internal field (`seeds[]` is each seed) → the public field that decides it. */
const FED_BY: Record<string, string> = {
  model: 'model',
  prompt: 'prompt',
  negative_prompt: 'negative_prompt',
  seeds: 'n',
  'seeds[]': 'seed',
  cfg: 'cfg',
  top_k: 'top_k',
  top_p: 'top_p',
};

const spec = (await dereference(parseYaml(await readFile(new URL('../../openapi.yaml', import.meta.url), 'utf8')))) as unknown as {
  paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string; schema: Schema }> }>>;
  components: { schemas: Record<string, Schema> };
};

const maxBatch = loadConfig({ GPU_SHARED_SECRET: 'x'.repeat(32) }).maxBatch;
const internal = generateRequestSchema(maxBatch);
const internalJson = z.toJSONSchema(internal, { io: 'input' }) as Schema;

/** The public doors into a generation, each a map of field → schema. */
const doors: Record<string, Record<string, Schema>> = {
  GenerationRequest: spec.components.schemas.GenerationRequest.properties!,
  JobCreateRequest: spec.components.schemas.JobCreateRequest.properties!,
  'GET /v1/render query': Object.fromEntries(
    (spec.paths['/v1/render'].get.parameters ?? []).filter((p) => p.in === 'query').map((p) => [p.name, p.schema]),
  ),
};

/** Fields a door does not take because it fixes them (a render URL is always one image). */
const FIXED_BY_DOOR: Record<string, string[]> = { 'GET /v1/render query': ['n'] };

function boundsOf(schema: Schema): Record<string, unknown> {
  return Object.fromEntries(BOUNDS.filter((name) => schema[name] !== undefined).map((name) => [name, schema[name]]));
}

function internalFields(): Array<[string, Schema]> {
  const fields = Object.entries(internalJson.properties!);
  const seeds = internalJson.properties!.seeds;
  return [...fields, ['seeds[]', seeds.items!]];
}

/** The smallest and largest values a public field allows. Strings are as long as allowed, in
 *  astral characters where no pattern forbids them: JSON Schema counts code points, zod UTF-16 units. */
function extremes(schema: Schema): unknown[] {
  if (schema.type === 'integer' || schema.type === 'number') {
    const tiny = schema.type === 'integer' ? 1 : Number.MIN_VALUE;
    const low = schema.minimum ?? (schema.exclusiveMinimum as number) + tiny;
    const high = schema.maximum ?? (schema.exclusiveMaximum as number) - tiny;
    return [low, high];
  }
  if (schema.type === 'string') {
    const unit = schema.pattern ? 'a' : '🦊';
    return [unit.repeat(Math.max(1, (schema.minLength as number | undefined) ?? 1)), unit.repeat(schema.maxLength as number)];
  }
  throw new Error(`no extremes for a ${schema.type}`);
}

const validInternal = { model: 'star-tiny', prompt: 'a fox', seeds: [0] };

/** The internal body a public value of `publicField` turns into. */
function internalBodyWith(internalField: string, value: unknown): Record<string, unknown> {
  if (internalField === 'seeds') return { ...validInternal, seeds: Array.from({ length: value as number }, (_, i) => i) };
  if (internalField === 'seeds[]') return { ...validInternal, seeds: [value] };
  return { ...validInternal, [internalField]: value };
}

test('every bounded field of the internal contract is fed by a public field', () => {
  const bounded = internalFields()
    .filter(([, schema]) => Object.keys(boundsOf(schema)).length > 0)
    .map(([name]) => name);
  assert.ok(bounded.includes('top_k'), 'the walk sees the internal top_k bound');
  for (const name of bounded)
    assert.ok(
      FED_BY[name],
      `internal field "${name}" ${JSON.stringify(boundsOf(Object.fromEntries(internalFields())[name]))} has no public field mapped in FED_BY`,
    );
});

test('each public door declares an upper bound for every field the GPU bounds, the same on every door', () => {
  for (const publicField of new Set(Object.values(FED_BY))) {
    const seen = Object.entries(doors)
      .filter(([door]) => !FIXED_BY_DOOR[door]?.includes(publicField))
      .map(([door, fields]) => {
        const schema = fields[publicField];
        assert.ok(schema, `${door} has no "${publicField}"`);
        assert.ok(
          UPPER.some((name) => schema[name] !== undefined),
          `${door}.${publicField} declares no upper bound: ${JSON.stringify(schema)}`,
        );
        return [door, boundsOf(schema)] as const;
      });
    for (const [door, bounds] of seen.slice(1))
      assert.deepEqual(bounds, seen[0][1], `${door}.${publicField} and ${seen[0][0]}.${publicField} differ`);
  }
});

test('every value the public schema allows is accepted by the internal contract', () => {
  let checked = 0;
  for (const [internalField, publicField] of Object.entries(FED_BY)) {
    for (const value of extremes(doors.GenerationRequest[publicField])) {
      const result = internal.safeParse(internalBodyWith(internalField, value));
      assert.ok(
        result.success,
        `public ${publicField} = ${JSON.stringify(value).slice(0, 60)} is refused by the internal contract: ${result.error?.message}`,
      );
      checked++;
    }
  }
  assert.equal(checked, Object.keys(FED_BY).length * 2);
});

test('the internal contract refuses what is just past its own bounds (the walk above is not vacuous)', () => {
  assert.equal(internal.safeParse({ ...validInternal, top_k: 1_000_001 }).success, false);
  assert.equal(internal.safeParse({ ...validInternal, seeds: Array.from({ length: maxBatch + 1 }, (_, i) => i) }).success, false);
  assert.equal(internal.safeParse({ ...validInternal, prompt: 'x'.repeat(4001) }).success, false);
});
