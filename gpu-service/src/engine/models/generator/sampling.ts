// Token choice inside the graph (STAR-SPEC §4.2.3, §4.3, §7), with per-row
// parameters as graph inputs so requests with different settings share a
// batch: cfg [B] f32, top_k [B] i64, top_p [B] f32, more_smooth [B] bool.
// Everything here is fp32 (logits, softmax, sampling).
import type { Graph, Value } from '../../onnx/graph.ts';
import type { Device } from '../../onnx/target.ts';
import {
  add,
  and,
  argMax,
  cast,
  constant,
  cumSum,
  div,
  equal,
  expand,
  gatherElements,
  greater,
  greaterOrEqual,
  less,
  lessOrEqual,
  log,
  matmul,
  min,
  mul,
  neg,
  not,
  or,
  reduceSum,
  reshape,
  round,
  slice,
  softmax,
  sub,
  topK,
  unsqueeze,
  where,
} from '../../onnx/ops.ts';

/**
 * How running sums over the vocabulary are formed. 'sequential': CumSum, the
 * same order of additions as torch.cumsum on CPU (the fixtures' exact
 * tokens). 'blocked': two MatMuls with triangular ones over blocks of ≈√V,
 * linear work per row, for CUDA, whose CumSum kernel does O(V²) per row
 * (1.6e11 additions per 1024² image). It needs fp32 MatMuls (TF32 off,
 * runtime.ts): TF32's 10-bit mantissa would move the CDF by 1e-3.
 */
export type PrefixSum = 'sequential' | 'blocked';

/** The prefix sum each device runs well. */
export function prefixSumFor(device: Device): PrefixSum {
  return device === 'cuda' ? 'blocked' : 'sequential';
}

/** Running sum of x along its last axis. */
export function prefixSum(x: Value, mode: PrefixSum): Value {
  if (mode === 'sequential') return cumSum(x, -1);
  const g = x.graph;
  const shape = x.shape as number[];
  const V = shape[shape.length - 1];
  const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const block = blockSize(V);
  const blocks = V / block;
  const triangle = (n: number, strict: boolean, name: string) =>
    constant(
      g,
      Float32Array.from({ length: n * n }, (_, i) => ((strict ? Math.floor(i / n) < i % n : Math.floor(i / n) <= i % n) ? 1 : 0)),
      [n, n],
      'float32',
      name,
    );
  const within = matmul(reshape(x, [rows, blocks, block]), triangle(block, false, `prefix_within_${block}`)); // inclusive sums inside each block
  const totals = reshape(slice(within, [block - 1], [block], [2]), [rows, blocks]);
  const offsets = matmul(totals, triangle(blocks, true, `prefix_offsets_${blocks}`)); // sum of the blocks before each block
  return reshape(add(within, unsqueeze(offsets, [2])), shape);
}

/** The divisor of V nearest √V (64 for V = 4096): both MatMuls stay small. */
function blockSize(V: number): number {
  let best = V;
  for (let d = 1; d <= V; d++) if (V % d === 0 && Math.abs(d - Math.sqrt(V)) < Math.abs(best - Math.sqrt(V))) best = d;
  return best;
}

/**
 * CFG mix (§4.2.3b): (1+t)·z[0:B] − t·z[B:2B], t = cfg·si/(S−1). Upstream
 * forms t and 1+t in double and rounds each to fp32 when multiplying; the
 * same happens here in float64 from the decimal cfg the fp32 input stands for
 * (rounded to 5 decimals: exact for any |cfg| < 64 written with at most 5
 * decimals, e.g. 3.3 whose fp32 is 3.29999995). logits [2B, n, V] → [B, n, V].
 */
