// What the request methods return: a Promise of the parsed body that can also hand back the
// HTTP response it came from (`.withResponse()`), for the request id and the rate-limit headers
// of a success. One request either way; awaiting it and calling withResponse() share it.

/** The parsed body with the response it came from (its body already read). */
export interface WithResponse<T> {
  data: T;
  response: Response;
  /** The response's `X-Request-Id`; quote it in support requests. */
  requestId: string | undefined;
}

export class APIPromise<T> extends Promise<T> {
  // then/catch/finally build plain Promises, not APIPromises (whose constructor differs).
  static override get [Symbol.species]() {
    return Promise;
  }

  readonly #result: Promise<WithResponse<T>>;

  constructor(result: Promise<WithResponse<T>>) {
    // The base promise never settles: every way of reading this one goes through `then`
    // below, so a failure is reported once, to whoever listens (never as an unhandled rejection
    // of a promise nobody holds).
    super(() => {});
    this.#result = result;
  }

  // biome-ignore lint/suspicious/noThenProperty: an APIPromise is a Promise; `then` is how it is read
  override then<A = T, B = never>(
    onfulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.#result.then((result) => result.data).then(onfulfilled, onrejected);
  }

  /**
   * The body together with the response: its status and headers (`X-Request-Id`,
   * `RateLimit`, `RateLimit-Policy`, `Retry-After`, …).
   *
   * @example
   * ```ts
   * const { data, response, requestId } = await star.images.generate({ prompt: 'a fox' }).withResponse();
   * console.log(requestId, response.headers.get('RateLimit'), data.data[0].url);
   * ```
   */
  withResponse(): Promise<WithResponse<T>> {
    return this.#result;
  }
}
