// "Causal-driven stable sampling" (STAR-SPEC §4.5): at scales si ≥
// sampleFromIdx a model with the sampler head commits its pn² tokens over
// several steps instead of all at once.
//
//   state: filled ∈ {0,1}^(B×N) = 0, tokens (B, N)                N = pn²
//          (e = codebook[tokens]·filled is upstream's accumulated h_BChw)
//   for step i (k_i tokens, the arccos schedule):
//     VAR-head branch (sample_version '1024', i < 5, si < 13):
//       cand, conf = sample(CFG_t(logits(h)));  Fill(conf, k_i)
//     sampler-head branch (otherwise):
//       T = encoder_proj2(pooled) + pos_start_last
//       F = [T, word_embed_head(e·filled) + lvl_embed_2[si]],  P = [T, h]
//       G = 3 × feat_extract_block(head_proj([F | P]))
//       cand, conf = sample(CFG_cfg(head_logits2(LN(G))[:, 1:]))
//     common: Fill((i < 5 ? U_i : conf)·(1 − filled), k_i)
//   Fill(score, k): the k best positions (lower index on ties) become filled;
//   those that were empty take their candidate token.
//
// Random draws are explicit graph inputs (STAR-SPEC §7, random.ts's plan):
// `noise.s{si}.k{i}` (B, N) for each step's token draw (sampling.ts's
// inverse CDF) and `position_noise.s{si}.k{i}` (B, N) for U_i at steps i < 5.
import type { Graph, Value } from '../../onnx/graph.ts';
import {
  add,
  cast,
  concat,
  constant,
  equal,
  gather,
  gatherElements,
  greater,
  max,
  mul,
  reduceMax,
  reshape,
  slice,
  softmax,
  sub,
  topK,
  unsqueeze,
  where,
} from '../../onnx/ops.ts';
import type { GraphWeights } from '../../onnx/graph-weights.ts';
import { dense } from '../../onnx/graph-weights.ts';
import type { AttentionImpl } from './blocks.ts';
import { ffn, norm, ropeConstants, selfAttention } from './blocks.ts';
import type { GeneratorConfig, SampleVersion } from './config.ts';
import type { SamplerPath } from './generator.ts';
import { scaleRatio } from './config.ts';
import { ropeFactors } from './rope.ts';
import type { PrefixSum } from './sampling.ts';
import { cfgMix, sampleInverseCdf, topKTopPFilter } from './sampling.ts';

// ---------------------------------------------------------------- schedule (pure TS)

/** Upstream's step counts and branch thresholds (var_drop.py, autoregressive_infer_cfg). */
const STEPS = 8;
const VERSION_1024 = {
  /** Scales with si > 12 (pn 48→64 at 1024) take 15 steps. */
  manyStepsAboveSi: 12,
  manySteps: 15,
  /** The VAR-head branch: steps < 5 of scales si < 13. */
  varHeadSteps: 5,
  varHeadBelowSi: 13,
};
/** Steps i < 5 choose their positions from uniform noise (every version). */
export const POSITION_NOISE_STEPS = 5;

export type SamplerBranch = 'var-head' | 'sampler-head';

export interface SamplerStep {
  /** Tokens committed by this step's schedule entry k_i. */
  count: number;
  branch: SamplerBranch;
  /** Whether the common fill ranks positions by `position_noise` (else by confidence). */
  positionNoise: boolean;
}

/** Steps of the masked path at scale si. */
export function samplerStepCount(version: SampleVersion, si: number): number {
  return version === '1024' && si > VERSION_1024.manyStepsAboveSi ? VERSION_1024.manySteps : STEPS;
}

/** Steps of scale si that take the VAR-head branch (the first ones; only with sample_version '1024'). */
export function varHeadStepCount(version: SampleVersion, si: number): number {
  if (version !== '1024' || si >= VERSION_1024.varHeadBelowSi) return 0;
  return Math.min(VERSION_1024.varHeadSteps, samplerStepCount(version, si));
}

/** torch.round: round half to even. */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d !== 0.5) return d < 0.5 ? f : f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Tokens per step for an N = pn² map (utils/mask_utils.py, arccos mode):
 * u_i = arccos(r_i)/(π/2) with r = linspace(1, 0, steps), k_i = round(u_i/Σu·N)
 * (half to even), k_i = 0 → 1, the last step absorbs the remainder.
 */
export function maskSchedule(pn: number, steps: number): number[] {
  const tokens = pn * pn;
  const u = Array.from({ length: steps }, (_, i) => Math.acos(steps === 1 ? 1 : 1 - i / (steps - 1)) / (Math.PI / 2));
  const total = u.reduce((s, x) => s + x, 0);
  const k = u.map((ui) => Math.max(1, roundHalfEven((ui / total) * tokens)));
  k[steps - 1] += tokens - k.reduce((s, x) => s + x, 0);
  if (k[steps - 1] < 1)
    throw new Error(`mask schedule: ${steps} steps cannot fill a ${pn}×${pn} map (last step gets ${k[steps - 1]} tokens)`);
  return k;
}

