// The contract, served by the Worker itself: openapi.yaml is bundled as text, so what is served is
// always the document this Worker was built from; the parsed form is made once per isolate.
import { parse } from 'yaml';
import OPENAPI_YAML from '../../../openapi.yaml';

export { OPENAPI_YAML };

export interface Operation {
  operationId: string;
  summary?: string;
  description?: string;
  responses: Record<string, unknown>;
}

export interface OpenApiDocument {
  info: { title: string; version: string; summary?: string; description?: string };
  paths: Record<string, Record<string, Operation | unknown>>;
}

let parsed: OpenApiDocument | null = null;

export function openApiDocument(): OpenApiDocument {
  parsed ??= parse(OPENAPI_YAML) as OpenApiDocument;
  return parsed;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** Every operation, in the document's order. */
export function operations(spec: OpenApiDocument): { method: string; path: string; operation: Operation }[] {
  return Object.entries(spec.paths).flatMap(([path, item]) =>
    METHODS.filter((method) => item[method]).map((method) => ({
      method: method.toUpperCase(),
      path,
      operation: item[method] as Operation,
    })),
  );
}
