// The pieces of STAR's transformer block (STAR-SPEC §3.4–§3.6), exported one
// by one so the sampler head (§4.5, self-attention + FFN without cross
// attention) builds from the same functions:
//
//   x ← x + SelfAttn(LN(x))               RoPE, L2-normalized q/k, KV cache
//   x ← CrossAttn(LN(x))[rows] + x        text K/V computed once per request
//   x ← x + FFN(LN(x))                    fc2(GELU_tanh(fc1(·)))
//
// Precision: fp32 runs everything in fp32. fp16 stores the block matrices as
// fp16 and runs the linear layers and attention in fp16 (as upstream's
// autocast does), while the residual stream, every LayerNorm, RoPE and the
// L2 normalization stay fp32 (§3.8).
import type { Graph, Value } from '../../onnx/graph.ts';
import type { GraphWeights } from '../../onnx/graph-weights.ts';
import { dense } from '../../onnx/graph-weights.ts';
import {
  add,
  cast,
  concat,
  constant,
  exp,
  fastGelu,
  gather,
  int64s,
  layerNorm,
  matmul,
  max,
  min,
  mul,
  multiHeadAttention,
  reduceSum,
  reshape,
  slice,
  softmax,
  sqrt,
  div,
  transpose,
} from '../../onnx/ops.ts';
import type { GeneratorConfig } from './config.ts';
import type { RopeFactors } from './rope.ts';

/** `fused`: onnxruntime's MultiHeadAttention contrib op; `matmul`: plain MatMul + Softmax + MatMul. */
export type AttentionImpl = 'fused' | 'matmul';

/** F.normalize's eps. */
const L2_NORM_EPS = 1e-12;
/** Attention.max_scale_mul = torch.log(torch.tensor(100)).item(): ln 100 rounded to fp32. */
const MAX_SCALE_MUL = Math.fround(Math.log(100));

/** Affine-free LayerNorm (every LN in STAR, §3.6). */
export function norm(cfg: GeneratorConfig, x: Value): Value {
  return layerNorm(x, cfg.normEps);
}

/** σ_h = exp(min(scale_mul_1H11, ln 100)) as a [H, 1] fp32 factor (§3.4.3). */
function headScale(w: GraphWeights, prefix: string, cfg: GeneratorConfig): Value {
  const logScale = reshape(w.float32(`${prefix}.scale_mul_1H11`, [1, cfg.heads, 1, 1]), [cfg.heads, 1]);
  return exp(min(logScale, MAX_SCALE_MUL));
}

/** x / max(‖x‖₂, 1e−12) over the last (head) axis, as F.normalize. */
function l2Normalize(x: Value): Value {
  const norm = sqrt(reduceSum(mul(x, x), [-1], true));
  return div(x, max(norm, L2_NORM_EPS));
}

/** RoPE factors of one token range as graph constants shaped [n, 1, hd] (broadcast over batch and heads). */
export interface RopeConstants {
  cos: Value;
  sin: Value;
}

export function ropeConstants(g: Graph, factors: RopeFactors, headDim: number, name: string): RopeConstants {
  return {
    cos: constant(g, factors.cos, [factors.tokens, 1, headDim], 'float32', `${name}.cos`),
    sin: constant(g, factors.sin, [factors.tokens, 1, headDim], 'float32', `${name}.sin`),
  };
}

/** Rotates interleaved pairs of x [R, n, H, hd] (§3.3): x·cos + swapPairs(x)·sin. */
function applyRope(x: Value, rope: RopeConstants): Value {
  return add(mul(x, rope.cos), mul(swapPairs(x), rope.sin));
}

/**
 * (x1, x0, x3, x2, …) along the last axis of x [R, n, H, hd], as two slices
 * of the pair axis and a Concat: 4× faster on the CPU than a Gather of the
 * permuted indices, which copies element by element (d16's [2, 256, 16, 64]).
 */
function swapPairs(x: Value): Value {
  const hd = x.size(3);
  const pairs = reshape(x, [0, 0, 0, hd / 2, 2]);
  return reshape(concat([slice(pairs, [1], [2], [4]), slice(pairs, [0], [1], [4])], 4), [0, 0, 0, hd]);
}

/** Keys and values of all tokens seen so far, [R, H, L, hd] at the compute precision. */
export interface KvCache {
  key: Value;
  value: Value;
}

/**
 * Softmax(q̂·K̂ᵀ)·V with scale 1 (§3.4.5: the L2 norm and σ_h make the
 * temperature). q [R, n, C]; key/value [R, H, L, hd]; `keyMask` int32 [R, L]
 * (1 = visible) for cross-attention. Returns [R, n, C] at the compute dtype.
 */
