import type { RequestOptions, StarClient } from '../client.ts';
import type { APIPromise } from '../core/api-promise.ts';
import { randomSeed } from '../core/random.ts';
import type { GenerationRequest, GenerationResponse } from '../types.ts';

export class Images {
  private readonly client: StarClient;

  constructor(client: StarClient) {
    this.client = client;
  }

  /**
   * Generates `n` images (1–4) and waits for them (`POST /v1/images/generations`).
   * Image `i` uses seed `seed + i`; when `seed` is omitted the SDK picks one,
   * so a retried request names the same images and is served from the cache.
   *
   * @example
   * ```ts
   * const { data } = await star.images.generate({ prompt: 'a lighthouse at dusk', n: 2 });
   * console.log(data.map((image) => image.url));
   * ```
   */
  generate(params: GenerationRequest, options?: RequestOptions): APIPromise<GenerationResponse> {
    const body = { ...params, seed: params.seed ?? randomSeed() };
    return this.client.request({ method: 'POST', path: '/v1/images/generations', body }, options);
  }
}
