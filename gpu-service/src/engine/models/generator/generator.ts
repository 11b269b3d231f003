// The STAR generator graph over a contiguous range of scales [first, last]
// (STAR-SPEC §4). One builder, two ways to run it:
//   * all scales in one graph: one session.run per batch (fastest);
//   * one graph per scale: the KV cache, f_hat, next_input and the text K/V
//     go out of one run and into the next (progress and previews per scale;
//     `carriedFeeds` maps one run's outputs to the next run's inputs).
//
// Per scale si (pn = patchNums[si], batch rows 0..B−1 conditional, B..2B−1 unconditional):
//   x_in   = si = 0: encoder_proj(pooled) + pos_start + lvl_embed[0]          (§3.2)
//            si > 0: word_embed(next_input) + lvl_embed[si], both CFG halves
//   h      = blocks(x_in)  with this scale's RoPE slice and the KV cache     (§3.4–3.6)
//   logits = head_logits(LN(h))                                             (§3.7)
//   tokens = sample(topk_topp(cfg_mix(logits, t = cfg·si/(S−1))), noise)    (§4.2–4.3, §7)
//            or the sampler path (§4.5) at its scales
//   f_hat, next_input = quantizer.addScale(tokens, f_hat)                   (§4.2.4–6, §5.3)
//
// Graph interface (B images; `names` below holds every name):
//   inputs   text_mask i64 [2B,77]; cfg f32 [B], top_k i64 [B], top_p f32 [B];
//            noise.s{si} f32 [B,pn²] uniform (0,1) per scale (sampler scales:
//            noise.s{si}.k{i}, position_noise.s{si}.k{i}, see sampler-head.ts);
//            with moreSmooth: more_smooth bool [B], gumbel.s{si} f32 [B,pn²,V];
//            first = 0: text_hidden f32 [2B,77,D], pooled f32 [2B,D]
//            first > 0: cross_key.{i}/cross_value.{i} [R',H,77,64], past_key.{i}/
//              past_value.{i} [2B,H,Lpast,64], f_hat_in f32 [B,Cvae,P,P],
//              next_input_in f32 [B,pn_first²,Cvae] (pooled too if a sampler scale is in range)
//            weights 'inputs': weights/<key>@<dtype> (WeightFeeder, onnx/graph-weights.ts)
//   outputs  tokens.s{si} i64 [B,pn²]; f_hat f32 [B,Cvae,P,P];
//            last < S−1: present_key.{i}/present_value.{i}, next_input;
//            first = 0 and last < S−1: cross_key.{i}/cross_value.{i}
//   (self-attention K/V are at the compute precision: fp32, or fp16 with precision
//   'fp16'; the text K/V are always fp32, see crossKeyValues.)
//
// Cross-attention text K/V: computed once per request, only for the rows
// whose output is used (the routing of blocks.ts: upstream row 0, per-request
// the B conditional rows, per-row all 2B rows, R' of them). With first = 0 the
// graph computes them from `text_hidden` and hands them out when later scales
// remain; graphs with first > 0 take them instead of `text_hidden`.
//
// Teacher-forced variant: `tokens.s{si}` are inputs instead of draws. A
// `probe` is handed each scale's values once the scale is built (the parity
// check, parity/, names them as the fixtures do and makes them outputs).
import type { DType } from '../../onnx/dtype.ts';
import { Graph } from '../../onnx/graph.ts';
import type { Value } from '../../onnx/graph.ts';
import { add, cast, concat, constant, gather, int64s, layerNorm, reshape, slice, softmax, unsqueeze, where } from '../../onnx/ops.ts';
import type { TensorStore } from '../../weights/tensors.ts';
import type { Precision } from '../../onnx/target.ts';
import type { WeightBinding } from '../../onnx/graph-weights.ts';
import { dense, GraphWeights } from '../../onnx/graph-weights.ts';
import { type AttentionImpl, type CrossAttnMode, DEFAULT_CROSS_ATTN, type KvCache } from './blocks.ts';
import { block, crossKeyValues, crossRouting, ropeConstants, selectRows } from './blocks.ts';
import type { GeneratorConfig } from './config.ts';
import { samplerFromIdx, scaleCount, scaleOffset, scaleRatio, scaleTokens } from './config.ts';
import { ropeFactors } from './rope.ts';
import type { PrefixSum } from './sampling.ts';
import { cfgMix, sampleInverseCdf, smoothEmbedding, topKTopPFilter } from './sampling.ts';

