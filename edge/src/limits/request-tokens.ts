// Request tokens an isolate holds for a key, so that most requests (cache hits above all) are
// counted without a round trip to the key's RateLimiter Durable Object.
//
// The Durable Object stays the only place tokens come from, so a key never gets more requests than
// its bucket holds. An isolate asks it for what the requests waiting in it need, one call at a
// time per key; when a key keeps this isolate busy (it spent a whole batch before the batch
// expired), it asks for a batch ahead: limits.requests / 32 (a 32nd of a window's requests), at
// most 256, and 1 for the free tier, so small keys are counted exactly as before. Tokens are good
// for `ttlMs`; what expires unspent goes back in the next call. Should the isolate die first, the key is short of at most one batch until
// its bucket refills. Requests answered from held tokens show the key's state as the limiter last
// told this isolate (a grant, or a lease taken or settled here: observe()), at most ttlMs old.
import type { Limits } from '../keys/record.ts';
import type { Decision, LimitStatus, RequestDecision } from '../stores/rate-limit/token-bucket.ts';

/** Large enough that a busy isolate rarely stalls on its limiter (edge/bench: a cache hit at ≥ 0.8×
 *  the bare route's throughput, 0.6× with 32), small enough to be a sliver of any key it applies to. */
const MAX_BATCH = 256;

/** Tokens an isolate may hold for one key beyond what its waiting requests need. */
export function batchFor(limits: Limits): number {
  return Math.max(1, Math.min(MAX_BATCH, Math.floor(limits.requests / 32)));
}

/** Asks the key's RateLimiter: `want` tokens, after returning `giveBack` unspent ones. */
export type TakeRequests = (want: number, giveBack: number) => Promise<RequestDecision>;

interface Held {
  tokens: number;
  expiresAt: number;
  /** The Durable Object's view when these tokens were granted (they are not in its count). */
  status: LimitStatus;
  /** Requests in this isolate waiting for a token of this key. */
  waiting: number;
  /** The call to the Durable Object in flight, if any: one per key and isolate. */
  asking: Promise<RequestDecision> | null;
  /** Whether the last grant was spent before it expired. */
  busy: boolean;
}

/** What the key has left, as its client should see it: the bucket plus the tokens held here. */
function withHeld(status: LimitStatus, held: number): LimitStatus {
  return { ...status, requests: { ...status.requests, remaining: status.requests.remaining + held } };
}

export class RequestTokens {
  private readonly held = new Map<string, Held>();
  private readonly ttlMs: number;
  private readonly now: () => number;
  /** Keys tracked at most; the least recently granted are forgotten first. */
  private readonly maxKeys: number;

  constructor(options: { ttlMs?: number; now?: () => number; maxKeys?: number } = {}) {
    this.ttlMs = options.ttlMs ?? 1_000;
    this.now = options.now ?? Date.now;
    this.maxKeys = options.maxKeys ?? 10_000;
  }

  /** One request token for `kid`: from this isolate's hold, or from the Durable Object. */
  async take(kid: string, limits: Limits, ask: TakeRequests): Promise<Decision> {
    const held = this.entry(kid);
    held.waiting++;
    try {
      for (;;) {
        if (held.tokens > 0 && this.now() < held.expiresAt) {
          held.tokens--;
          if (held.tokens === 0) held.busy = true;
          return { allowed: true, status: withHeld(held.status, held.tokens) };
        }
        if (held.asking) {
          const decision = await held.asking;
          if (!decision.allowed) return decision;
          continue;
        }
        const decision = await this.ask(kid, held, limits, ask);
        if (!decision.allowed) return decision;
      }
    } finally {
      held.waiting--;
    }
  }

  /** A newer view of the key from its limiter (a lease taken or settled): later answers show it.
   *  Returns it as the client should see it (with the tokens held here). */
  observe(kid: string, status: LimitStatus): LimitStatus {
    const held = this.held.get(kid);
    if (!held) return status;
    held.status = status;
    return withHeld(status, held.tokens);
  }

  private async ask(kid: string, held: Held, limits: Limits, ask: TakeRequests): Promise<RequestDecision> {
    const expired = this.now() >= held.expiresAt;
    const giveBack = expired ? held.tokens : 0;
    const ahead = held.busy ? batchFor(limits) : 1;
    held.tokens -= giveBack;
    held.busy = false;
    const asking = ask(Math.max(held.waiting, ahead), giveBack);
    held.asking = asking;
    try {
      const decision = await asking;
      held.tokens += decision.granted;
      held.expiresAt = this.now() + this.ttlMs;
      held.status = decision.status;
      this.held.delete(kid);
      this.held.set(kid, held);
      return decision;
    } finally {
      held.asking = null;
    }
  }

  private entry(kid: string): Held {
    let held = this.held.get(kid);
    if (!held) {
      if (this.held.size >= this.maxKeys) {
        const oldest = this.held.keys().next().value;
        if (oldest !== undefined) this.held.delete(oldest);
      }
      held = {
        tokens: 0,
        expiresAt: 0,
        status: { requests: { remaining: 0, reset: 0 }, images: { remaining: 0, reset: 0 } },
        waiting: 0,
        asking: null,
        busy: false,
      };
      this.held.set(kid, held);
    }
    return held;
  }
}
