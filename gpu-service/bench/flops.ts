// Analytic FLOP counts per pipeline stage (multiply-adds count 2), so the
// bench can print achieved GFLOP/s next to each stage's time. Only the
// matrix products, attention and convolutions are counted: elementwise work,
// norms and sampling are small beside them.
import type { CrossAttnMode } from '../src/engine/models/generator/blocks.ts';
import { crossRouting } from '../src/engine/models/generator/blocks.ts';
import type { GeneratorConfig } from '../src/engine/models/generator/config.ts';
import type { ClipTextConfig } from '../src/engine/models/text-encoder/config.ts';
import type { VqvaeConfig } from '../src/engine/models/vqvae/config.ts';

/** CLIP text encoder over `rows` rows of T tokens. */
export function textEncoderFlops(cfg: ClipTextConfig, rows: number, T = 77): number {
  const D = cfg.hiddenSize;
  const perLayer = 2 * T * D * D * 4 + 2 * 2 * T * T * D + 2 * 2 * T * D * cfg.intermediateSize;
  return rows * cfg.numLayers * perLayer;
}

/**
 * Whose generator work to count. 'ours': this engine's graph (STAR-SPEC §6.1,
 * blocks.ts) computes the text K/V once per request, at scale 0, and
 * cross-attention only on the rows whose output is used (the routing's source
 * rows: B per-request). 'upstream': upstream's autoregressive_infer_cfg
 * recomputes the text K/V at every scale and runs cross-attention on all 2B
 * CFG rows, though every row then takes row 0's output.
 */
export type Implementation = 'ours' | 'upstream';

/**
 * Generator work at scale si for B images (2B transformer rows), as
 * `implementation` executes it: the input embedding, self-attention over the
 * KV cache of every earlier scale, cross-attention to T text tokens and its text K/V
 * projections, FFN, output head, and the quantizer's φ convolution on the P×P
 * latent. 'ours' routes cross-attention as `crossAttn` (the pipeline's default
 * 'per-request' unless given).
 */
export function generatorScaleFlops(
  cfg: GeneratorConfig,
  si: number,
  B: number,
  implementation: Implementation,
  crossAttn: CrossAttnMode = 'per-request',
): number {
  const C = cfg.width;
  const T = cfg.textLength;
  const rows = 2 * B;
  const n = cfg.patchNums[si] ** 2;
  let context = 0;
  for (let s = 0; s <= si; s++) context += cfg.patchNums[s] ** 2;
  const selfAttention = 2 * n * C * 3 * C + 2 * 2 * n * context * C + 2 * n * C * C; // qkv, QKᵀ + AV, proj
  const crossAttention = 2 * n * C * C + 2 * 2 * n * T * C + 2 * n * C * C; // q, QKᵀ + AV, proj
  const ffn = 2 * 2 * n * C * cfg.mlpHidden;
  const textKv = 2 * T * cfg.textDim * 2 * C;
  const crossRows = implementation === 'ours' ? crossRouting(crossAttn, B).sourceRows.length : rows;
  const textKvRows = implementation === 'upstream' || si === 0 ? crossRows : 0;
  const perBlock = rows * (selfAttention + ffn) + crossRows * crossAttention + textKvRows * textKv;
  // the start token from the pooled text on every row; later inputs embedded once per image, then doubled (both implementations)
  const embed = si === 0 ? rows * 2 * cfg.textDim * C : B * 2 * n * cfg.cvae * C;
  const head = rows * 2 * n * C * cfg.vocabSize;
  const P = cfg.patchNums[cfg.patchNums.length - 1];
  const phi = B * 2 * P * P * cfg.cvae * cfg.cvae * 9;
  return embed + cfg.depth * perBlock + head + phi;
}

/** The whole generator's work for B images (every scale), as `implementation` executes it. */
export function generatorFlops(cfg: GeneratorConfig, B: number, implementation: Implementation): number {
  return cfg.patchNums.reduce((sum, _, si) => sum + generatorScaleFlops(cfg, si, B, implementation), 0);
}

/** VQVAE decoder on a side×side latent for B images (STAR-SPEC §5.2 structure), as decoder.ts executes it. */
export function decoderFlops(cfg: VqvaeConfig, side: number, B: number): number {
  const conv = (hw: number, cin: number, cout: number, k: number) => 2 * hw * cin * cout * k * k;
  const attn = (hw: number, c: number) => conv(hw, c, 3 * c, 1) + 2 * 2 * hw * hw * c + conv(hw, c, c, 1);
  const res = (hw: number, cin: number, cout: number) =>
    conv(hw, cin, cout, 3) + conv(hw, cout, cout, 3) + (cin !== cout ? conv(hw, cin, cout, 1) : 0);
  const levels = cfg.chMult.length;
  let s = side;
  let c = cfg.ch * cfg.chMult[levels - 1];
  let f = conv(s * s, cfg.cvae, cfg.cvae, 3) + conv(s * s, cfg.cvae, c, 3);
  f += 2 * res(s * s, c, c) + (cfg.usingMidSa ? attn(s * s, c) : 0);
  for (let lvl = levels - 1; lvl >= 0; lvl--) {
    const out = cfg.ch * cfg.chMult[lvl];
    for (let j = 0; j <= cfg.numResBlocks; j++) {
      f += res(s * s, c, out);
      c = out;
      if (lvl === levels - 1 && cfg.usingSa) f += attn(s * s, c);
    }
    if (lvl !== 0) {
      f += 4 * conv(s * s, c, c, 2); // the upsample as executed: four 2×2 convs on the small map (upsample-conv.ts)
      s *= 2;
    }
  }
  f += conv(s * s, c, 3, 3);
  return B * f;
}
