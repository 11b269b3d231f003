// The seed rule: image i of a request for seed s is generated from seed (s + i) mod 2^32 alone,
// so it is also image 0 of a request for that seed. It is what lets the edge cache, and the
// gpu-service batch, per image.

/** The seeds of `n` images asked for from `seed`. */
export function imageSeeds(seed: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => (seed + i) >>> 0);
}
