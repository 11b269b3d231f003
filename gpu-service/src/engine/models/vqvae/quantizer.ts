// The multi-scale residual quantizer's inference step (STAR-SPEC §4.2 steps 4–6,
// §4.4, §5.3; upstream `get_next_autoregressive_input`), built into the generator's
// graph at the end of every scale:
//
//   h      = codebook[tokens]                       (B, Cvae, pn, pn)
//   f_hat ← f_hat + φ_k(Up(h))    si < S−1          (B, Cvae, P, P), Up = bicubic pn → P
//   f_hat ← f_hat + φ_k(h)        si = S−1
//   next   = AreaDown(f_hat → pn_{si+1})            the input of scale si+1
import type { Graph, Value } from '../../onnx/graph.ts';
import { add, cast, conv2d, gather, mul, reshape, transpose } from '../../onnx/ops.ts';
import type { Precision } from '../../onnx/target.ts';
import type { TensorStore } from '../../weights/tensors.ts';
import type { VqvaeConfig } from './config.ts';
import { phiIndexFor, phiPrefix } from './config.ts';
import { areaResize, bicubicUpsample } from './resample.ts';
import { vaeWeight } from './weights.ts';

export interface QuantizerOptions {
  /** 'fp16': the φ convs run in fp16 (as under upstream's autocast); f_hat, Up and AreaDown stay fp32. */
  precision?: Precision;
}

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

/** φ_k(x) = x·(1 − r) + conv3x3_k(x)·r, in that operation order (upstream `Phi.forward`). */
export function phi(g: Graph, vae: TensorStore, cfg: VqvaeConfig, k: number, x: Value, options: QuantizerOptions = {}): Value {
  const c = cfg.cvae;
  const prefix = phiPrefix(cfg, k);
  const r = cfg.quantResi;
  return g.scope(`phi${k}`, () => {
    let conv: Value;
    if (options.precision === 'fp16') {
      const w = vaeWeight(g, vae, `${prefix}.weight`, 'float16', [c, c, 3, 3]);
      const b = vaeWeight(g, vae, `${prefix}.bias`, 'float16', [c]);
      conv = cast(conv2d(cast(x, 'float16'), w, b, 1), 'float32');
    } else {
      conv = conv2d(
        x,
        vaeWeight(g, vae, `${prefix}.weight`, 'float32', [c, c, 3, 3]),
        vaeWeight(g, vae, `${prefix}.bias`, 'float32', [c]),
        1,
      );
    }
    return add(mul(x, 1 - r), mul(conv, r));
  });
}

/**
 * Adds scale `si`'s quantizer step to `g`. `tokens` are int64 (B, pn²) in row-major
 * order; `fHat` is the previous scale's cumulative f_hat, or null at scale 0 (upstream
 * starts from zeros, and 0 + x = x).
 */
export function addScale(
  g: Graph,
  vae: TensorStore,
  cfg: VqvaeConfig,
  patchNums: number[],
  si: number,
  tokens: Value,
  fHat: Value | null,
  options: QuantizerOptions = {},
): ScaleOutputs {
  const pn = patchNums[si];
  if (tokens.dtype !== 'int64') throw new Error(`quantizer scale ${si}: tokens ${tokens} must be int64`);
  if (tokens.dim(-1) !== undefined && tokens.dim(-1) !== pn * pn)
    throw new Error(`quantizer scale ${si}: tokens ${tokens} should have ${pn * pn} per row`);
  const codes = g.scope(`quantize.s${si}`, () =>
    gather(vaeWeight(g, vae, 'quantize.embedding.weight', 'float32', [cfg.vocab, cfg.cvae]), tokens, 0),
  );
  return addScaleFromCodes(g, vae, cfg, patchNums, si, codes, fHat, options);
}

/**
 * The same step from codes (B, pn², Cvae) fp32 instead of token ids: the codebook rows
 * of sampled tokens, or the soft embeddings of the more_smooth path (§4.2.3d).
 */
export function addScaleFromCodes(
  g: Graph,
  vae: TensorStore,
  cfg: VqvaeConfig,
  patchNums: number[],
  si: number,
  codes: Value,
  fHat: Value | null,
  options: QuantizerOptions = {},
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
  return g.scope(`quantize.s${si}`, () => {
    // (B, pn², Cvae) → (B, Cvae, pn²) → (B, Cvae, pn, pn): token l = row·pn + col
    const h = reshape(transpose(codes, [0, 2, 1]), [0, c, pn, pn]);
    const last = si === scales - 1;
    const update = phi(g, vae, cfg, phiIndexFor(cfg, si, scales), last ? h : bicubicUpsample(h, side), options);
    const next = fHat ? add(fHat, update) : update;
    if (last) return { h, fHat: next };
    const pnNext = patchNums[si + 1];
    const nextMap = areaResize(next, pnNext);
    const nextInput = transpose(reshape(nextMap, [0, c, pnNext * pnNext]), [0, 2, 1]);
    return { h, fHat: next, nextMap, nextInput };
  });
}
