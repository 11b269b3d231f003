import type { RequestOptions, StarClient } from '../client.ts';
import type { APIPromise } from '../core/api-promise.ts';
import { APIConnectionError, APITimeoutError, APIUserAbortError, MalformedResponseError, StarError } from '../core/errors.ts';
import { backoffMs } from '../core/retry.ts';
import { parseServerSentEvents, type ServerSentEvent } from '../core/sse.ts';
import type { Job, JobCreateRequest, JobEvent, JobStatus } from '../types.ts';

export interface WaitOptions {
  /** Milliseconds between polls. Default 1000. */
  pollInterval?: number;
  /** Milliseconds before giving up with APITimeoutError. Default 10 minutes. */
  timeout?: number;
  signal?: AbortSignal;
}

export interface StreamOptions {
  /** Resume after this event id (from an earlier stream). */
  lastEventId?: number | string;
  signal?: AbortSignal;
}

const terminalStatuses: ReadonlySet<JobStatus> = new Set(['succeeded', 'failed', 'cancelled']);
const terminalEvents: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled']);
const knownEvents: ReadonlySet<string> = new Set(['queued', 'started', 'progress', ...terminalEvents]);

export class Jobs {
  private readonly client: StarClient;

  constructor(client: StarClient) {
    this.client = client;
  }

  /**
   * Queues a generation (`POST /v1/jobs`) and answers at once with the job.
   * Retries reuse one Idempotency-Key, so a retry never creates a second job.
   *
   * @example
   * ```ts
   * const job = await star.jobs.create({ prompt: 'a lighthouse at dusk', webhook_url: 'https://example.com/hook' });
   * console.log(job.id, job.status); // job_… queued
   * ```
   */
  create(params: JobCreateRequest, options?: RequestOptions): APIPromise<Job> {
    return this.client.request({ method: 'POST', path: '/v1/jobs', body: params }, options);
  }

  /**
   * The job as it is now (`GET /v1/jobs/{id}`).
   *
   * @example
   * ```ts
   * const job = await star.jobs.get('job_8Zq4mK2vT1xR');
   * if (job.status === 'succeeded') console.log(job.result?.data[0].url);
   * ```
   */
  get(id: string, options?: RequestOptions): APIPromise<Job> {
    return this.client.request({ method: 'GET', path: jobPath(id) }, options);
  }

  /**
   * Cancels a queued or running job (`DELETE /v1/jobs/{id}`); a job that
   * already ended comes back unchanged.
   *
   * @example
   * ```ts
   * const job = await star.jobs.cancel('job_8Zq4mK2vT1xR');
   * console.log(job.status); // cancelled
   * ```
   */
  cancel(id: string, options?: RequestOptions): APIPromise<Job> {
    return this.client.request({ method: 'DELETE', path: jobPath(id) }, options);
  }

  /**
   * Polls the job until it is `succeeded`, `failed` or `cancelled`, and
   * returns it (a failed job is returned, with `error` set, not thrown).
   *
   * @example
   * ```ts
   * const job = await star.jobs.wait(created.id, { pollInterval: 500, timeout: 60_000 });
   * ```
   */
  async wait(id: string, { pollInterval = 1000, timeout = 600_000, signal }: WaitOptions = {}): Promise<Job> {
    const deadline = Date.now() + timeout;
    while (true) {
      const job = await this.get(id, { signal });
      if (terminalStatuses.has(job.status)) return job;
      if (Date.now() + pollInterval > deadline) throw new APITimeoutError(`Job ${id} did not finish within ${timeout} ms.`);
      await this.client.sleep(pollInterval, signal);
    }
  }

  /**
   * Follows the job's server-sent events (`GET /v1/jobs/{id}/events`) as an
   * async iterator that ends after the terminal event. If the connection
   * drops first, it reconnects with `Last-Event-ID` and carries on where it
   * stopped (up to the client's maxRetries times in a row).
   *
   * @example
   * ```ts
   * for await (const event of star.jobs.stream(job.id)) {
   *   if (event.event === 'progress') console.log(`scale ${event.data.scale}/${event.data.scales}`);
   *   if (event.event === 'completed') console.log(event.data.job.result?.data[0].url);
   * }
   * ```
   */
  async *stream(id: string, { lastEventId, signal }: StreamOptions = {}): AsyncGenerator<JobEvent, void, undefined> {
    let resumeAfter = lastEventId === undefined ? undefined : String(lastEventId);
    let dropsInARow = 0;
    while (true) {
      const headers: Record<string, string> = resumeAfter === undefined ? {} : { 'Last-Event-ID': resumeAfter };
      const { response, close } = await this.client.stream({ method: 'GET', path: `${jobPath(id)}/events`, headers }, { signal });
      const requestId = response.headers.get('x-request-id') ?? undefined;
      let cause: unknown;
      try {
        for await (const message of parseServerSentEvents(response.body ?? new ReadableStream())) {
          const event = toJobEvent(message, requestId);
          if (event === undefined) continue;
          resumeAfter = message.id;
          dropsInARow = 0;
          yield event;
          if (terminalEvents.has(event.event)) return;
        }
      } catch (error) {
        if (signal?.aborted) throw new APIUserAbortError();
        if (error instanceof StarError) throw error;
        cause = error;
      } finally {
        close();
      }
      // The stream ended before a terminal event: reconnect and resume.
      dropsInARow++;
      if (dropsInARow > this.client.maxRetries) {
        throw new APIConnectionError(`The event stream of ${id} ended before the job finished.`, { cause });
      }
      await this.client.sleep(backoffMs(dropsInARow, this.client.random), signal);
    }
  }
}

function jobPath(id: string): string {
  return `/v1/jobs/${encodeURIComponent(id)}`;
}

// Events this SDK does not know yet are skipped, so that new event kinds on
// the server do not break old clients.
function toJobEvent(message: ServerSentEvent, requestId: string | undefined): JobEvent | undefined {
  if (!knownEvents.has(message.event)) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(message.data);
  } catch (error) {
    throw new MalformedResponseError(200, message.data, requestId, error);
  }
  return { id: Number(message.id), event: message.event, data } as JobEvent;
}