export function cfgMix(logits: Value, cfg: Value, ratio: number): Value {
  const B = cfg.size(0);
  const t = mul(decimalValue(cfg, CFG_DECIMALS), ratio);
  const condWeight = reshape(cast(add(t, 1), 'float32'), [B, 1, 1]);
  const uncondWeight = reshape(cast(t, 'float32'), [B, 1, 1]);
  const cond = slice(logits, [0], [B], [0]);
  const uncond = slice(logits, [B], [2 * B], [0]);
  return sub(mul(cond, condWeight), mul(uncond, uncondWeight));
}

const CFG_DECIMALS = 5;

/** The float64 value with `decimals` decimal places nearest to an fp32 input (recovers the decimal number it was rounded from). */
function decimalValue(x: Value, decimals: number): Value {
  const scale = 10 ** decimals;
  return div(round(mul(cast(x, 'float64'), scale)), scale);
}

/**
 * Top-k then top-p filtering exactly as upstream's sample_with_top_k_top_p_
 * (§4.3), per row: removed logits become −∞. z [B, n, V]; topK [B] (0 = off,
 * V = keeps all); topP [B] (0 = off).
 *
 * Top-k removes z < (k-th largest) — ties with the k-th value stay. Top-p
 * sorts the survivors ascending (ties: lower index first, STAR-SPEC §7),
 * takes the softmax of the sorted row and its running sum, and removes sorted
 * positions with sum ≤ 1 − p except the last one, with the threshold of
 * topPThreshold.
 *
 * One ascending sort of z serves both: the k-th largest is the value at
 * sorted position V − k, and masking the positions below it gives the row
 * upstream sorts for top-p bit for bit (its −∞ entries sort first, so the
 * survivors keep their positions and order). Both filters remove a prefix of
 * the sorted row, so the result keeps what sorts at or after the first kept
 * entry: z above its value, or equal to it at an index at or after its index
 * (the ascending tie order).
 */
export function topKTopPFilter(z: Value, topK_: Value, topP: Value, prefix: PrefixSum = 'sequential'): Value {
  const g = z.graph;
  const [B, n, V] = [z.size(0), z.size(1), z.size(2)];
  const [ascending, order] = topK(z, V, -1, false);
  const atSorted = (position: Value, of: Value) => gatherElements(of, position, 2);

  // ---- top-k
  const k = min(reshape(topK_, [B, 1, 1]), V);
  const kthPosition = expand(where(greater(k, 0), sub(V, k), 0), [B, n, 1]); // position 0 when off: nothing is below it
  const belowKth = less(ascending, atSorted(kthPosition, ascending));
  const afterTopK = minusInfUnless(not(belowKth), ascending);

  // ---- top-p
  const runningSum = prefixSum(softmax(afterTopK, -1), prefix);
  const threshold = reshape(topPThreshold(topP), [B, 1, 1]);
  const notLast = constant(
    g,
    Uint8Array.from({ length: V }, (_, i) => (i < V - 1 ? 1 : 0)),
    [V],
    'bool',
    'not_last',
  );
  const topPApplies = and(notLast, greater(reshape(topP, [B, 1, 1]), 0)); // [B, 1, V]
  const removed = or(belowKth, and(lessOrEqual(runningSum, threshold), topPApplies));

  // ---- back to vocabulary order
  const firstKept = reduceSum(cast(removed, 'int64'), [2], true); // [B, n, 1]
  const keptValue = atSorted(firstKept, ascending);
  const keptIndex = atSorted(firstKept, order);
  const keep = or(greater(z, keptValue), and(equal(z, keptValue), greaterOrEqual(vocabularyIndex(g, V), keptIndex)));
  return minusInfUnless(keep, z);
}

/**
 * x where `keep` holds, −∞ elsewhere: x + log(keep) adds 0 or −∞, exactly.
 * onnxruntime's CPU Where over [B, n, V] took 12–20 ms at d16's last scale,
 * these passes ~5 ms (profile of 2026-12-08).
 */
function minusInfUnless(keep: Value, x: Value): Value {
  return add(x, log(cast(keep, x.dtype)));
}

