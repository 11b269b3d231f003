// Request bodies over the limit (declared or streamed) get 413 before anything parses them.
import type { MiddlewareHandler } from 'hono';
import { bodyLimit as honoBodyLimit } from 'hono/body-limit';
import type { AppEnv } from '../../env.ts';
import { MAX_BODY_BYTES } from '../../limits/request.ts';
import { problem } from '../problem/index.ts';

export function bodyLimit(maxBytes = MAX_BODY_BYTES): MiddlewareHandler<AppEnv> {
  return honoBodyLimit({
    maxSize: maxBytes,
    onError: (c) => problem(c, 'payload_too_large', `Request bodies are limited to ${maxBytes} bytes`),
  });
}
