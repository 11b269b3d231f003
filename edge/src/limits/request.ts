// Bounds on a request that the generated body schemas do not check (prompt lengths, n, seed, cfg…
// are openapi.yaml's, checked by the zod in schemas.gen.ts).

/** The largest request body the API reads; anything larger is a 413 before it is parsed. */
export const MAX_BODY_BYTES = 64 * 1024;

/** The Idempotency-Key header's length in characters, as openapi.yaml declares it. */
export const IDEMPOTENCY_KEY_LENGTH = { min: 1, max: 255 } as const;
