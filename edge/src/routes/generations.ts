// POST /v1/images/generations: generate (or find) every image, then answer. The body is also
// what OpenAI's Images API takes (size, user, quality, style are accepted; see openapi.yaml).
import { Hono } from 'hono';
import type { AppEnv } from '../env.ts';
import { GenerationRequest } from '../schemas.gen.ts';
import { readJson, toParams, validate } from '../generation/validate.ts';
import { generate } from '../generation/service.ts';
import { generationResponse } from '../generation/response.ts';
import { depsFor } from '../generation/deps.ts';
import { noteLimitStatus } from '../middleware/rate-limit/index.ts';

export const generations = new Hono<AppEnv>().post('/', async (c) => {
  const request = validate(GenerationRequest, await readJson(c.req.raw));
  const params = toParams(request, c.get('config'), c.get('apiKey').kid);
  const outcome = await generate(depsFor(c), params, {
    needBytes: request.response_format === 'b64_json',
    onLimitStatus: (status) => noteLimitStatus(c, status),
  });
  return c.json(generationResponse(outcome, c.get('config').publicOrigin, request.response_format));
});
