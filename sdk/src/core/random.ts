// Randomness from Web Crypto, available in browsers and in Node ≥ 20 alike.

/** A uniformly random unsigned 32-bit seed. */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/** A fresh Idempotency-Key: 128 random bits, hex. */
export function newIdempotencyKey(): string {
  return `idk_${toHex(crypto.getRandomValues(new Uint8Array(16)))}`;
}

export function toHex(bytes: Uint8Array): string {
  let hex = '';
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0');
  return hex;
}