/**
 * The residual quantizer's per-scale step (§4.2.4–6), provided by the VQVAE
 * module with its weights and config bound: codebook lookup of `tokens`
 * [B, pn²] (int64) or soft codes [B, pn², Cvae] (fp32, the more_smooth
 * path), f_hat update, and for si < S−1 the next scale's input [B, pn_next², Cvae].
 */
export interface Quantizer {
  addScale(g: Graph, si: number, tokens: Value, fHat: Value | null): { h: Value; fHat: Value; nextInput?: Value };
  /** Same from soft codes (the more_smooth path). */
  addScaleFromCodes(g: Graph, si: number, codes: Value, fHat: Value | null): { h: Value; fHat: Value; nextInput?: Value };
  /** The codebook [V, Cvae] as a graph value (the more_smooth path weights it by softmax). */
  codebook(g: Graph): Value;
}

/** What the sampler path of §4.5 gets at a scale that takes it. */
export interface SamplerPathContext {
  graph: Graph;
  cfg: GeneratorConfig;
  weights: GraphWeights;
  si: number;
  /** Block-stack output of this scale [2B, pn², C] (fp32, before the logit norm). */
  hidden: Value;
  logits: Value;
  /** [2B, textDim] */
  pooled: Value;
  /** Per-row inputs [B]. */
  cfgScale: Value;
  topK: Value;
  topP: Value;
  prefixSum: PrefixSum;
  teacherForcedTokens?: Value;
}

/** Builds the sampler path for one scale: the chosen tokens [B, pn²] and its step values under the fixtures' names. */
export type SamplerPath = (ctx: SamplerPathContext) => { tokens: Value; checks?: Record<string, Value> };

/** One scale's values as the generator computed them, for a probe. */
export interface ScaleValues {
  /** [2B, pn², C] */
  xIn: Value;
  /** Block-stack output [2B, pn², C]. */
  hidden: Value;
  /** [2B, pn², V] */
  logits: Value;
  /** Whether the scale is one of §4.5's (`mixed` is then its VAR-head steps' distribution). */
  samplerScale: boolean;
  /** CFG-mixed logits [B, pn², V] of the standard path; absent where the sampler path chose. */
  mixed?: Value;
  /** The sampler path's step values, named as the fixtures do. */
  samplerSteps?: Record<string, Value>;
  /** Codebook embedding of the tokens [B, Cvae, pn, pn]. */
  h: Value;
  /** [B, Cvae, P, P] */
  fHat: Value;
  /** [B, pn_next², Cvae]; absent at the last scale. */
  nextInput?: Value;
}

/** Sees every scale's values once the scale is built (parity/ taps them); inference passes none. */
export type ScaleProbe = (si: number, values: ScaleValues) => void;

export interface GeneratorGraphOptions {
  /** Images per batch (B); the transformer batch is 2B. */
  batch: number;
  /** Scale range, inclusive; defaults to all scales. */
  first?: number;
  last?: number;
  crossAttn?: CrossAttnMode;
  precision?: Precision;
  attention?: AttentionImpl;
  /** Tokens become inputs instead of draws. */
  teacherForced?: boolean;
  probe?: ScaleProbe;
  /** Adds `more_smooth` [B] and `gumbel.s{si}` [B, pn², V] inputs (the Gumbel soft-code path, §4.2.3d). */
  moreSmooth?: boolean;
  quantizer: Quantizer;
  /** §4.5, for configs with the sampler head at scales ≥ sampleFromIdx. */
  samplerPath?: SamplerPath;
  /** Take the standard path at sampler scales too (upstream w_mask = False). */
  ignoreSamplerHead?: boolean;
  /** 'inputs': weights become `weights/…` graph inputs fed by a WeightFeeder shared across sessions (onnx/graph-weights.ts). */
  weights?: WeightBinding;
  /** Running sums of top-p and the inverse CDF (sampling.ts): 'blocked' for CUDA. Default 'sequential'. */
  prefixSum?: PrefixSum;
}

export interface ResolvedGeneratorOptions extends Required<Omit<GeneratorGraphOptions, 'samplerPath' | 'quantizer' | 'probe'>> {
  samplerPath?: SamplerPath;
  probe?: ScaleProbe;
}

