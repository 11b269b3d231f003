// The engine builds (and caches) one set of sessions per batch size, and a
// first run at a new size pays for that build. The batcher therefore forms
// batches of these sizes where it can, and the engine worker builds them all
// at start, so /readyz means "warm for every batch the batcher will send".

/** Powers of two up to maxBatch, plus maxBatch itself. */
export function preferredBatchSizes(maxBatch: number): number[] {
  const sizes: number[] = [];
  for (let size = 1; size < maxBatch; size *= 2) sizes.push(size);
  sizes.push(maxBatch);
  return sizes;
}
