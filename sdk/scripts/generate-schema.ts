// Generates src/schema.d.ts from the public contract. The test that guards
// against a stale file imports generateSchema(), so both always agree.
import { writeFile } from 'node:fs/promises';
import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript';

export const specUrl = new URL('../../openapi.yaml', import.meta.url);
export const schemaUrl = new URL('../src/schema.d.ts', import.meta.url);

export async function generateSchema(): Promise<string> {
  // defaultNonNullable: false keeps request fields that have a default
  // optional; otherwise `cfg` etc. would become required parameters.
  const ast = await openapiTS(specUrl, { defaultNonNullable: false });
  return COMMENT_HEADER + astToString(ast);
}

if (import.meta.main) {
  await writeFile(schemaUrl, await generateSchema());
  console.log(`wrote ${schemaUrl.pathname}`);
}