export function resolveOptions(cfg: GeneratorConfig, options: GeneratorGraphOptions): ResolvedGeneratorOptions {
  const S = scaleCount(cfg);
  const resolved = {
    batch: options.batch,
    first: options.first ?? 0,
    last: options.last ?? S - 1,
    crossAttn: options.crossAttn ?? DEFAULT_CROSS_ATTN,
    precision: options.precision ?? 'fp32',
    attention: options.attention ?? 'fused',
    teacherForced: options.teacherForced ?? false,
    moreSmooth: options.moreSmooth ?? false,
    ignoreSamplerHead: options.ignoreSamplerHead ?? false,
    weights: options.weights ?? 'initializers',
    prefixSum: options.prefixSum ?? 'sequential',
    samplerPath: options.samplerPath,
    probe: options.probe,
  };
  const { first, last, batch } = resolved;
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`generator graph: batch must be a positive integer, got ${batch}`);
  if (!(Number.isInteger(first) && Number.isInteger(last) && first >= 0 && first <= last && last < S)) {
    throw new Error(`generator graph: scale range [${first}, ${last}] is not within 0..${S - 1}`);
  }
  return resolved;
}

/** Graph input/output names shared with the pipeline. */
export const names = {
  textHidden: 'text_hidden',
  textMask: 'text_mask',
  pooled: 'pooled',
  pastKey: (i: number) => `past_key.${i}`,
  pastValue: (i: number) => `past_value.${i}`,
  presentKey: (i: number) => `present_key.${i}`,
  presentValue: (i: number) => `present_value.${i}`,
  crossKey: (i: number) => `cross_key.${i}`,
  crossValue: (i: number) => `cross_value.${i}`,
  fHat: 'f_hat',
  nextInput: 'next_input',
  /** f_hat and next_input going into a graph with first > 0 (a graph cannot have an input and an output of one name). */
  fHatIn: 'f_hat_in',
  nextInputIn: 'next_input_in',
  cfg: 'cfg',
  topK: 'top_k',
  topP: 'top_p',
  moreSmooth: 'more_smooth',
  noise: (si: number) => `noise.s${si}`,
  gumbel: (si: number) => `gumbel.s${si}`,
  tokens: (si: number) => `tokens.s${si}`,
} as const;

/** Whether scale si takes the sampler path of §4.5. */
export function usesSamplerPath(cfg: GeneratorConfig, options: Pick<ResolvedGeneratorOptions, 'ignoreSamplerHead'>, si: number): boolean {
  return !options.ignoreSamplerHead && si >= samplerFromIdx(cfg);
}

