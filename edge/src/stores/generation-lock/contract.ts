// Claims on one content key across every isolate: whoever claims first generates; the others
// wait for its outcome and then read the image from the image store (or claim it themselves if it failed).
export type Claim = 'owner' | 'wait';
export type Outcome = 'stored' | 'failed' | 'timeout';

export interface GenerationLockStore {
  claim(owner: string, ttlMs: number): Promise<Claim>;
  /** Resolves when the current owner releases, or after `timeoutMs`. */
  wait(timeoutMs: number): Promise<Outcome>;
  release(owner: string, outcome: 'stored' | 'failed'): Promise<void>;
}