export function attention(q: Value, kv: KvCache, keyMask: Value | null, cfg: GeneratorConfig, impl: AttentionImpl): Value {
  const [R, n] = [q.size(0), q.size(1)];
  const { heads: H, headDim: hd } = cfg;
  if (impl === 'fused') return multiHeadAttention(q, kv.key, kv.value, H, 1.0, null, keyMask);
  const q4 = transpose(reshape(q, [R, n, H, hd]), [0, 2, 1, 3]);
  let scores = matmul(q4, transpose(kv.key, [0, 1, 3, 2]));
  if (keyMask) {
    const L = kv.key.size(2);
    const dtype = scores.dtype;
    // (mask − 1)·10000: 0 where visible, −10000 where masked (onnxruntime's mask_filter_value; exp underflows to 0 as with −∞)
    scores = add(scores, mul(add(cast(reshape(keyMask, [R, 1, 1, L]), dtype), -1), 10000));
  }
  const o = matmul(softmax(scores, -1), kv.value);
  return reshape(transpose(o, [0, 2, 1, 3]), [R, n, H * hd]);
}

/**
 * Self-attention of §3.4 on y = LN(x) [R, n, C]. Appends this step's k̂, v to
 * `past` (null at the first scale) and returns the output projection (fp32)
 * with the grown cache.
 */
export function selfAttention(
  w: GraphWeights,
  prefix: string,
  cfg: GeneratorConfig,
  y: Value,
  rope: RopeConstants,
  past: KvCache | null,
  impl: AttentionImpl,
): { out: Value; present: KvCache } {
  const [R, n] = [y.size(0), y.size(1)];
  const { width: C, heads: H, headDim: hd } = cfg;
  const qkvBias = concat([w.matrix(`${prefix}.q_bias`, [C]), w.matrix(`${prefix}.zero_k_bias`, [C]), w.matrix(`${prefix}.v_bias`, [C])], 0);
  const qkv = dense(w, y, `${prefix}.mat_qkv`, 3 * C, C, { bias: qkvBias });
  const heads = (x: Value) => reshape(x, [R, n, H, hd]);
  const q = heads(slice(qkv, [0], [C], [2]));
  const k = heads(slice(qkv, [C], [2 * C], [2]));
  const v = heads(slice(qkv, [2 * C], [3 * C], [2]));
  // §3.4.2–3: RoPE before the L2 norm; σ_h multiplies q̂ only.
  const qHat = mul(l2Normalize(applyRope(q, rope)), headScale(w, prefix, cfg));
  const kHat = l2Normalize(applyRope(k, rope));
  const toCache = (x: Value) => transpose(cast(x, w.dtype), [0, 2, 1, 3]); // [R, H, n, hd]
  const present: KvCache = past
    ? { key: concat([past.key, toCache(kHat)], 2), value: concat([past.value, toCache(v)], 2) }
    : { key: toCache(kHat), value: toCache(v) };
  const o = attention(cast(reshape(qHat, [R, n, C]), w.dtype), present, null, cfg, impl);
  return { out: dense(w, o, `${prefix}.proj`, C, C), present };
}

/**
 * Text keys and values of one block's cross-attention (§3.5.2–3), computed
 * once per request from the text hidden states [R, T, textDim]: k̂ (L2-normalized,
 * no RoPE, no σ) and v, each [R, H, T, hd], in fp32 at every precision: the
 * scores q̂·k̂ reach σ_h ≤ 100, where fp16's step is 0.06 (a 6 % error in a
 * softmax weight), and 77 text tokens make fp32 cheap here.
 */
export function crossKeyValues(w: GraphWeights, prefix: string, cfg: GeneratorConfig, text: Value): KvCache {
  const [R, T] = [text.size(0), text.size(1)];
  const { width: C, heads: H, headDim: hd } = cfg;
  const kvBias = concat([w.matrix(`${prefix}.zero_k_bias`, [C]), w.matrix(`${prefix}.v_bias`, [C])], 0);
  const kv = dense(w, text, `${prefix}.mat_kv`, 2 * C, cfg.textDim, { bias: kvBias });
  const heads = (x: Value) => transpose(reshape(x, [R, T, H, hd]), [0, 2, 1, 3]);
  const k = l2Normalize(heads(slice(kv, [0], [C], [2])));
  const v = heads(slice(kv, [C], [2 * C], [2]));
  return { key: k, value: v };
}

