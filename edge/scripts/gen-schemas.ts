// Emits edge/src/schemas.gen.ts (zod v4) from openapi.yaml's component schemas, so request
// validation and the public contract have one source. `npm run gen-schemas -w edge`;
// edge/test/contract.test.ts fails when the emitted file is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const OPENAPI_PATH = fileURLToPath(new URL('../../openapi.yaml', import.meta.url));
export const OUTPUT_PATH = fileURLToPath(new URL('../src/schemas.gen.ts', import.meta.url));

interface JsonSchema {
  $ref?: string;
  type?: string;
  enum?: (string | number | boolean)[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  oneOf?: JsonSchema[];
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  maxItems?: number;
  default?: unknown;
}

const REF_PREFIX = '#/components/schemas/';

function refName(ref: string): string {
  if (!ref.startsWith(REF_PREFIX)) throw new Error(`unsupported $ref ${ref}`);
  return ref.slice(REF_PREFIX.length);
}

function dependencies(schema: JsonSchema, out = new Set<string>()): Set<string> {
  if (schema.$ref) out.add(refName(schema.$ref));
  for (const child of Object.values(schema.properties ?? {})) dependencies(child, out);
  if (schema.items) dependencies(schema.items, out);
  for (const child of schema.oneOf ?? []) dependencies(child, out);
  return out;
}

function expression(schema: JsonSchema, where: string): string {
  if (schema.$ref) return refName(schema.$ref);
  if (schema.oneOf) return `z.union([${schema.oneOf.map((child, i) => expression(child, `${where}.oneOf[${i}]`)).join(', ')}])`;
  if (schema.enum) {
    if (schema.enum.every((value) => typeof value === 'string')) return `z.enum(${JSON.stringify(schema.enum)})`;
    return `z.union([${schema.enum.map((value) => `z.literal(${JSON.stringify(value)})`).join(', ')}])`;
  }
  switch (schema.type) {
    case 'string': {
      let out = schema.format === 'uri' ? 'z.url()' : 'z.string()';
      if (schema.pattern !== undefined) out += `.regex(new RegExp(${JSON.stringify(schema.pattern)}))`;
      if (schema.minLength !== undefined || schema.maxLength !== undefined)
        out += `.refine(...characters(${schema.minLength ?? 0}, ${schema.maxLength ?? 'Infinity'}))`;
      return out;
    }
    case 'integer':
    case 'number': {
      let out = schema.type === 'integer' ? 'z.number().int()' : 'z.number()';
      if (schema.minimum !== undefined) out += `.min(${schema.minimum})`;
      if (schema.exclusiveMinimum !== undefined) out += `.gt(${schema.exclusiveMinimum})`;
      if (schema.maximum !== undefined) out += `.max(${schema.maximum})`;
      if (schema.exclusiveMaximum !== undefined) out += `.lt(${schema.exclusiveMaximum})`;
      return out;
    }
    case 'boolean':
      return 'z.boolean()';
    case 'array': {
      if (!schema.items) throw new Error(`${where}: array without items`);
      let out = `z.array(${expression(schema.items, `${where}.items`)})`;
      if (schema.minItems !== undefined) out += `.min(${schema.minItems})`;
      if (schema.maxItems !== undefined) out += `.max(${schema.maxItems})`;
      return out;
    }
    case 'object': {
      const required = new Set(schema.required ?? []);
      const fields = Object.entries(schema.properties ?? {}).map(([name, child]) => {
        let field = expression(child, `${where}.${name}`);
        if (child.default !== undefined) field += `.default(${JSON.stringify(child.default)})`;
        else if (!required.has(name)) field += '.optional()';
        return `  ${/^[A-Za-z_$][\w$]*$/.test(name) ? name : JSON.stringify(name)}: ${field},`;
      });
      const body = fields.length ? `{\n${fields.join('\n')}\n}` : '{}';
      return schema.additionalProperties === false ? `z.strictObject(${body})` : `z.object(${body})`;
    }
    default:
      throw new Error(`${where}: unsupported schema ${JSON.stringify(schema)}`);
  }
}

/** Orders schemas so each comes after the ones it references (openapi.yaml has no cycles). */
function ordered(schemas: Record<string, JsonSchema>): string[] {
  const done: string[] = [];
  const visiting = new Set<string>();
  const visit = (name: string) => {
    if (done.includes(name)) return;
    if (visiting.has(name)) throw new Error(`schema cycle through ${name}`);
    if (!schemas[name]) throw new Error(`unknown schema ${name}`);
    visiting.add(name);
    for (const dependency of dependencies(schemas[name])) visit(dependency);
    visiting.delete(name);
    done.push(name);
  };
  for (const name of Object.keys(schemas)) visit(name);
  return done;
}

export function generateSchemas(openapiText: string): string {
  const document = parse(openapiText) as { components?: { schemas?: Record<string, JsonSchema> } };
  const schemas = document.components?.schemas;
  if (!schemas) throw new Error('openapi.yaml has no components.schemas');
  const lines = [
    '// Generated from openapi.yaml (components.schemas) by edge/scripts/gen-schemas.ts. Do not edit:',
    '// run `npm run gen-schemas -w edge`. edge/test/contract.test.ts fails when this file is stale.',
    "import { z } from 'zod';",
    '',
    "/** JSON Schema's minLength and maxLength count characters (code points); zod's min and max count UTF-16 units. */",
    'function characters(min: number, max: number): [(value: string) => boolean, string] {',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: generated TypeScript, a template literal there
    '  const message = max === Infinity ? `Must be at least ${min} characters` : min === 0 ? `Must be at most ${max} characters` : `Must be ${min} to ${max} characters`;',
    '  return [(value) => { const length = [...value].length; return length >= min && length <= max; }, message];',
    '}',
    '',
  ];
  for (const name of ordered(schemas)) {
    lines.push(`export const ${name} = ${expression(schemas[name], name).replace(/\n/g, '\n')};`);
    lines.push(`export type ${name} = z.infer<typeof ${name}>;`);
    lines.push('');
  }
  return lines.join('\n');
}

if (import.meta.main) {
  writeFileSync(OUTPUT_PATH, generateSchemas(readFileSync(OPENAPI_PATH, 'utf8')));
  console.log(`wrote ${OUTPUT_PATH}`);
}
