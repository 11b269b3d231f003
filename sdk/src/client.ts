// The client and its one request pipeline: build the request → fetch with a
// per-attempt timeout (linked to the caller's AbortSignal) → decide whether
// to retry → wait (Retry-After, else capped exponential backoff with jitter)
// → retry. Resources only describe requests; the policy lives here.
import { APIConnectionError, APITimeoutError, APIUserAbortError, MalformedResponseError, StarError, makeAPIError } from './core/errors.ts';
import { APIPromise, type WithResponse } from './core/api-promise.ts';
import { newIdempotencyKey } from './core/random.ts';
import { backoffMs, isRetryableStatus, maxRetryAfterMs, retryAfterMs } from './core/retry.ts';
import { checkRenderParams, signRenderUrl } from './render-url.ts';
import { Images } from './resources/images.ts';
import { Jobs } from './resources/jobs.ts';
import { Models } from './resources/models.ts';
import type { RenderParams } from './types.ts';

export const defaultBaseURL = 'https://api.star-api.dev';
/** Generations can take a while on a busy GPU; the edge gives up at about 2 min. */
export const defaultTimeoutMs = 180_000;
export const defaultMaxRetries = 2;
const sevenDaysInSeconds = 7 * 24 * 3600;

export interface ClientOptions {
  /** API key (`sk_...`). Defaults to the `STAR_API_KEY` environment variable where there is one. */
  apiKey?: string;
  /** Defaults to `STAR_BASE_URL`, else `https://api.star-api.dev`. */
  baseURL?: string;
  /** Milliseconds per attempt before it is abandoned (and retried). Default 180 000. */
  timeout?: number;
  /** Retries after the first attempt, for 408/409/429/5xx and connection errors. Default 2. */
  maxRetries?: number;
  /** A fetch implementation; defaults to the global one. */
  fetch?: typeof fetch;
  /** Sent with every request. */
  defaultHeaders?: Record<string, string>;
  /** Waits between retries and polls. For tests: record or skip the waiting. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Source of jitter in [0, 1). For tests. */
  random?: () => number;
}

export interface RequestOptions {
  /** Aborts the request (and its retries) with APIUserAbortError. */
  signal?: AbortSignal;
  /** Overrides the client's per-attempt timeout, in milliseconds. */
  timeout?: number;
  /** Overrides the client's maxRetries. */
  maxRetries?: number;
  /** POST only: the key for this logical request; one is generated when omitted. */
  idempotencyKey?: string;
  /** Extra headers for this request. */
  headers?: Record<string, string>;
}

export interface APIRequest {
  method: 'GET' | 'POST' | 'DELETE';
  /** Path under the base URL, starting with `/`. */
  path: string;
  /** Sent as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
}

/** An open streaming response; `close()` releases it (and the caller's signal). */
export interface OpenStream {
  response: Response;
  close(): void;
}

export interface RenderUrlOptions {
  /** Seconds the URL stays valid. Default 7 days; at most 30 days (the API refuses longer). */
  expiresIn?: number;
}

export class StarClient {
  readonly apiKey: string;
  readonly baseURL: string;
  readonly timeout: number;
  readonly maxRetries: number;
  readonly images: Images;
  readonly jobs: Jobs;
  readonly models: Models;
  private readonly fetchImpl: typeof fetch;
  private readonly defaultHeaders: Record<string, string>;
  private readonly sleepImpl: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly random: () => number;

  /**
   * @example
   * ```ts
   * import { StarClient } from '@star-api/sdk';
   * const star = new StarClient({ apiKey: 'sk_...' });
   * ```
   */
  constructor(options: ClientOptions = {}) {
    const apiKey = options.apiKey ?? environment('STAR_API_KEY');
    if (!apiKey) throw new StarError('Missing API key: pass { apiKey } or set STAR_API_KEY.');
    this.apiKey = apiKey;
    this.baseURL = (options.baseURL ?? environment('STAR_BASE_URL') ?? defaultBaseURL).replace(/\/+$/, '');
    this.timeout = options.timeout ?? defaultTimeoutMs;
    this.maxRetries = options.maxRetries ?? defaultMaxRetries;
    // Bound, so a fetch that checks its `this` (browsers) is happy.
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.defaultHeaders = options.defaultHeaders ?? {};
    this.sleepImpl = options.sleep ?? sleep;
    this.random = options.random ?? Math.random;
    this.images = new Images(this);
    this.jobs = new Jobs(this);
    this.models = new Models(this);
  }

  /**
   * A signed `GET /v1/render` URL for `<img src>`: the image is generated on
   * first view and cached forever after. Signed locally with this client's
   * API key, which never appears in the URL. A random seed is filled in when
   * `params.seed` is omitted, so the URL names one image. Parameters are checked
   * against the API's own bounds (generated from openapi.yaml) before signing:
   * InvalidParamsError names each one the API would refuse.
   *
   * @example
   * ```ts
   * const src = await star.renderUrl({ prompt: 'a red fox in the snow' }, { expiresIn: 3600 });
   * img.src = src;
   * ```
   */
  async renderUrl(params: RenderParams, options: RenderUrlOptions = {}): Promise<string> {
    const lifetime = options.expiresIn ?? sevenDaysInSeconds;
    checkRenderParams(params, lifetime);
    const expiresAt = Math.floor(Date.now() / 1000) + lifetime;
    return signRenderUrl({ apiKey: this.apiKey, baseURL: this.baseURL, params, expiresAt });
  }

