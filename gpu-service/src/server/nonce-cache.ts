// The nonces of signed requests seen within the signature window, so a captured request cannot
// be replayed while its timestamp is still accepted. Bounded: past `maxEntries` live nonces it
// refuses new ones (the caller answers 503) rather than forget one that could still be replayed.

export type NonceClaim = 'fresh' | 'replayed' | 'full';

export class NonceCache {
  private readonly maxEntries: number;
  /** nonce → Unix second after which its request is stale anyway; roughly in expiry order. */
  private readonly expiries = new Map<string, number>();

  constructor(maxEntries: number) {
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.expiries.size;
  }

  /** Records `nonce` until `expiresAtS`; 'replayed' if it is already recorded and not expired. */
  claim(nonce: string, expiresAtS: number, nowS: number): NonceClaim {
    this.dropExpiredFromFront(nowS);
    const seen = this.expiries.get(nonce);
    if (seen !== undefined && seen >= nowS) return 'replayed';
    if (this.expiries.size >= this.maxEntries) {
      // Insertion order is only roughly expiry order (timestamps may differ by the clock skew),
      // so sweep everything before giving up.
      for (const [key, expiry] of this.expiries) if (expiry < nowS) this.expiries.delete(key);
      if (this.expiries.size >= this.maxEntries) return 'full';
    }
    this.expiries.delete(nonce);
    this.expiries.set(nonce, expiresAtS);
    return 'fresh';
  }

  // Amortised O(1): each entry is deleted once.
  private dropExpiredFromFront(nowS: number): void {
    for (const [key, expiry] of this.expiries) {
      if (expiry >= nowS) return;
      this.expiries.delete(key);
    }
  }
}