export function buildGeneratorGraph(store: TensorStore, cfg: GeneratorConfig, options: GeneratorGraphOptions): Graph {
  const o = resolveOptions(cfg, options);
  const { first, last, batch: B } = o;
  const S = scaleCount(cfg);
  const { width: C, heads: H, headDim: hd, depth, cvae, textDim, textLength: T } = cfg;
  const R = 2 * B;
  const P = cfg.patchNums[S - 1];
  const g = new Graph(`star_generator_s${first}_${last}`);
  const output = (v: Value, name: string) => {
    if (g.output(v, name).name !== name) throw new Error(`generator graph: output name ${name} is already taken`);
  };
  const w = new GraphWeights(g, store, o.precision, { binding: o.weights });
  const kvDtype: DType = w.dtype;
  const routing = crossRouting(o.crossAttn, B);
  const samplerScales = range(first, last).filter((si) => usesSamplerPath(cfg, o, si));
  if (samplerScales.length && !o.samplerPath && !o.teacherForced) {
    throw new Error(
      `generator graph: scales ${samplerScales.join(', ')} take the sampler path (STAR-SPEC §4.5) but no samplerPath was given; pass one or set ignoreSamplerHead`,
    );
  }

  // ---------------------------------------------------------------- inputs
  const textMask = g.input(names.textMask, 'int64', [R, T]);
  const sourceMask = cast(selectRows(textMask, routing.sourceRows), 'int32');
  const needsPooled = first === 0 || samplerScales.length > 0;
  const pooled = needsPooled ? g.input(names.pooled, 'float32', [R, textDim]) : null;
  let textKv: KvCache[];
  if (first === 0) {
    const textHidden = g.input(names.textHidden, 'float32', [R, T, textDim]);
    const sources = selectRows(textHidden, routing.sourceRows);
    textKv = range(0, depth - 1).map((i) =>
      g.scope(`blocks.${i}/cross_kv`, () => crossKeyValues(w, `blocks.${i}.cross_attn`, cfg, sources)),
    );
  } else {
    const shape = [routing.sourceRows.length, H, T, hd];
    textKv = range(0, depth - 1).map((i) => ({
      key: g.input(names.crossKey(i), 'float32', shape),
      value: g.input(names.crossValue(i), 'float32', shape),
    }));
  }
  let cache: (KvCache | null)[] = range(0, depth - 1).map(() => null);
  let fHat: Value | null = null;
  let nextInput: Value | null = null;
  if (first > 0) {
    const pastLength = scaleOffset(cfg, first);
    cache = range(0, depth - 1).map((i) => ({
      key: g.input(names.pastKey(i), kvDtype, [R, H, pastLength, hd]),
      value: g.input(names.pastValue(i), kvDtype, [R, H, pastLength, hd]),
    }));
    fHat = g.input(names.fHatIn, 'float32', [B, cvae, P, P]);
    nextInput = g.input(names.nextInputIn, 'float32', [B, scaleTokens(cfg, first), cvae]);
  }
  const cfgScale = g.input(names.cfg, 'float32', [B]);
  const topK = g.input(names.topK, 'int64', [B]);
  const topP = g.input(names.topP, 'float32', [B]);
  const moreSmooth = o.moreSmooth ? g.input(names.moreSmooth, 'bool', [B]) : null;

  const lvlEmbed = w.float32('lvl_embed.weight', [S, C]);
  const levelEmbedding = (si: number) => slice(lvlEmbed, [si], [si + 1], [0]); // [1, C]

  // ---------------------------------------------------------------- scales
  for (let si = first; si <= last; si++) {
    const pn = cfg.patchNums[si];
    const n = pn * pn;
    g.scope(`s${si}`, () => {
      // §3.2: this scale's input tokens
      let xIn: Value;
      if (si === 0) {
        const sos = dense(w, built(pooled, 'pooled'), 'encoder_proj', C, textDim, { at: 'float32' });
        xIn = add(add(unsqueeze(sos, [1]), w.float32('pos_start', [1, 1, C])), levelEmbedding(0));
      } else {
        const embedded = add(dense(w, built(nextInput, 'next_input'), 'word_embed', C, cvae, { at: 'float32' }), levelEmbedding(si));
        xIn = concat([embedded, embedded], 0); // both CFG halves share the image state
      }

      // §3.3–3.6: the block stack with this scale's RoPE slice and the KV cache
      const rope = ropeConstants(g, ropeFactors(cfg, [pn]), hd, `rope.s${si}`);
      let x = xIn;
      for (let i = 0; i < depth; i++) {
        const out = g.scope(`blocks.${i}`, () =>
          block({ cfg, weights: w, rope, routing, text: textKv[i], textMask: sourceMask, impl: o.attention }, i, x, cache[i]),
        );
        x = out.x;
        cache[i] = out.present;
      }
      const hidden = x;

      // §3.7: logits in fp32
      const logitInput = cfg.logitNorm ? layerNorm(hidden, cfg.normEps) : hidden;
      const logits = dense(w, logitInput, 'head_logits', cfg.vocabSize, C, { at: 'float32' });

      // §4.2.3: choose tokens
      const ratio = scaleRatio(cfg, si);
      const forced = o.teacherForced ? g.input(names.tokens(si), 'int64', [B, n]) : null;
      const samplerScale = usesSamplerPath(cfg, o, si);
      let tokens: Value;
      let softCodes: Value | null = null;
      let mixed: Value | undefined;
      let samplerSteps: Record<string, Value> | undefined;
      if (samplerScale && o.samplerPath) {
        const path = o.samplerPath({
          graph: g,
          cfg,
          weights: w,
          si,
          hidden,
          logits,
          pooled: built(pooled, 'pooled'),
          cfgScale,
          topK,
          topP,
          prefixSum: o.prefixSum,
          teacherForcedTokens: forced ?? undefined,
        });
        tokens = path.tokens;
        samplerSteps = path.checks;
      } else {
        mixed = cfgMix(logits, cfgScale, ratio);
        const override = samplingOverride(cfg, si);
        const scaleTopK = override.topK === undefined ? topK : int64s(g, Array(B).fill(override.topK));
        const scaleTopP =
          override.topP === undefined ? topP : constant(g, new Float32Array(B).fill(override.topP), [B], 'float32', 'top_p_override');
        const probs = softmax(topKTopPFilter(mixed, scaleTopK, scaleTopP, o.prefixSum), -1);
        if (forced) {
          tokens = forced;
        } else {
          const noise = g.input(names.noise(si), 'float32', [B, n]);
          tokens = sampleInverseCdf(probs, noise, o.prefixSum).tokens;
          if (moreSmooth) {
            const gumbel = g.input(names.gumbel(si), 'float32', [B, n, cfg.vocabSize]);
            softCodes = smoothEmbedding(mixed, gumbel, options.quantizer.codebook(g), ratio);
          }
        }
      }
      if (!forced) output(tokens, names.tokens(si));

      // §4.2.4–6: f_hat and the next scale's input
      const step =
        softCodes && moreSmooth
          ? smoothStep(g, options.quantizer, si, tokens, softCodes, moreSmooth, fHat)
          : options.quantizer.addScale(g, si, tokens, fHat);
      fHat = step.fHat;
      if (si < S - 1) {
        if (!step.nextInput) throw new Error(`quantizer.addScale gave no next input at scale ${si}`);
        nextInput = step.nextInput;
      }
      o.probe?.(si, { xIn, hidden, logits, samplerScale, mixed, samplerSteps, h: step.h, fHat, nextInput: step.nextInput });
    });
  }

  // ---------------------------------------------------------------- outputs
  output(built(fHat, 'f_hat'), names.fHat);
  if (last < S - 1) {
    output(built(nextInput, 'next_input'), names.nextInput);
    cache.forEach((c, i) => {
      const { key, value } = built(c, `the KV cache of block ${i}`);
      output(key, names.presentKey(i));
      output(value, names.presentValue(i));
    });
    if (first === 0) {
      textKv.forEach((kv, i) => {
        output(kv.key, names.crossKey(i));
        output(kv.value, names.crossValue(i));
      });
    }
  }
  return g;
}

