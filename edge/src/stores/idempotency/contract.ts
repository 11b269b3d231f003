// Idempotency keys for POST /v1/jobs, scoped to one API key.
export type BeginResult = { state: 'new' } | { state: 'replay'; jobId: string } | { state: 'in_flight' } | { state: 'mismatch' };

export interface IdempotencyStore {
  /** Claims `key` for a request with this body fingerprint, or reports what it already maps to. */
  begin(key: string, fingerprint: string): Promise<BeginResult>;
  /** The claimed request created `jobId`; replays answer it until `expiresAt` (ms). */
  complete(key: string, jobId: string, expiresAt: number): Promise<void>;
  /** The claimed request failed before creating a job; the key is free again. */
  abandon(key: string): Promise<void>;
  /** The job a key maps to is gone; forget the key. */
  forget(key: string): Promise<void>;
}
