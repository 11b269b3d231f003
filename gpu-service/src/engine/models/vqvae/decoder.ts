// The VQVAE decoder graph (STAR-SPEC §5.1, §5.2): f_hat → RGB.
//
//   img = clamp(Decoder(post_quant_conv(f_hat)), −1, 1)
//   image = uint8(trunc(((img + 1)·0.5)·255)), CHW → HWC
//
// The latent's spatial size is symbolic, so the same graph decodes the full latent
// and the small previews of `previewLatent`.
import { Graph } from '../../onnx/graph.ts';
import type { Value } from '../../onnx/graph.ts';
import {
  add,
  cast,
  clip,
  conv2d,
  groupNorm,
  matmul,
  mul,
  multiHeadAttention,
  reshape,
  reshapeTo,
  shapeOf,
  silu,
  slice,
  softmax,
  transpose,
} from '../../onnx/ops.ts';
import type { Precision } from '../../onnx/target.ts';
import { GraphWeights } from '../../onnx/graph-weights.ts';
import { upsampleConv } from './upsample-conv.ts';
import type { TensorStore } from '../../weights/tensors.ts';
import { decoderWeights } from './weights.ts';
import type { VqvaeConfig } from './config.ts';
import { GROUP_NORM_EPS, GROUP_NORM_GROUPS } from './config.ts';

export interface DecoderOptions {
  /** 'fp16': fp16 weights and activations; GroupNorm statistics, attention softmax and the output mapping in fp32. */
  precision: Precision;
  /** Also output `img_unclamped`, `img_pm1`, `img_01` (fp32 NCHW), the fixtures' `final.*` tensors. */
  debug?: boolean;
  /** Self-attention as onnxruntime's fused MultiHeadAttention instead of MatMul–Softmax–MatMul. */
  fusedAttention?: boolean;
}

/** Names of the decoder graph's input and outputs. */
export const DECODER_INPUT = 'f_hat';
export const DECODER_OUTPUT = 'image';

interface Ctx {
  g: Graph;
  /** At the decoder's precision: its weights' and activations' dtype is `w.dtype`. */
  w: GraphWeights;
  fusedAttention: boolean;
}

/** Conv2d, stride 1, "same" zero padding. */
function conv(ctx: Ctx, prefix: string, x: Value, cout: number, k: number): Value {
  const weight = ctx.w.matrix(`${prefix}.weight`, [cout, x.size(1), k, k]);
  return conv2d(x, weight, ctx.w.matrix(`${prefix}.bias`, [cout]), (k - 1) / 2);
}

function norm(ctx: Ctx, prefix: string, x: Value): Value {
  const c = x.size(1);
  const gamma = ctx.w.float32(`${prefix}.weight`, [c]);
  const beta = ctx.w.float32(`${prefix}.bias`, [c]);
  return groupNorm(x, GROUP_NORM_GROUPS, GROUP_NORM_EPS, gamma, beta);
}

/** ResnetBlock: h = conv1(SiLU(norm1(x))); h = conv2(SiLU(norm2(h))); shortcut(x) + h. */
function resBlock(ctx: Ctx, prefix: string, x: Value, cout: number): Value {
  return ctx.g.scope(prefix, () => {
    let h = conv(ctx, `${prefix}.conv1`, silu(norm(ctx, `${prefix}.norm1`, x)), cout, 3);
    h = conv(ctx, `${prefix}.conv2`, silu(norm(ctx, `${prefix}.norm2`, h)), cout, 3);
    const shortcut = x.dim(1) === cout ? x : conv(ctx, `${prefix}.nin_shortcut`, x, cout, 1);
    return add(shortcut, h);
  });
}

/**
 * AttnBlock: single-head self-attention over the h·w positions with c-wide q/k/v from a
 * 1×1 conv; W = softmax_keys(qᵀk · c^(−1/2)), o = v·Wᵀ, x + proj_out(o).
 */