/** The steps of scale si (side pn): counts, branch and position source of each. */
export function samplerSteps(version: SampleVersion, si: number, pn: number): SamplerStep[] {
  const varHeadSteps = varHeadStepCount(version, si);
  return maskSchedule(pn, samplerStepCount(version, si)).map((count, i) => ({
    count,
    branch: i < varHeadSteps ? 'var-head' : 'sampler-head',
    positionNoise: i < POSITION_NOISE_STEPS,
  }));
}

/** What the pipeline's noise plan needs (random.ts NoisePlanConfig.sampler). */
export function samplerNoisePlan(
  fromIdx: number,
  version: SampleVersion,
): { fromIdx: number; stepsAt: (si: number) => number; positionNoiseSteps: number } {
  return { fromIdx, stepsAt: (si) => samplerStepCount(version, si), positionNoiseSteps: POSITION_NOISE_STEPS };
}

export function tokenNoiseName(si: number, step: number): string {
  return `noise.s${si}.k${step}`;
}

export function positionNoiseName(si: number, step: number): string {
  return `position_noise.s${si}.k${step}`;
}

// ---------------------------------------------------------------- Fill (graph)

export interface MaskState {
  /** (B, N) float32, 1 where a position has its token. */
  filled: Value;
  /** (B, N) int64: the committed token of each filled position (0 elsewhere). */
  tokens: Value;
}

/**
 * Commits the k highest-scoring positions of each row (TopK: lower index on
 * ties). Positions already filled keep their token: only a 0 → 1 change takes
 * the candidate, as upstream's `h += cand·(mask − mask_before)`.
 */
export function fill(state: MaskState | null, score: Value, k: number, candidates: Value): MaskState & { chosen: Value } {
  const g = score.graph;
  const N = score.dim(-1);
  if (N === undefined) throw new Error(`fill: positions of ${score} must be static`);
  const [, chosen] = topK(score, k, -1); // (B, k)
  const positions = constant(
    g,
    BigInt64Array.from({ length: N }, (_, i) => BigInt(i)),
    [1, 1, N],
    'int64',
    'positions',
  );
  const picked = reduceMax(cast(equal(unsqueeze(chosen, [2]), positions), 'float32'), [1], false); // (B, N)
  const before = state ?? { filled: mul(picked, 0), tokens: mul(candidates, 0) };
  const filled = max(before.filled, picked);
  const added = greater(filled, before.filled);
  return { filled, tokens: where(added, candidates, before.tokens), chosen };
}

// ---------------------------------------------------------------- one scale (graph)

export interface SamplerScaleContext {
  cfg: GeneratorConfig;
  weights: GraphWeights;
  impl: AttentionImpl;
  si: number;
  /** Main-stack output of this scale, (2B, N, C) fp32, before the logit norm. */
  hidden: Value;
  /** The main head's logits of `hidden`, (2B, N, V) fp32: the VAR-head branch's z. */
  logits: Value;
  /** Pooled text, (2B, textDim) fp32. */
  pooled: Value;
  /** VQ codebook, (V, Cvae) fp32. */
  codebook: Value;
  /** Per-row settings (graph inputs): cfg [B] f32, top_k [B] int64, top_p [B] f32. */
  cfgScale: Value;
  topK: Value;
  topP: Value;
  /** Running sums of the filter and the draw (sampling.ts); default 'sequential'. */
  prefixSum?: PrefixSum;
  /**
   * Teacher forcing (star check): these tokens (B, N) int64 replace every
   * draw of the scale; conf is still π[token]. No token-noise inputs then.
   */
  teacherForcedTokens?: Value;
}

export interface SamplerScaleResult {
  /** The committed token of every position, (B, N) int64. */
  tokens: Value;
  /** The intermediate tensors under the fixtures' names (`s{si}.k{i}.mixed_logits`, …). */
  checks: Record<string, Value>;
}

/**
 * The masked path at one scale (STAR-SPEC §4.5). Adds the graph inputs
 * `noise.s{si}.k{i}` (B, N) per step (unless teacher-forced) and
 * `position_noise.s{si}.k{i}` (B, N) for steps i < 5.
 */
