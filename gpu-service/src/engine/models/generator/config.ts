// The STAR generator's configuration (STAR-SPEC §1, §3): everything the graph
// builder needs, read once and passed down. `fromUpstreamArgs` turns upstream's
// `build_vae_var` keyword arguments (as fixture config.json files record them)
// into this shape and rejects flag combinations this port does not implement.

/** Which branch thresholds the sampler path uses (STAR-SPEC §4.5). */
export type SampleVersion = '1024' | 'new' | 'old';

export interface GeneratorConfig {
  depth: number;
  /** Model width C. */
  width: number;
  heads: number;
  /** Always 64 upstream (width = 64·depth, heads = depth). */
  headDim: number;
  /** FFN hidden size, round(4·C). */
  mlpHidden: number;
  /** Codebook size V. */
  vocabSize: number;
  /** VQ code dimension Cvae. */
  cvae: number;
  /** Text hidden size (upstream in_dim_cross). */
  textDim: number;
  /** Text tokens per row (CLIP pads to 77). */
  textLength: number;
  /** Side of the token map at each scale; patchNums[0] must be 1. */
  patchNums: readonly number[];
  ropeTheta: number;
  /** Every scale with pn > 1 spans the grid [0, ropeNorm] (STAR-SPEC §3.3). */
  ropeNorm: number;
  /** eps of every affine-free LayerNorm. */
  normEps: number;
  /** LayerNorm before head_logits (enable_logit_norm). */
  logitNorm: boolean;
  /** The sampler head of STAR-SPEC §4.5 (upstream enable_adaptive_norm). */
  hasSamplerHead: boolean;
  /** First scale index that may take the sampler path. */
  sampleFromIdx: number;
  sampleVersion: SampleVersion;
}

/** Upstream `build_vae_var` arguments as fixture config.json records them (only the ones read here). */
export interface UpstreamBuildArgs {
  patch_nums: number[];
  V: number;
  Cvae: number;
  depth: number;
  in_dim_cross: number;
  shared_aln?: boolean;
  attn_l2_norm?: boolean;
  enable_cross?: boolean;
  rope_emb?: boolean;
  lvl_emb?: boolean;
  rope_norm?: number;
  rope_theta?: number;
  enable_logit_norm?: boolean;
  enable_adaptive_norm?: boolean;
  sample_from_idx?: number;
  [other: string]: unknown;
}

const HEAD_DIM = 64;
const MLP_RATIO = 4;
const NORM_EPS = 1e-6;
const CLIP_TEXT_LENGTH = 77;

/**
 * GeneratorConfig from upstream's build arguments. width = 64·depth and heads
 * = depth as build_vae_var fixes them; defaults are upstream's for the flags
 * a config may omit.
 */
export function fromUpstreamArgs(
  args: UpstreamBuildArgs,
  inference: { sampleVersion?: SampleVersion; textLength?: number } = {},
): GeneratorConfig {
  const unsupported: string[] = [];
  if (args.shared_aln) unsupported.push('shared_aln=true (AdaLN modulation)');
  if (args.attn_l2_norm === false) unsupported.push('attn_l2_norm=false');
  if (args.enable_cross === false) unsupported.push('enable_cross=false');
  if (args.rope_emb === false) unsupported.push('rope_emb=false (absolute position embedding)');
  if (args.lvl_emb === false) unsupported.push('lvl_emb=false');
  if (unsupported.length) throw new Error(`generator config: unsupported upstream flags: ${unsupported.join(', ')}`);
  const width = HEAD_DIM * args.depth;
  const cfg: GeneratorConfig = {
    depth: args.depth,
    width,
    heads: args.depth,
    headDim: HEAD_DIM,
    mlpHidden: Math.round(MLP_RATIO * width),
    vocabSize: args.V,
    cvae: args.Cvae,
    textDim: args.in_dim_cross,
    textLength: inference.textLength ?? CLIP_TEXT_LENGTH,
    patchNums: [...args.patch_nums],
    ropeTheta: args.rope_theta ?? 10000,
    ropeNorm: args.rope_norm ?? 64,
    normEps: NORM_EPS,
    logitNorm: args.enable_logit_norm ?? true,
    hasSamplerHead: args.enable_adaptive_norm ?? false,
    sampleFromIdx: args.sample_from_idx ?? 9,
    sampleVersion: inference.sampleVersion ?? '1024',
  };
  validateConfig(cfg);
  return cfg;
}

export function validateConfig(cfg: GeneratorConfig): void {
  const problems: string[] = [];
  if (cfg.width !== cfg.heads * cfg.headDim) problems.push(`width ${cfg.width} ≠ heads ${cfg.heads} × headDim ${cfg.headDim}`);
  if (cfg.headDim % 4 !== 0) problems.push(`headDim ${cfg.headDim} must be a multiple of 4 for 2D RoPE`);
  if (cfg.patchNums[0] !== 1) problems.push(`patchNums must start with 1 (first_l = 1), got ${cfg.patchNums[0]}`);
  if (cfg.patchNums.length < 2) problems.push('need at least two scales');
  if (problems.length) throw new Error(`generator config: ${problems.join('; ')}`);
}