/** Cross-attention of §3.5 for y = LN(x) rows [R', n, C] against their fp32 text K/V; `textMask` int32 [R', T]. Scores and softmax in fp32. */
export function crossAttention(
  w: GraphWeights,
  prefix: string,
  cfg: GeneratorConfig,
  y: Value,
  text: KvCache,
  textMask: Value,
  impl: AttentionImpl,
): Value {
  const [R, n] = [y.size(0), y.size(1)];
  const { width: C, heads: H, headDim: hd } = cfg;
  const q = dense(w, y, `${prefix}.mat_q`, C, C, { bias: w.matrix(`${prefix}.q_bias`, [C]) });
  const qHat = mul(l2Normalize(reshape(q, [R, n, H, hd])), headScale(w, prefix, cfg));
  const o = attention(reshape(qHat, [R, n, C]), text, textMask, cfg, impl);
  return dense(w, o, `${prefix}.proj`, C, C);
}

/** fc2(GELU_tanh(fc1(y))) (§3.6); the activation runs in fp32 as onnxruntime's FastGelu. */
export function ffn(w: GraphWeights, prefix: string, cfg: GeneratorConfig, y: Value): Value {
  const hidden = dense(w, y, `${prefix}.fc1`, cfg.mlpHidden, cfg.width);
  return dense(w, fastGelu(hidden), `${prefix}.fc2`, cfg.width, cfg.mlpHidden);
}

/**
 * How each row of the CFG batch receives its cross-attention output (§6.1).
 * `sourceRows`: the rows whose cross-attention is computed (their LN(x) and
 * text K/V); `outputIndex[r]`: which of those feeds row r.
 */
export interface CrossRouting {
  sourceRows: number[];
  outputIndex: number[];
}

export const CROSS_ATTN_MODES = ['upstream', 'per-row', 'per-request'] as const;
export type CrossAttnMode = (typeof CROSS_ATTN_MODES)[number];
/** For weights that name no routing: upstream's for one image, which the released weights trained with. */
export const DEFAULT_CROSS_ATTN: CrossAttnMode = 'per-request';

/**
 * upstream: row 0's output to every row (how the released weights trained);
 * per-row: each row its own (how star-tiny trained); per-request: image b's
 * conditional row feeds both of its CFG rows b and B+b (= upstream when B = 1).
 * A model names its own in model.json (registry.ts, `generator.cross_attn`).
 */
export function crossRouting(mode: CrossAttnMode, batch: number): CrossRouting {
  const rows = 2 * batch;
  switch (mode) {
    case 'upstream':
      return { sourceRows: [0], outputIndex: Array(rows).fill(0) };
    case 'per-row':
      return { sourceRows: range(rows), outputIndex: range(rows) };
    case 'per-request':
      return { sourceRows: range(batch), outputIndex: [...range(batch), ...range(batch)] };
  }
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Rows `rows` of x along axis 0 (no node when they are all rows in order). */
export function selectRows(x: Value, rows: number[]): Value {
  const identity = rows.length === x.dim(0) && rows.every((r, i) => r === i);
  return identity ? x : gather(x, int64s(x.graph, rows), 0);
}

export interface BlockContext {
  cfg: GeneratorConfig;
  weights: GraphWeights;
  rope: RopeConstants;
  routing: CrossRouting;
  /** Text K/V of this block for the routing's source rows. */
  text: KvCache;
  /** int32 [sources, T], 1 = token present. */
  textMask: Value;
  impl: AttentionImpl;
}

/** One AttnBlock (§3.6) on x [2B, n, C]; returns the new residual stream and the grown self-attention cache. */
export function block(ctx: BlockContext, index: number, x: Value, past: KvCache | null): { x: Value; present: KvCache } {
  const { cfg, weights: w } = ctx;
  const p = `blocks.${index}`;
  const g = x.graph;
  const attn = g.scope('attn', () => selfAttention(w, `${p}.attn`, cfg, norm(cfg, x), ctx.rope, past, ctx.impl));
  x = add(x, attn.out);
  const cross = g.scope('cross_attn', () => {
    const sources = selectRows(norm(cfg, x), ctx.routing.sourceRows);
    return selectRows(crossAttention(w, `${p}.cross_attn`, cfg, sources, ctx.text, ctx.textMask, ctx.impl), ctx.routing.outputIndex);
  });
  x = add(cross, x); // §3.5.5 / §6.1: the routed row's output, added to every row it feeds
  x = add(
    x,
    g.scope('ffn', () => ffn(w, `${p}.ffn`, cfg, norm(cfg, x))),
  );
  return { x, present: attn.present };
}
