// The job record store: one job's record and its numbered event log in Durable Object storage,
// and when the job expires. Storage is anything with get/put/list/deleteAll, so a unit test runs
// it on a Map outside workerd.
import type { Job } from '../schemas.gen.ts';
import type { WebhookDelivery } from '../webhook/delivery.ts';
import type { JobInit, StoredEvent } from './contract.ts';

export interface JobState {
  job: Job;
  init: Omit<JobInit, 'webhook'>;
  webhook: WebhookDelivery | null;
  nextEventId: number;
  /** GPU calls answered 503 (busy) so far; the job waits and tries again a few times. */
  gpuRetries: number;
  retryAt: number | null;
  /** While the job waits in its key's queue for a slot: since when (ms). */
  waitingSince: number | null;
}

/** The part of Durable Object storage the record store uses. */
export interface JobStorage {
  get<T>(key: string): Promise<T | undefined>;
  put<T>(key: string, value: T): Promise<void>;
  list<T>(options: { prefix: string }): Promise<Map<string, T>>;
  deleteAll(): Promise<void>;
}

const STATE_KEY = 'state';
const EVENT_PREFIX = 'ev:';

function eventKey(id: number): string {
  return EVENT_PREFIX + String(id).padStart(12, '0');
}

export const nowS = () => Math.floor(Date.now() / 1000);

export class JobRecords {
  state: JobState | null = null;
  /** The event log in id order (storage lists keys in order; ids are zero-padded). */
  events: StoredEvent[] = [];
  private storage: JobStorage;

  constructor(storage: JobStorage) {
    this.storage = storage;
  }

  /** The loaded record. Callers run after load() found one or the job was created, so its absence is a bug worth naming. */
  get current(): JobState {
    if (!this.state) throw new Error('the job record is not loaded');
    return this.state;
  }

  async load(): Promise<void> {
    this.state = (await this.storage.get<JobState>(STATE_KEY)) ?? null;
    this.events = [...(await this.storage.list<StoredEvent>({ prefix: EVENT_PREFIX })).values()];
  }

  /** The job for this key, or null when it is another key's or has expired. */
  visible(kid: string): JobState | null {
    const state = this.state;
    if (!state || state.init.kid !== kid || this.expired()) return null;
    return state;
  }

  expired(): boolean {
    return this.state !== null && this.state.job.expires_at <= nowS();
  }

  /** Writes behind: Durable Object storage orders writes, and reads here come from memory. */
  save(): void {
    if (this.state) void this.storage.put(STATE_KEY, this.state);
  }

  /** expires_at is provisional (created_at + TTL) until the job ends, then completed_at + TTL. */
  touch(ttlSeconds: number): void {
    const state = this.current;
    const base = state.job.completed_at ?? state.job.created_at;
    state.job.expires_at = base + ttlSeconds;
    this.save();
  }

  /** Numbers the next event and stores it with the record. `expand`: its job result is sent with
   *  base64 images, read back at send time (b64_json jobs). */
  append(event: StoredEvent['event'], data: unknown, expand: boolean): StoredEvent {
    const state = this.current;
    const stored: StoredEvent = { id: state.nextEventId++, event, data: JSON.stringify(data) };
    if (expand) stored.expand = true;
    this.events.push(stored);
    void this.storage.put(eventKey(stored.id), stored);
    this.save();
    return stored;
  }

  /** The job has expired: everything about it goes. */
  async clear(): Promise<void> {
    this.state = null;
    this.events = [];
    await this.storage.deleteAll();
  }
}
