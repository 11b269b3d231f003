// The multi-scale residual quantizer's inference step (STAR-SPEC §4.2 steps 4–6,
// §4.4, §5.3; upstream `get_next_autoregressive_input`), built into the generator's
// graph at the end of every scale:
//
//   h      = codebook[tokens]                       (B, Cvae, pn, pn)
//   f_hat ← f_hat + φ_k(Up(h))    si < S−1          (B, Cvae, P, P), Up = bicubic pn → P
//   f_hat ← f_hat + φ_k(h)        si = S−1
//   next   = AreaDown(f_hat → pn_{si+1})            the input of scale si+1
import type { Value } from '../../onnx/graph.ts';
import { add, cast, conv2d, gather, mul, reshape, transpose } from '../../onnx/ops.ts';
import type { GraphWeights } from '../../onnx/graph-weights.ts';
import type { VqvaeConfig } from './config.ts';
import { phiIndexFor, phiPrefix } from './config.ts';
import { areaResize, bicubicUpsample } from './resample.ts';
import { CODEBOOK } from './weights.ts';

export interface ScaleOutputs {
  /** Codebook embedding of this scale's tokens, (B, Cvae, pn, pn) (`s{si}.h_BChw`). */
  h: Value;
  /** Cumulative f_hat after this scale, (B, Cvae, P, P). */
  fHat: Value;
  /** Area-downsampled f_hat, (B, Cvae, pn', pn') with pn' = pn_{si+1} (`s{si}.next_map`); absent at the last scale. */
  nextMap?: Value;
  /** `nextMap` flattened row-major to tokens, (B, pn'², Cvae): what `word_embed` takes. */
  nextInput?: Value;
}

// Precision is the GraphWeights': at 'fp16' the φ convs run in fp16 (as under
// upstream's autocast); the codebook, f_hat, Up and AreaDown stay fp32.

/** The codebook (V, Cvae), fp32. */
export function codebook(w: GraphWeights, cfg: VqvaeConfig): Value {
  return w.float32(CODEBOOK, [cfg.vocab, cfg.cvae]);
}

/** φ_k(x) = x·(1 − r) + conv3x3_k(x)·r, in that operation order (upstream `Phi.forward`). */
export function phi(w: GraphWeights, cfg: VqvaeConfig, k: number, x: Value): Value {
  const c = cfg.cvae;
  const prefix = phiPrefix(cfg, k);
  const r = cfg.quantResi;
  return w.graph.scope(`phi${k}`, () => {
    const weight = w.matrix(`${prefix}.weight`, [c, c, 3, 3]);
    const conv = cast(conv2d(cast(x, w.dtype), weight, w.matrix(`${prefix}.bias`, [c]), 1), 'float32');
    return add(mul(x, 1 - r), mul(conv, r));
  });
}

/**
 * Adds scale `si`'s quantizer step to `g`. `tokens` are int64 (B, pn²) in row-major
 * order; `fHat` is the previous scale's cumulative f_hat, or null at scale 0 (upstream
 * starts from zeros, and 0 + x = x).
 */
export function addScale(
  w: GraphWeights,
  cfg: VqvaeConfig,
  patchNums: number[],
  si: number,
  tokens: Value,
  fHat: Value | null,
): ScaleOutputs {
  const pn = patchNums[si];
  if (tokens.dtype !== 'int64') throw new Error(`quantizer scale ${si}: tokens ${tokens} must be int64`);
  if (tokens.dim(-1) !== undefined && tokens.dim(-1) !== pn * pn)
    throw new Error(`quantizer scale ${si}: tokens ${tokens} should have ${pn * pn} per row`);
  const codes = w.graph.scope(`quantize.s${si}`, () => gather(codebook(w, cfg), tokens, 0));
  return addScaleFromCodes(w, cfg, patchNums, si, codes, fHat);
}

/**
 * The same step from codes (B, pn², Cvae) fp32 instead of token ids: the codebook rows
 * of sampled tokens, or the soft embeddings of the more_smooth path (§4.2.3d).
 */
export function addScaleFromCodes(
  w: GraphWeights,
  cfg: VqvaeConfig,
  patchNums: number[],
  si: number,
  codes: Value,
  fHat: Value | null,
): ScaleOutputs {
  const scales = patchNums.length;
  const pn = patchNums[si];
  const side = patchNums[scales - 1];
  const c = cfg.cvae;
  if (codes.dtype !== 'float32' || (codes.shape && (codes.dim(-1) !== c || (codes.dim(-2) !== undefined && codes.dim(-2) !== pn * pn)))) {
    throw new Error(`quantizer scale ${si}: codes ${codes} should be float32 [B, ${pn * pn}, ${c}]`);
  }
  if (fHat?.shape && (fHat.dim(1) !== c || fHat.dim(2) !== side || fHat.dim(3) !== side)) {
    throw new Error(`quantizer scale ${si}: f_hat ${fHat} should be [B, ${c}, ${side}, ${side}]`);
  }
  return w.graph.scope(`quantize.s${si}`, () => {
    // (B, pn², Cvae) → (B, Cvae, pn²) → (B, Cvae, pn, pn): token l = row·pn + col
    const h = reshape(transpose(codes, [0, 2, 1]), [0, c, pn, pn]);
    const last = si === scales - 1;
    const update = phi(w, cfg, phiIndexFor(cfg, si, scales), last ? h : bicubicUpsample(h, side));
    const next = fHat ? add(fHat, update) : update;
    if (last) return { h, fHat: next };
    const pnNext = patchNums[si + 1];
    const nextMap = areaResize(next, pnNext);
    const nextInput = transpose(reshape(nextMap, [0, c, pnNext * pnNext]), [0, 2, 1]);
    return { h, fHat: next, nextMap, nextInput };
  });
}
