// Event fan-out: the SSE subscribers of one job. A subscriber gets the stored events after its
// Last-Event-ID, then follows live, with a keepalive comment while it waits; every subscriber is
// closed after the terminal event.
import { formatEvent } from '../sse.ts';
import { TERMINAL_EVENTS, type StoredEvent } from './contract.ts';

const KEEPALIVE_MS = 15_000;
const encoder = new TextEncoder();

interface Subscriber {
  writer: WritableStreamDefaultWriter<Uint8Array>;
  /** Writes in event order, even when one waits for its images to be read. */
  queue: Promise<void>;
}

export class EventFanOut {
  private subscribers = new Set<Subscriber>();
  /** Chunks of events whose data is expanded on the way out, shared by all subscribers. */
  private expanded = new Map<number, Promise<Uint8Array>>();
  private expand: (data: string) => Promise<string>;
  private keepaliveMs: number;

  /** `expand` turns an event's stored data into what is sent, for events marked `expand`. */
  constructor(expand: (data: string) => Promise<string>, keepaliveMs = KEEPALIVE_MS) {
    this.expand = expand;
    this.keepaliveMs = keepaliveMs;
  }

  /** Replays `history` after `lastEventId` and, unless the job has `ended`, follows it live.
   *  Replay and subscription happen in one synchronous step, so no event falls between the two. */
  subscribe(history: readonly StoredEvent[], lastEventId: number, ended: boolean): ReadableStream<Uint8Array> {
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const subscriber: Subscriber = { writer: writable.getWriter(), queue: Promise.resolve() };
    for (const event of history) if (event.id > lastEventId) this.send(subscriber, event);
    if (ended) {
      this.close(subscriber);
      return readable;
    }
    this.subscribers.add(subscriber);
    const keepalive = setInterval(() => {
      if (!this.subscribers.has(subscriber)) return clearInterval(keepalive);
      subscriber.queue = subscriber.queue
        .then(() => subscriber.writer.write(encoder.encode(': keepalive\n\n')))
        .catch(() => {
          this.subscribers.delete(subscriber);
          clearInterval(keepalive);
        });
    }, this.keepaliveMs);
    return readable;
  }

  /** Sends a new event to every subscriber; a terminal one also closes them. */
  publish(event: StoredEvent): void {
    const terminal = TERMINAL_EVENTS.has(event.event);
    for (const subscriber of this.subscribers) {
      this.send(subscriber, event);
      if (terminal) this.close(subscriber);
    }
    if (terminal) this.subscribers.clear();
  }

  private chunk(event: StoredEvent): Promise<Uint8Array> {
    const encode = (data: string) => encoder.encode(formatEvent({ id: String(event.id), event: event.event, data }));
    if (!event.expand) return Promise.resolve(encode(event.data));
    let chunk = this.expanded.get(event.id);
    if (!chunk) {
      chunk = this.expand(event.data).then(encode);
      this.expanded.set(event.id, chunk);
    }
    return chunk;
  }

  private send(subscriber: Subscriber, event: StoredEvent): void {
    subscriber.queue = subscriber.queue
      .then(async () => subscriber.writer.write(await this.chunk(event)))
      .catch(() => {
        this.subscribers.delete(subscriber);
      });
  }

  private close(subscriber: Subscriber): void {
    subscriber.queue = subscriber.queue.then(() => subscriber.writer.close()).catch(() => {});
  }
}
