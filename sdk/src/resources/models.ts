import type { RequestOptions, StarClient } from '../client.ts';
import type { APIPromise } from '../core/api-promise.ts';
import type { ModelList } from '../types.ts';

export class Models {
  private readonly client: StarClient;

  constructor(client: StarClient) {
    this.client = client;
  }

  /**
   * Lists the models this deployment serves (`GET /v1/models`); the one used
   * when a request names none has `default: true`.
   *
   * @example
   * ```ts
   * const { data } = await star.models.list();
   * const fallback = data.find((model) => model.default)?.id;
   * ```
   */
  list(options?: RequestOptions): APIPromise<ModelList> {
    return this.client.request({ method: 'GET', path: '/v1/models' }, options);
  }
}
