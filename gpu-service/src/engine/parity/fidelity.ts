// How far a reduced-precision generator's logits are from the fp32
// reference, in the two ways that matter to an image: how large the error is
// and how often it changes the token drawn. Teacher-forced, so every scale
// sees the reference's tokens and errors do not compound.
//
//   logits error: over raw logits (both CFG rows), the worst tensor's
//     max|err| ÷ max|ref| and, over all of them, Σ|err| ÷ Σ|ref|
//   argmax agreement: positions whose CFG-mixed logits have the same argmax
//   top-k agreement: positions where sampling from the top-k softmax of the
//     mixed logits with the same uniform (one per position, a fixed
//     xoshiro128** stream) picks the same token; k = ⌈V/4⌉, the fixtures'
//     own filtering setting (k16 of 64, k24 of 96)
import { Xoshiro128 } from '../random.ts';

export interface LogitFidelity {
  maxRelativeError: number;
  meanRelativeError: number;
  /** Positions compared (rows of V mixed logits). */
  positions: number;
  argmaxAgreement: number;
  topK: number;
  topKAgreement: number;
}

/** Seed of the uniforms the top-k draws share. */
const DRAW_SEED = 7;

export class FidelityMeter {
  private readonly vocab: number;
  private readonly uniforms = Xoshiro128.fromSeed(DRAW_SEED);
  private maxRelativeError = 0;
  private absError = 0;
  private absReference = 0;
  private positions = 0;
  private argmaxSame = 0;
  private topKSame = 0;

  constructor(vocab: number) {
    this.vocab = vocab;
  }

  get topK(): number {
    return Math.ceil(this.vocab / 4);
  }

  /** Raw logits of one tensor: its error. */
  addLogits(actual: Float32Array, expected: Float32Array): void {
    let maxErr = 0;
    let maxRef = 0;
    for (let i = 0; i < expected.length; i++) {
      const err = Math.abs(actual[i] - expected[i]);
      maxErr = Math.max(maxErr, err);
      maxRef = Math.max(maxRef, Math.abs(expected[i]));
      this.absError += err;
      this.absReference += Math.abs(expected[i]);
    }
    this.maxRelativeError = Math.max(this.maxRelativeError, maxRef > 0 ? maxErr / maxRef : maxErr);
  }

  /** CFG-mixed logits, rows of V: the tokens each would give. */
  addMixedLogits(actual: Float32Array, expected: Float32Array): void {
    const V = this.vocab;
    for (let row = 0; row * V < expected.length; row++) {
      const a = actual.subarray(row * V, (row + 1) * V);
      const e = expected.subarray(row * V, (row + 1) * V);
      const u = this.uniforms.nextUniform();
      this.positions++;
      if (argmax(a) === argmax(e)) this.argmaxSame++;
      if (topKDraw(a, this.topK, u) === topKDraw(e, this.topK, u)) this.topKSame++;
    }
  }

  result(): LogitFidelity {
    return {
      maxRelativeError: this.maxRelativeError,
      meanRelativeError: this.absReference > 0 ? this.absError / this.absReference : 0,
      positions: this.positions,
      argmaxAgreement: this.positions ? this.argmaxSame / this.positions : 1,
      topK: this.topK,
      topKAgreement: this.positions ? this.topKSame / this.positions : 1,
    };
  }
}

function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** The token the inverse CDF of softmax(top-k logits) gives at `u` (ties: the lower index first). */
export function topKDraw(logits: Float32Array, k: number, u: number): number {
  const order = Array.from(logits.keys())
    .sort((i, j) => logits[j] - logits[i] || i - j)
    .slice(0, k);
  const top = logits[order[0]];
  const weights = order.map((i) => Math.exp(logits[i] - top));
  const total = weights.reduce((s, w) => s + w, 0);
  let cumulative = 0;
  for (const [n, i] of order.entries()) {
    cumulative += weights[n] / total;
    if (u < cumulative) return i;
  }
  return order[order.length - 1];
}