function attnBlock(ctx: Ctx, prefix: string, x: Value): Value {
  return ctx.g.scope(prefix, () => {
    const c = x.size(1);
    const qkv = reshape(conv(ctx, `${prefix}.qkv`, norm(ctx, `${prefix}.norm`, x), 3 * c, 1), [0, 3 * c, -1]); // (B, 3c, hw)
    const [q, k, v] = [0, 1, 2].map((i) => slice(qkv, [i * c], [(i + 1) * c], [1])); // (B, c, hw) each
    const ratio = c ** -0.5;
    let o: Value; // (B, hw, c)
    if (ctx.fusedAttention) {
      const tokens = (t: Value) => transpose(t, [0, 2, 1]);
      o = multiHeadAttention(tokens(q), tokens(k), tokens(v), 1, ratio);
    } else if (ctx.w.dtype === 'float32') {
      const w = softmax(mul(matmul(transpose(q, [0, 2, 1]), k), ratio), -1); // (B, hw_q, hw_k), upstream's op order
      o = matmul(w, transpose(v, [0, 2, 1]));
    } else {
      // fp16: scale q before the product (keeps qᵀk in range), softmax in fp32
      const scores = matmul(transpose(mul(q, ratio), [0, 2, 1]), k);
      const w = cast(softmax(cast(scores, 'float32'), -1), ctx.w.dtype);
      o = matmul(w, transpose(v, [0, 2, 1]));
    }
    const h = reshapeTo(transpose(o, [0, 2, 1]), shapeOf(x), x.shape);
    return add(x, conv(ctx, `${prefix}.proj_out`, h, c, 1));
  });
}

/**
 * f_hat (fp32, [B, Cvae, h, w]) → `image` uint8 [B, 16h, 16w, 3] (HWC RGB), plus the fp32
 * NCHW `img_unclamped`, `img_pm1`, `img_01` when `debug`.
 */
export function buildDecoderGraph(vae: TensorStore, cfg: VqvaeConfig, opts: DecoderOptions): Graph {
  const g = new Graph(`vqvae-decoder-${opts.precision}`);
  const ctx: Ctx = { g, w: new GraphWeights(g, vae, opts.precision), fusedAttention: opts.fusedAttention ?? false };
  for (const { name, shape } of decoderWeights(cfg)) vae.get(name, shape); // every key present, every shape right, before building

  const fHat = g.input(DECODER_INPUT, 'float32', ['B', cfg.cvae, 'h', 'w']);
  const levels = cfg.chMult.length;
  let blockIn = cfg.ch * cfg.chMult[levels - 1];

  let h = conv(ctx, 'post_quant_conv', cast(fHat, ctx.w.dtype), cfg.cvae, 3);
  h = conv(ctx, 'decoder.conv_in', h, blockIn, 3);
  h = resBlock(ctx, 'decoder.mid.block_1', h, blockIn);
  if (cfg.usingMidSa) h = attnBlock(ctx, 'decoder.mid.attn_1', h);
  h = resBlock(ctx, 'decoder.mid.block_2', h, blockIn);
  for (let lvl = levels - 1; lvl >= 0; lvl--) {
    const blockOut = cfg.ch * cfg.chMult[lvl];
    for (let j = 0; j <= cfg.numResBlocks; j++) {
      h = resBlock(ctx, `decoder.up.${lvl}.block.${j}`, h, blockOut);
      blockIn = blockOut;
      if (lvl === levels - 1 && cfg.usingSa) h = attnBlock(ctx, `decoder.up.${lvl}.attn.${j}`, h);
    }
    if (lvl !== 0) h = g.scope(`decoder.up.${lvl}.upsample`, () => upsampleConv(ctx.w, `decoder.up.${lvl}.upsample.conv`, h, blockIn));
  }
  h = conv(ctx, 'decoder.conv_out', silu(norm(ctx, 'decoder.norm_out', h)), 3, 3);

  // Output mapping in fp32 (§5.2): clamp, (x + 1)·0.5, ·255 truncated to uint8, HWC.
  const unclamped = cast(h, 'float32');
  const pm1 = clip(unclamped, -1, 1);
  const zeroOne = mul(add(pm1, 1), 0.5);
  const image = transpose(cast(mul(zeroOne, 255), 'uint8'), [0, 2, 3, 1]);
  g.output(image, DECODER_OUTPUT);
  if (opts.debug) {
    g.output(unclamped, 'img_unclamped');
    g.output(pm1, 'img_pm1');
    g.output(zeroOne, 'img_01');
  }
  return g;
}