/** 0, 1, …, V − 1 as int64 [V]. */
function vocabularyIndex(g: Graph, V: number): Value {
  return constant(
    g,
    BigInt64Array.from({ length: V }, (_, i) => BigInt(i)),
    [V],
    'int64',
    'vocab_index',
  );
}

/** Decimal places top_p is taken to have (see topPThreshold). */
const TOP_P_DECIMALS = 7;

/**
 * Upstream compares the fp32 running sums with the Python double 1 − p, i.e.
 * with fp32(1 − p) (0.2f for p = 0.8). p arrives here as fp32 (0.800000011920929
 * for 0.8), whose 1 − p would round to 0.19999999f instead; so the double p
 * is first recovered by rounding to 7 decimals (exact for any p written with
 * at most 7 decimals: fp32's error on p ≤ 1 is below 6e−8), then 1 − p is
 * formed in float64 and rounded to fp32. [B] f32 → [B] f32.
 */
export function topPThreshold(topP: Value): Value {
  const one = constant(topP.graph, Float64Array.from([1]), [], 'float64', 'one');
  return cast(sub(one, decimalValue(topP, TOP_P_DECIMALS)), 'float32');
}

/**
 * Canonical inverse-CDF draw (STAR-SPEC §7): with π = softmax(filtered) and
 * one uniform u per token, idx = min{ v : Σ_{j≤v} π_j > u·Σ_j π_j }, falling
 * back to the largest index with π > 0 if rounding leaves none. π [B, n, V],
 * u [B, n] → idx int64 [B, n], conf = π[idx] [B, n].
 */
export function sampleInverseCdf(probs: Value, uniform: Value, prefix: PrefixSum = 'sequential'): { tokens: Value; conf: Value } {
  const g = probs.graph;
  const [B, n, V] = [probs.size(0), probs.size(1), probs.size(2)];
  const cdf = prefixSum(probs, prefix);
  const total = slice(cdf, [V - 1], [V], [2]);
  const target = mul(unsqueeze(uniform, [2]), total);
  // cdf is non-decreasing, so the number of entries ≤ target is the first index above it.
  const below = reduceSum(cast(not(greater(cdf, target)), 'int64'), [2], false);
  // The positive entry with the largest index is the largest of positive·(index + 1): unique, so ArgMax needs no tie rule.
  const indexPlusOne = constant(
    g,
    Float32Array.from({ length: V }, (_, i) => i + 1),
    [V],
    'float32',
    'vocab_index_plus_one',
  );
  const lastPositive = argMax(mul(cast(greater(probs, 0), 'float32'), indexPlusOne), 2, false);
  const tokens = min(below, lastPositive);
  const conf = reshape(gatherElements(probs, unsqueeze(tokens, [2]), 2), [B, n]);
  return { tokens, conf };
}

/**
 * The more_smooth path (§4.2.3d): w = softmax((z'·(1+ratio) + g)/τ) with
 * Gumbel noise g = −ln(−ln u), τ = max(0.27·(1 − 0.95·ratio), 0.005); the
 * soft code is w·codebook. z [B, n, V], u [B, n, V] → [B, n, Cvae].
 */
export function smoothEmbedding(z: Value, uniform: Value, codebook: Value, ratio: number): Value {
  const tau = Math.max(0.27 * (1 - ratio * 0.95), 0.005);
  const gumbel = neg(log(neg(log(uniform))));
  const weights = softmax(div(add(mul(z, 1 + ratio), gumbel), tau), -1);
  return matmul(weights, codebook);
}

/** Full top-k/top-p step used by the check: filtered logits and their softmax. */
export function filteredProbabilities(
  z: Value,
  topK_: Value,
  topP: Value,
  prefix: PrefixSum = 'sequential',
): { filtered: Value; probs: Value } {
  const filtered = topKTopPFilter(z, topK_, topP, prefix);
  return { filtered, probs: softmax(filtered, -1) };
}