  /**
   * Sends a request through the pipeline (auth, timeout, retries, typed
   * errors) and parses its JSON answer. The resources are built on it; use it
   * for an endpoint the SDK does not wrap. Like every method that makes one
   * request, it returns an APIPromise: `await` it for the body, or call
   * `.withResponse()` for the body and the response (request id, rate-limit headers).
   *
   * @example
   * ```ts
   * const health = await star.request<{ status: 'ok' }>({ method: 'GET', path: '/healthz' });
   * ```
   */
  request<T>(request: APIRequest, options: RequestOptions = {}): APIPromise<T> {
    return new APIPromise(this.requestWithResponse<T>(request, options));
  }

  private async requestWithResponse<T>(request: APIRequest, options: RequestOptions): Promise<WithResponse<T>> {
    const { response, text } = await this.send(request, options, 'application/json', true);
    const requestId = response.headers.get('x-request-id') ?? undefined;
    try {
      return { data: JSON.parse(text) as T, response, requestId };
    } catch (error) {
      throw new MalformedResponseError(response.status, text, requestId, error);
    }
  }

  /**
   * Sends a request through the pipeline and hands back the open event
   * stream; `jobs.stream()` is built on it. Call `close()` when done.
   *
   * @example
   * ```ts
   * const { response, close } = await star.stream({ method: 'GET', path: '/v1/jobs/job_1/events' });
   * try { console.log(response.headers.get('content-type')); } finally { close(); }
   * ```
   */
  async stream(request: APIRequest, options: RequestOptions = {}): Promise<OpenStream> {
    const { response, close } = await this.send(request, options, 'text/event-stream', false);
    return { response, close };
  }

  /**
   * Waits `ms` with the client's sleep (injectable for tests); throws
   * APIUserAbortError if `signal` fires meanwhile.
   *
   * @example
   * ```ts
   * await star.sleep(1000, controller.signal);
   * ```
   */
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    await this.sleepImpl(ms, signal);
    if (signal?.aborted) throw new APIUserAbortError();
  }

  private async send(request: APIRequest, options: RequestOptions, accept: string, readBody: boolean) {
    const maxRetries = options.maxRetries ?? this.maxRetries;
    const timeout = options.timeout ?? this.timeout;
    // One key per logical POST, reused by all its retries: that is what lets
    // the server recognise a retry.
    const idempotencyKey = request.method === 'POST' ? (options.idempotencyKey ?? newIdempotencyKey()) : undefined;
    const init: RequestInit = {
      method: request.method,
      headers: {
        Accept: accept,
        Authorization: `Bearer ${this.apiKey}`,
        ...(request.body === undefined ? {} : { 'Content-Type': 'application/json' }),
        ...(idempotencyKey === undefined ? {} : { 'Idempotency-Key': idempotencyKey }),
        ...this.defaultHeaders,
        ...options.headers,
        ...request.headers,
      },
      body: request.body === undefined ? undefined : JSON.stringify(request.body),
    };
    const url = this.baseURL + request.path;

    for (let retry = 1; ; retry++) {
      const retriesLeft = maxRetries - (retry - 1);
      let attempt: Attempt;
      try {
        attempt = await this.attempt(url, init, timeout, options.signal, readBody);
      } catch (error) {
        if (!(error instanceof APIConnectionError) || retriesLeft <= 0) throw error;
        await this.sleep(backoffMs(retry, this.random), options.signal);
        continue;
      }
      const { response, text } = attempt;
      if (response.ok) return attempt;
      const error = makeAPIError(response.status, text, response.headers);
      if (retriesLeft > 0 && isRetryableStatus(response.status)) {
        const asked = retryAfterMs(response.headers, Date.now());
        if (asked === undefined || asked <= maxRetryAfterMs) {
          await this.sleep(asked ?? backoffMs(retry, this.random), options.signal);
          continue;
        }
      }
      throw error;
    }
  }

  // One try: its own AbortController, fired by the timeout or by the caller.
  private async attempt(
    url: string,
    init: RequestInit,
    timeout: number,
    signal: AbortSignal | undefined,
    readBody: boolean,
  ): Promise<Attempt> {
    if (signal?.aborted) throw new APIUserAbortError();
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeout);
    const abort = () => controller.abort();
    signal?.addEventListener('abort', abort, { once: true });
    const close = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', abort);
      controller.abort();
    };
    try {
      const response = await this.fetchImpl(url, { ...init, signal: controller.signal });
      if (!readBody && response.ok) {
        // A stream lives past the timeout, which covers connecting only; the
        // caller's signal stays linked until close().
        clearTimeout(timer);
        return { response, text: '', close };
      }
      const text = await response.text();
      close();
      return { response, text, close };
    } catch (error) {
      close();
      if (signal?.aborted) throw new APIUserAbortError();
      if (timedOut) throw new APITimeoutError(`Request timed out after ${timeout} ms.`);
      throw new APIConnectionError(`Connection error: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }
}

interface Attempt {
  response: Response;
  text: string;
  close(): void;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

// process.env where there is one (Node, Deno, Bun); nothing in browsers.
function environment(name: string): string | undefined {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return env?.[name] || undefined;
}
