// Seeded randomness for sampling (STAR-SPEC §7). Every random draw the
// generator makes is an explicit uniform-noise input to its graph, filled
// here from one stream per image:
//
//   seed (uint32) ──SplitMix64──▶ 128-bit state ──xoshiro128**──▶ uint32s
//                                                   ──▶ fp32 in (0, 1)
//
// * SplitMix64 (Steele, Lea, Flood 2014) expands the 32-bit seed into the four
//   state words, as xoshiro's authors recommend; it never yields the all-zero
//   state that xoshiro cannot leave.
// * xoshiro128** 1.1 (Blackman, Vigna 2018): 32-bit arithmetic only, so it is
//   fast in JS (Math.imul) and easy to reproduce in any language.
// * Uniforms take the top 23 bits u of an output: (u + 0.5) · 2⁻²³. Every such
//   value is exact in fp32 and lies in [2⁻²⁴, 1 − 2⁻²⁴], the OPEN interval
//   (0, 1), so −ln(u) and inverse-CDF sampling never see 0 or 1.
//
// One stream per image row, seeded by that image's own seed: image i of a
// request with seed s is image 0 of a request with seed s + i, and how images
// are batched never changes them.

const MASK64 = (1n << 64n) - 1n;

/** SplitMix64: a 64-bit counter through a mixing function; used only to seed. */
export class SplitMix64 {
  private state: bigint;
  constructor(seed: bigint) {
    this.state = BigInt.asUintN(64, seed);
  }
  next(): bigint {
    this.state = (this.state + 0x9e3779b97f4a7c15n) & MASK64;
    let z = this.state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
    return z ^ (z >> 31n);
  }
}

const UNIFORM_BITS = 23;
const UNIFORM_SCALE = 2 ** -UNIFORM_BITS;

/** xoshiro128**: 128-bit state, 32-bit outputs. */
export class Xoshiro128 {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** Raw state words (tests use the reference implementation's known answers). */
  constructor(s0: number, s1: number, s2: number, s3: number) {
    if ((s0 | s1 | s2 | s3) === 0) throw new Error('xoshiro128**: the all-zero state is invalid');
    this.s0 = s0 >>> 0;
    this.s1 = s1 >>> 0;
    this.s2 = s2 >>> 0;
    this.s3 = s3 >>> 0;
  }

  /** The stream of one image: state words from SplitMix64(seed), low half of each output first. */
  static fromSeed(seed: number): Xoshiro128 {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`seed must be an integer in [0, 2^32), got ${seed}`);
    const sm = new SplitMix64(BigInt(seed));
    const a = sm.next();
    const b = sm.next();
    return new Xoshiro128(Number(a & 0xffffffffn), Number(a >> 32n), Number(b & 0xffffffffn), Number(b >> 32n));
  }

  nextUint32(): number {
    const s1 = this.s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    this.s0 >>>= 0;
    this.s1 >>>= 0;
    this.s2 >>>= 0;
    this.s3 >>>= 0;
    return result;
  }

  /** One fp32-exact uniform in the open interval (0, 1). */
  nextUniform(): number {
    return ((this.nextUint32() >>> (32 - UNIFORM_BITS)) + 0.5) * UNIFORM_SCALE;
  }

