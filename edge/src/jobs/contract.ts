// What a job stores, and the job store contract the routes use (adapter: the Job Durable Object).
import type { GenerationParams } from '../generation/params.ts';
import type { Limits } from '../keys/record.ts';
import type { GenerationRequest, Job } from '../schemas.gen.ts';

export interface JobInit {
  id: string;
  kid: string;
  params: GenerationParams;
  responseFormat: GenerationRequest['response_format'];
  origin: string;
  limits: Limits;
  leaseId: string;
  /** The lease waits in the key's queue for a slot; the job starts when the limiter promotes it. */
  waitsForSlot: boolean;
  scales: number;
  requestId: string;
  webhook?: { url: string; secret: string };
}

export interface StoredEvent {
  id: number;
  event: 'queued' | 'started' | 'progress' | 'completed' | 'failed' | 'cancelled';
  data: string;
  /** The data's job result is sent with base64 images (b64_json jobs), read from the image store at send time. */
  expand?: boolean;
}

export interface JobStore {
  create(init: JobInit): Promise<Job>;
  get(kid: string): Promise<Job | null>;
  cancel(kid: string): Promise<Job | null>;
  /** SSE response, or null when the job is not visible to this key. */
  events(kid: string, lastEventId: number): Promise<Response | null>;
}

export const TERMINAL: ReadonlySet<Job['status']> = new Set(['succeeded', 'failed', 'cancelled']);
export const TERMINAL_EVENTS: ReadonlySet<StoredEvent['event']> = new Set(['completed', 'failed', 'cancelled']);