export function samplerScale(ctx: SamplerScaleContext): SamplerScaleResult {
  const { cfg, si, hidden } = ctx;
  const g = hidden.graph;
  const pn = cfg.patchNums[si];
  const N = pn * pn;
  const B = ctx.cfgScale.size(0);
  if (!cfg.hasSamplerHead) throw new Error(`scale ${si}: the masked sampler path needs a model with the sampler head`);
  if (hidden.dim(0) !== 2 * B || hidden.dim(1) !== N)
    throw new Error(`sampler scale ${si}: hidden is ${hidden}, expected [${2 * B}, ${N}, ${cfg.width}]`);
  const checks: Record<string, Value> = {};
  const steps = samplerSteps(cfg.sampleVersion, si, pn);

  // Token choice from mixed logits (B, N, V): filter, softmax, draw (or force).
  // The VAR-head steps share one distribution, so its filter runs once.
  const distributions = new Map<Value, Value>();
  const choose = (mixed: Value, step: number) => {
    let probs = distributions.get(mixed);
    if (!probs) {
      probs = softmax(topKTopPFilter(mixed, ctx.topK, ctx.topP, ctx.prefixSum), -1);
      distributions.set(mixed, probs);
    }
    const forced = ctx.teacherForcedTokens;
    if (forced) return { tokens: forced, conf: reshape(gatherElements(probs, unsqueeze(forced, [2]), 2), [B, N]) };
    return sampleInverseCdf(probs, g.input(tokenNoiseName(si, step), 'float32', [B, N]), ctx.prefixSum);
  };

  // The VAR-head branch mixes the main logits with this scale's t, the same at every step.
  let varHeadMixed: Value | undefined;
  let head: SamplerHead | undefined;
  let state: MaskState | null = null;
  for (const [i, step] of steps.entries()) {
    g.scope(`sampler.k${i}`, () => {
      const check = (name: string, v: Value) => {
        checks[`s${si}.k${i}.${name}`] = v;
      };
      let mixed: Value;
      if (step.branch === 'var-head') {
        mixed = varHeadMixed ??= cfgMix(ctx.logits, ctx.cfgScale, scaleRatio(cfg, si));
      } else {
        head ??= samplerHead(ctx);
        const { feature, prev, logits } = head.logits(state);
        check('head_feature', feature);
        check('head_prev_emb', prev);
        check('head_logits', logits);
        mixed = cfgMix(slice(logits, [1], [N + 1], [1]), ctx.cfgScale, 1); // the full cfg (§6.6)
      }
      const { tokens: candidates, conf } = choose(mixed, i);
      check('mixed_logits', mixed);
      check('conf', reshape(conf, [B, N, 1]));
      let round = 0;
      const commit = (score: Value) => {
        const next = fill(state, score, step.count, candidates);
        check(`topk${round}.score`, score);
        check(`topk${round}.idx`, next.chosen);
        round++;
        state = { filled: next.filled, tokens: next.tokens };
      };
      if (step.branch === 'var-head') commit(conf); // the k most confident over all positions, filled or not
      const rank = step.positionNoise ? g.input(positionNoiseName(si, i), 'float32', [B, N]) : conf;
      commit(state ? mul(rank, sub(1, state.filled)) : rank);
    });
  }
  // `state` is assigned inside the scope callbacks, which TypeScript's narrowing does not follow.
  const filled = state as MaskState | null;
  if (!filled) throw new Error(`sampler scale ${si}: no sampling steps`);
  return { tokens: filled.tokens, checks };
}

interface SamplerHead {
  /** F, P and the head's logits (2B, 1+N, V) for the current fill state. */
  logits(state: MaskState | null): { feature: Value; prev: Value; logits: Value };
}

/**
 * The sampler head (STAR-SPEC §4.5). Per-scale constants (T, the P half of
 * head_proj, RoPE) are built once; `logits` adds the per-step part:
 *   F = [T, word_embed_head(e·filled) + lvl_embed_2[si]],  P = [T, h]
 *   G = head_proj([F | P]) = F·W_Fᵀ + (P·W_Pᵀ + b)
 *   G ← G + SelfAttn(LN G);  G ← G + FFN(LN G)     (3 feat_extract_blocks,
 *                                                   RoPE [scale 0, this scale])
 *   logits = head_logits2(LN_logit(G))
 * Precision follows the main stack: head_proj and the blocks at the compute
 * precision, embeddings and head_logits2 in fp32 like their main counterparts.
 */
