// Normalized 2D RoPE across scales (STAR-SPEC §3.3), computed in TS with the
// fp32 rounding steps of upstream's compute_axial_cis/init_t_xy: every scale
// with pn > 1 spans the same grid [0, ropeNorm] on both axes; head dims
// 0..hd/2−1 rotate with the column, hd/2..hd−1 with the row, in interleaved
// pairs (q[2m], q[2m+1]).
import type { GeneratorConfig } from './config.ts';

const f32 = Math.fround;

/** Angles a_m (m = 0..hd/2−1) of every token of one scale, row-major: (pn², hd/2). */
export function ropeAngles(cfg: Pick<GeneratorConfig, 'headDim' | 'ropeTheta' | 'ropeNorm'>, pn: number): Float32Array {
  const pairs = cfg.headDim / 2;
  const perAxis = cfg.headDim / 4;
  // ω_j = 1 / θ^(4j/hd), each step rounded to fp32 as torch does.
  const omega = Array.from({ length: perAxis }, (_, j) => f32(1 / f32(cfg.ropeTheta ** f32((4 * j) / cfg.headDim))));
  const out = new Float32Array(pn * pn * pairs);
  for (let l = 0; l < pn * pn; l++) {
    let tx = l % pn;
    let ty = Math.floor(l / pn);
    if (pn > 1) {
      tx = f32(f32(tx / (pn - 1)) * cfg.ropeNorm); // divide first, then scale (init_t_xy)
      ty = f32(f32(ty / (pn - 1)) * cfg.ropeNorm);
    }
    for (let j = 0; j < perAxis; j++) {
      out[l * pairs + j] = f32(tx * omega[j]);
      out[l * pairs + perAxis + j] = f32(ty * omega[j]);
    }
  }
  return out;
}

/** The complex table of upstream's freqs_cis for all scales concatenated: (L, hd/2) real and imaginary parts. */
export function ropeTable(cfg: GeneratorConfig): { real: Float32Array; imag: Float32Array } {
  const parts = cfg.patchNums.map((pn) => ropeAngles(cfg, pn));
  const n = parts.reduce((s, p) => s + p.length, 0);
  const real = new Float32Array(n);
  const imag = new Float32Array(n);
  let at = 0;
  for (const angles of parts) {
    for (let i = 0; i < angles.length; i++) {
      real[at + i] = Math.cos(angles[i]);
      imag[at + i] = Math.sin(angles[i]);
    }
    at += angles.length;
  }
  return { real, imag };
}

/**
 * Per-scale factors for applying the rotation to a (.., hd) head vector as
 * `q' = q·cos + swapPairs(q)·sin` where swapPairs(q)[2m] = q[2m+1] and
 * swapPairs(q)[2m+1] = q[2m]: cos = (c0,c0,c1,c1,…), sin = (−s0,s0,−s1,s1,…).
 * Shapes (tokens, hd); the sampler head prepends the identity row of scale 0.
 */
export interface RopeFactors {
  tokens: number;
  cos: Float32Array;
  sin: Float32Array;
}

export function ropeFactors(cfg: Pick<GeneratorConfig, 'headDim' | 'ropeTheta' | 'ropeNorm'>, pns: readonly number[]): RopeFactors {
  const hd = cfg.headDim;
  const angles = pns.map((pn) => ropeAngles(cfg, pn));
  const tokens = angles.reduce((s, a) => s + a.length / (hd / 2), 0);
  const cos = new Float32Array(tokens * hd);
  const sin = new Float32Array(tokens * hd);
  let row = 0;
  for (const a of angles) {
    for (let i = 0; i < a.length; i++) {
      const c = Math.fround(Math.cos(a[i]));
      const s = Math.fround(Math.sin(a[i]));
      const at = row * (hd / 2) * 2 + 2 * i;
      cos[at] = c;
      cos[at + 1] = c;
      sin[at] = -s;
      sin[at + 1] = s;
    }
    row += a.length / (hd / 2);
  }
  return { tokens, cos, sin };
}
