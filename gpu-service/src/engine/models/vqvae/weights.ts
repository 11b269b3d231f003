// The VQVAE state-dict keys the engine reads.

/** The quantizer's codebook (V, Cvae). */
export const CODEBOOK = 'quantize.embedding.weight';