function samplerHead(ctx: SamplerScaleContext): SamplerHead {
  const { cfg, weights: w, si, hidden } = ctx;
  const g = hidden.graph;
  const C = cfg.width;
  const pn = cfg.patchNums[si];
  const N = pn * pn;
  const B = ctx.cfgScale.size(0);
  const S = cfg.patchNums.length;

  const textToken = g.scope('sampler.text', () =>
    add(dense(w, unsqueeze(ctx.pooled, [1]), 'encoder_proj2', C, cfg.textDim, { at: 'float32' }), w.float32('pos_start_last', [1, 1, C])),
  ); // (2B, 1, C)
  const prev = concat([textToken, hidden], 1);
  const prevProjected = dense(w, prev, 'head_proj', C, 2 * C, { columns: [C, 2 * C] });
  const level = slice(w.float32('lvl_embed_2.weight', [S, C]), [si], [si + 1], [0]); // (1, C)
  const rope = ropeConstants(g, ropeFactors(cfg, [1, pn]), cfg.headDim, `rope.sampler.s${si}`);

  return {
    logits(state) {
      // e·filled: the committed codes, zero at empty positions (which then contribute only word_embed_head's bias).
      const code = state
        ? mul(gather(ctx.codebook, state.tokens), unsqueeze(state.filled, [2]))
        : constant(g, new Float32Array(B * N * cfg.cvae), [B, N, cfg.cvae], 'float32', 'no_codes');
      const words = dense(w, code, 'word_embed_head', C, cfg.cvae, { at: 'float32' });
      const feature = concat([textToken, add(concat([words, words], 0), level)], 1); // (2B, 1+N, C)
      let x = add(dense(w, feature, 'head_proj', C, 2 * C, { bias: null, columns: [0, C] }), prevProjected);
      for (let j = 0; j < FEAT_EXTRACT_BLOCKS; j++) {
        const p = `feat_extract_blocks.${j}`;
        x = add(
          x,
          g.scope(`${p}.attn`, () => selfAttention(w, `${p}.attn`, cfg, norm(cfg, x), rope, null, ctx.impl).out),
        );
        x = add(
          x,
          g.scope(`${p}.ffn`, () => ffn(w, `${p}.ffn`, cfg, norm(cfg, x))),
        );
      }
      const logits = dense(w, norm(cfg, x), 'head_logits2', cfg.vocabSize, C, { at: 'float32' });
      return { feature, prev, logits };
    },
  };
}

/** Upstream's encoder_depth for feat_extract_blocks. */
const FEAT_EXTRACT_BLOCKS = 3;

// ---------------------------------------------------------------- generator hook

/**
 * The generator's `samplerPath` (generator.ts) for models with the sampler
 * head: `codebook` is the VQVAE quantizer's (V, Cvae) table in this graph.
 */
export function createSamplerPath(options: { codebook: (g: Graph) => Value; attention?: AttentionImpl }): SamplerPath {
  return (ctx) =>
    samplerScale({
      cfg: ctx.cfg,
      weights: ctx.weights,
      impl: options.attention ?? 'fused',
      si: ctx.si,
      hidden: ctx.hidden,
      logits: ctx.logits,
      pooled: ctx.pooled,
      codebook: options.codebook(ctx.graph),
      cfgScale: ctx.cfgScale,
      topK: ctx.topK,
      topP: ctx.topP,
      prefixSum: ctx.prefixSum,
      teacherForcedTokens: ctx.teacherForcedTokens,
    });
}

// ---------------------------------------------------------------- star check support

/**
 * The recorded position noise for a `position_noise.s{si}.k{i}` input: a
 * fixture's `s{si}.k{i}.mask_rand` (B, N, 1) is upstream's U_i, so replaying
 * it reproduces upstream's mask. Undefined for other names.
 */
export function positionNoiseReference(inputName: string): string | undefined {
  const m = /^position_noise\.(s\d+\.k\d+)$/.exec(inputName);
  return m ? `${m[1]}.mask_rand` : undefined;
}

/**
 * Compares TopK positions (`….topk{r}.idx`, (B, k)) with their reference,
 * given the reference scores (`….topk{r}.score`, (B, N)). Positions with a
 * positive score must match exactly; where the score is 0 (an already-filled
 * position: committing it is a no-op) torch's order among the tied zeros is
 * arbitrary, so any zero-score position is accepted. With `rtol` > 0 (checks
 * below fp32), a position whose reference score is within rtol × max(1,
 * max|score| of its row) of the expected one's is accepted too: the order of
 * near-equal scores is then arbitrary as well. Returns the mismatches.
 */
export function topkIndexMismatches(got: BigInt64Array, want: BigInt64Array, score: Float32Array, rows: number, rtol = 0): number {
  const k = want.length / rows;
  const N = score.length / rows;
  let mismatches = 0;
  for (let r = 0; r < rows; r++) {
    const row = score.subarray(r * N, (r + 1) * N);
    const tolerance = rtol > 0 ? rtol * Math.max(1, ...row.map(Math.abs)) : 0;
    for (let j = 0; j < k; j++) {
      const w = Number(want[r * k + j]);
      const g = Number(got[r * k + j]);
      const valid = g >= 0 && g < N;
      const ok = g === w || (valid && (row[w] > 0 ? rtol > 0 && Math.abs(row[g] - row[w]) <= tolerance : row[g] === 0));
      if (!ok) mismatches++;
    }
  }
  return mismatches;
}