  /** Fills `out[offset .. offset + count)` with uniforms, in index order. */
  fillUniform(out: Float32Array, offset = 0, count = out.length - offset): void {
    for (let i = 0; i < count; i++) out[offset + i] = this.nextUniform();
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

// ---------------------------------------------------------------- noise plan

/** One noise input of the generator graph; `shape` excludes the batch axis. */
export interface NoiseInput {
  name: string;
  shape: number[];
}

/** A tensor the stream draws: a noise input and the scale it belongs to. */
export interface NoiseDraw extends NoiseInput {
  scale: number;
}

export interface NoisePlanConfig {
  patchNums: readonly number[];
  vocabSize: number;
  /**
   * The masked sampler path (STAR-SPEC §4.5), when the model has the sampler
   * head: from this scale index on, `stepsAt(si)` steps per scale, with fresh
   * position noise at the first `positionNoiseSteps` steps.
   */
  sampler?: { fromIdx: number; stepsAt: (si: number) => number; positionNoiseSteps: number };
}

/**
 * Every noise input of a generation, in draw order (STAR-SPEC §7):
 * for each scale si:
 *   standard path: `noise.s{si}` (pn², one uniform per token), then, when
 *     more_smooth is on, `gumbel.s{si}` (pn²·V);
 *   sampler path, for each step k: `noise.s{si}.k{k}` (pn²), then for
 *     k < positionNoiseSteps `position_noise.s{si}.k{k}` (pn²).
 * More-smooth rows still draw `noise.s{si}` (unused by that path) so the
 * token noise of a scale does not depend on the flag's position in the stream.
 */
export function noisePlan(config: NoisePlanConfig, moreSmooth: boolean): NoiseDraw[] {
  const plan: NoiseDraw[] = [];
  config.patchNums.forEach((pn, si) => {
    const tokens = pn * pn;
    const sampler = config.sampler;
    if (sampler && si >= sampler.fromIdx) {
      for (let k = 0; k < sampler.stepsAt(si); k++) {
        plan.push({ name: `noise.s${si}.k${k}`, shape: [tokens], scale: si });
        if (k < sampler.positionNoiseSteps) plan.push({ name: `position_noise.s${si}.k${k}`, shape: [tokens], scale: si });
      }
      return;
    }
    plan.push({ name: `noise.s${si}`, shape: [tokens], scale: si });
    if (moreSmooth) plan.push({ name: `gumbel.s${si}`, shape: [tokens, config.vocabSize], scale: si });
  });
  return plan;
}

/** Value for inputs a row does not draw (e.g. gumbel noise of a row without more_smooth); never read by the graph. */
export const UNUSED_NOISE = 0.5;

export interface NoiseRow {
  seed: number;
  moreSmooth: boolean;
}

/**
 * The noise of one batch, one stream per row, drawn scale by scale so the
 * per-scale mode never holds more than one scale's noise: `draw(from, to,
 * inputs)` returns the tensors of scales [from, to) that the graph takes
 * (`inputs`: names and per-row shapes) as name → Float32Array [rows, ...shape].
 * Each row fills the tensors its plan draws, in plan order; inputs it does
 * not draw hold UNUSED_NOISE; drawn tensors that are not inputs still advance
 * the stream, so later tensors get the same values whatever the graph.
 * Scales must be drawn in order, each once.
 */
export class BatchNoise {
  private readonly streams: Xoshiro128[];
  private readonly plans: NoiseDraw[][];
  private readonly cursors: number[];
  private nextScale = 0;

  constructor(config: NoisePlanConfig, rows: readonly NoiseRow[]) {
    this.streams = rows.map((row) => Xoshiro128.fromSeed(row.seed));
    this.plans = rows.map((row) => noisePlan(config, row.moreSmooth));
    this.cursors = rows.map(() => 0);
  }

  draw(fromScale: number, toScale: number, inputs: readonly NoiseInput[]): Map<string, Float32Array> {
    if (fromScale !== this.nextScale)
      throw new Error(`noise: scales must be drawn in order; expected scale ${this.nextScale}, asked for ${fromScale}`);
    this.nextScale = toScale;
    const out = new Map<string, Float32Array>();
    const sizes = new Map<string, number>();
    for (const input of inputs) {
      const size = numel(input.shape);
      sizes.set(input.name, size);
      out.set(input.name, new Float32Array(size * this.streams.length).fill(UNUSED_NOISE));
    }
    this.streams.forEach((rng, r) => {
      const plan = this.plans[r];
      for (; this.cursors[r] < plan.length && plan[this.cursors[r]].scale < toScale; this.cursors[r]++) {
        const entry = plan[this.cursors[r]];
        const size = numel(entry.shape);
        const target = out.get(entry.name);
        if (!target) {
          for (let i = 0; i < size; i++) rng.nextUint32();
          continue;
        }
        if (sizes.get(entry.name) !== size)
          throw new Error(`noise ${entry.name}: the graph input holds ${sizes.get(entry.name)} values per row, the plan draws ${size}`);
        rng.fillUniform(target, r * size, size);
      }
    });
    return out;
  }
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