// ---------------------------------------------------------------- derived values

export function scaleCount(cfg: GeneratorConfig): number {
  return cfg.patchNums.length;
}

/** Tokens at scale si (pn²). */
export function scaleTokens(cfg: GeneratorConfig, si: number): number {
  return cfg.patchNums[si] ** 2;
}

/** Index of the first token of scale si in the full sequence (upstream begin_ends[si][0]). */
export function scaleOffset(cfg: GeneratorConfig, si: number): number {
  let offset = 0;
  for (let s = 0; s < si; s++) offset += scaleTokens(cfg, s);
  return offset;
}

/** L = Σ pn². */
export function totalTokens(cfg: GeneratorConfig): number {
  return scaleOffset(cfg, scaleCount(cfg));
}

/** si/(S−1) in double precision, as upstream's `ratio`. */
export function scaleRatio(cfg: GeneratorConfig, si: number): number {
  return si / (scaleCount(cfg) - 1);
}

/** First scale taking the sampler path (STAR-SPEC §4.2.3); Infinity without the sampler head. */
export function samplerFromIdx(cfg: GeneratorConfig): number {
  return cfg.hasSamplerHead ? cfg.sampleFromIdx : Infinity;
}

/**
 * Every key of the generator's state dict with its shape (STAR-SPEC §3.1), in
 * upstream's order: for checking a checkpoint, and for stand-in weights.
 * `class_emb` is unused but present in every checkpoint.
 */
export function generatorWeightShapes(cfg: GeneratorConfig): Map<string, number[]> {
  const { width: C, heads: H, vocabSize: V, cvae, textDim: D, mlpHidden: M } = cfg;
  const S = scaleCount(cfg);
  const shapes = new Map<string, number[]>();
  const attention = (p: string) => {
    shapes.set(`${p}.scale_mul_1H11`, [1, H, 1, 1]);
    shapes.set(`${p}.q_bias`, [C]);
    shapes.set(`${p}.v_bias`, [C]);
    shapes.set(`${p}.zero_k_bias`, [C]);
    shapes.set(`${p}.mat_qkv.weight`, [3 * C, C]);
    shapes.set(`${p}.proj.weight`, [C, C]);
    shapes.set(`${p}.proj.bias`, [C]);
  };
  const ffn = (p: string) => {
    shapes.set(`${p}.fc1.weight`, [M, C]);
    shapes.set(`${p}.fc1.bias`, [M]);
    shapes.set(`${p}.fc2.weight`, [C, M]);
    shapes.set(`${p}.fc2.bias`, [C]);
  };
  shapes.set('pos_start', [1, 1, C]);
  shapes.set('word_embed.weight', [C, cvae]);
  shapes.set('word_embed.bias', [C]);
  shapes.set('class_emb.weight', [1001, C]);
  shapes.set('lvl_embed.weight', [S, C]);
  for (let i = 0; i < cfg.depth; i++) {
    const p = `blocks.${i}`;
    attention(`${p}.attn`);
    shapes.set(`${p}.cross_attn.scale_mul_1H11`, [1, H, 1, 1]);
    shapes.set(`${p}.cross_attn.q_bias`, [C]);
    shapes.set(`${p}.cross_attn.v_bias`, [C]);
    shapes.set(`${p}.cross_attn.zero_k_bias`, [C]);
    shapes.set(`${p}.cross_attn.mat_kv.weight`, [2 * C, D]);
    shapes.set(`${p}.cross_attn.mat_q.weight`, [C, C]);
    shapes.set(`${p}.cross_attn.proj.weight`, [C, C]);
    shapes.set(`${p}.cross_attn.proj.bias`, [C]);
    ffn(`${p}.ffn`);
  }
  shapes.set('head_logits.weight', [V, C]);
  shapes.set('head_logits.bias', [V]);
  shapes.set('encoder_proj.weight', [C, D]);
  shapes.set('encoder_proj.bias', [C]);
  if (cfg.hasSamplerHead) {
    shapes.set('word_embed_head.weight', [C, cvae]);
    shapes.set('word_embed_head.bias', [C]);
    for (let i = 0; i < 3; i++) {
      attention(`feat_extract_blocks.${i}.attn`);
      ffn(`feat_extract_blocks.${i}.ffn`);
    }
    shapes.set('pos_start_last', [1, 1, C]);
    shapes.set('head_logits2.weight', [V, C]);
    shapes.set('head_logits2.bias', [V]);
    shapes.set('head_proj.weight', [C, 2 * C]);
    shapes.set('head_proj.bias', [C]);
    shapes.set('encoder_proj2.weight', [C, D]);
    shapes.set('encoder_proj2.bias', [C]);
    shapes.set('lvl_embed_2.weight', [S, C]);
  }
  return shapes;
}
