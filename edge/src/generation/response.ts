// The public GenerationResponse for an outcome.
import { base64Encode } from '../crypto.ts';
import { imagePath } from '../images/http.ts';
import type { GenerationResponse } from '../schemas.gen.ts';
import { CONTENT_TYPES } from './formats.ts';
import type { GenerationOutcome } from './service.ts';

export type ResponseFormat = 'url' | 'b64_json';

export function generationResponse(outcome: GenerationOutcome, origin: string, responseFormat: ResponseFormat): GenerationResponse {
  return {
    created: Math.floor(Date.now() / 1000),
    model: outcome.model,
    data: outcome.images.map((image) => ({
      ...(responseFormat === 'url' ? { url: origin + imagePath(image.key, image.format) } : {}),
      ...(responseFormat === 'b64_json' && image.bytes ? { b64_json: base64Encode(image.bytes) } : {}),
      key: image.key,
      seed: image.seed,
      width: image.width,
      height: image.height,
      content_type: CONTENT_TYPES[image.format],
    })),
    timings: outcome.timings,
    cached: outcome.cached,
  };
}
