// Generates, from the public contract, src/schema.d.ts (the types, with openapi-typescript) and
// src/render-params.gen.ts (GET /v1/render's query parameter bounds and the URL's maximum
// lifetime, as runtime values, so renderUrl() checks exactly what the API checks). The test
// that guards against stale files imports these functions, so both always agree.
import { readFile, writeFile } from 'node:fs/promises';
import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript';
import { parse } from 'yaml';

export const specUrl = new URL('../../openapi.yaml', import.meta.url);
export const schemaUrl = new URL('../src/schema.d.ts', import.meta.url);
export const renderParamsUrl = new URL('../src/render-params.gen.ts', import.meta.url);

export async function generateSchema(): Promise<string> {
  // defaultNonNullable: false keeps request fields that have a default
  // optional; otherwise `cfg` etc. would become required parameters.
  const ast = await openapiTS(specUrl, { defaultNonNullable: false });
  return COMMENT_HEADER + astToString(ast);
}

interface Parameter {
  $ref?: string;
  name?: string;
  in?: string;
  schema?: Record<string, unknown>;
  'x-max-lifetime-seconds'?: number;
}

/** The signature's own fields, which renderUrl() fills in itself. */
const SIGNATURE_FIELDS = ['kid', 'exp', 'sig'];
/** The JSON Schema keywords the SDK's check understands (render-url.ts). */
const KEYWORDS = ['type', 'enum', 'pattern', 'minLength', 'maxLength', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'];

export async function generateRenderParams(): Promise<string> {
  const spec = parse(await readFile(specUrl, 'utf8'));
  const resolve = (schema: Record<string, unknown>): Record<string, unknown> => {
    const ref = schema.$ref;
    if (typeof ref !== 'string') return schema;
    const name = ref.replace('#/components/schemas/', '');
    return resolve(spec.components.schemas[name]);
  };
  const parameters: Parameter[] = spec.paths['/v1/render'].get.parameters;
  const bounds: Record<string, Record<string, unknown>> = {};
  let maxLifetime: number | undefined;
  for (const parameter of parameters) {
    if (parameter.in !== 'query' || !parameter.name || !parameter.schema) continue;
    if (parameter.name === 'exp') maxLifetime = parameter['x-max-lifetime-seconds'];
    if (SIGNATURE_FIELDS.includes(parameter.name)) continue;
    const schema = resolve(parameter.schema);
    bounds[parameter.name] = Object.fromEntries(
      KEYWORDS.filter((keyword) => keyword in schema).map((keyword) => [keyword, schema[keyword]]),
    );
  }
  if (maxLifetime === undefined) throw new Error('openapi.yaml: GET /v1/render `exp` has no x-max-lifetime-seconds');
  return `// Generated from openapi.yaml (GET /v1/render) by sdk/scripts/generate-schema.ts. Do not edit:
// run \`npm run generate -w sdk\`. sdk/test/schema.test.ts fails when this file is stale.

/** Each render parameter's JSON Schema bounds, as the API validates them. */
export const renderParameterBounds = ${JSON.stringify(bounds, null, 2)} as const;

/** The longest a render URL may live, in seconds (\`exp\`'s \`x-max-lifetime-seconds\`). */
export const maxRenderUrlLifetimeSeconds = ${maxLifetime};
`;
}

if (import.meta.main) {
  await writeFile(schemaUrl, await generateSchema());
  await writeFile(renderParamsUrl, await generateRenderParams());
  console.log(`wrote ${schemaUrl.pathname} and ${renderParamsUrl.pathname}`);
}