/** Rows with more_smooth take the soft codes, the others their sampled tokens' codes. */
function smoothStep(g: Graph, q: Quantizer, si: number, tokens: Value, softCodes: Value, moreSmooth: Value, fHat: Value | null) {
  const B = tokens.size(0);
  const codebook = q.codebook(g);
  const hard = gather(codebook, tokens, 0); // [B, pn², Cvae]
  const codes = where(reshape(moreSmooth, [B, 1, 1]), softCodes, hard);
  return q.addScaleFromCodes(g, si, codes, fHat);
}

/** A value the scale loop has built by now (the scale range and inputs say so); absent, the builder is wrong. */
function built<T>(v: T | null, what: string): T {
  if (v === null) throw new Error(`generator graph: ${what} is used before it is built`);
  return v;
}

/**
 * sample_version 'old' (§4.2.3c) replaces the request's top-k/top-p on the
 * standard path: top_p = 0.8 at every scale, top_k = 300 at 9 ≤ si < 12 and
 * 100 from si = 12 on. Other versions use the request's values.
 */
export function samplingOverride(cfg: GeneratorConfig, si: number): { topK?: number; topP?: number } {
  if (cfg.sampleVersion !== 'old') return {};
  const topK = si < OLD_TOP_K_FROM ? undefined : si < OLD_TOP_K_LOW_FROM ? OLD_TOP_K : OLD_TOP_K_LOW;
  return { topK, topP: OLD_TOP_P };
}

const OLD_TOP_P = 0.8;
const OLD_TOP_K_FROM = 9;
const OLD_TOP_K = 300;
const OLD_TOP_K_LOW_FROM = 12;
const OLD_TOP_K_LOW = 100;

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

/**
 * Feeds that carry one per-scale run's state into the next (graphs built
 * with first = previous last + 1): present_* → past_*, f_hat, next_input,
 * and the text K/V — handed out by the first run only, so they are kept from
 * `previous` (the feeds this function returned for the run before). Other
 * inputs (text_mask, per-row settings, noise) are the caller's.
 */
export function carriedFeeds<T>(outputs: Record<string, T>, depth: number, previous: Record<string, T> = {}): Record<string, T> {
  const feeds: Record<string, T> = {};
  const carry = (from: string, to: string) => {
    const v = outputs[from] ?? (from === to ? previous[to] : undefined); // only the text K/V keep their name
    if (v !== undefined) feeds[to] = v;
  };
  for (let i = 0; i < depth; i++) {
    carry(names.presentKey(i), names.pastKey(i));
    carry(names.presentValue(i), names.pastValue(i));
    carry(names.crossKey(i), names.crossKey(i));
    carry(names.crossValue(i), names.crossValue(i));
  }
  carry(names.fHat, names.fHatIn);
  carry(names.nextInput, names.nextInputIn);
  return feeds;
}
