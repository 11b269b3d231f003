// VQVAE configuration (STAR-SPEC §1.1, §5): VAR's multi-scale tokenizer.
// Only the decoder side and the residual quantizer's φ convs are used at inference.

export interface VqvaeConfig {
  /** Codebook size V. */
  vocab: number;
  /** Code dimension Cvae = the decoder's z_channels. */
  cvae: number;
  /** Base channel count; level i has ch·chMult[i] channels. */
  ch: number;
  chMult: number[];
  /** ResBlocks per level are numResBlocks + 1 in the decoder. */
  numResBlocks: number;
  /** φ(x) = x·(1 − quantResi) + conv(x)·quantResi. */
  quantResi: number;
  /** 0: one φ per scale; 1: one φ shared by all scales; K ≥ 2: K φ's picked by tick (§1.3). */
  shareQuantResi: number;
  /** AttnBlocks in the lowest-resolution level and in the middle (VAR: both on). */
  usingSa: boolean;
  usingMidSa: boolean;
}

/** GroupNorm everywhere in the decoder: 32 groups, eps 1e-6, affine (§5.2). */
export const GROUP_NORM_GROUPS = 32;
export const GROUP_NORM_EPS = 1e-6;

/** Spatial factor between latent and image: ×2 per level above the first. */
export function downsampleFactor(cfg: VqvaeConfig): number {
  return 2 ** (cfg.chMult.length - 1);
}

/** The `derived.vqvae` object of a fixture's config.json (upstream VQVAE constructor arguments). */
export interface UpstreamVqvaeArgs {
  vocab_size: number;
  z_channels: number;
  ch: number;
  ch_mult: number[];
  num_res_blocks: number;
  quant_resi: number;
  share_quant_resi: number;
  using_sa?: boolean;
  using_mid_sa?: boolean;
  enable_movq?: boolean;
}

/** VAR's released tokenizer `vae_ch160v4096z32.pth`, used by every STAR model (STAR-SPEC §1.1), as its constructor arguments. */
export const RELEASED_VQVAE_ARGS: UpstreamVqvaeArgs = {
  vocab_size: 4096,
  z_channels: 32,
  ch: 160,
  ch_mult: [1, 1, 2, 2, 4],
  num_res_blocks: 2,
  quant_resi: 0.5,
  share_quant_resi: 4,
  using_sa: true,
  using_mid_sa: true,
};

/** The released tokenizer's configuration. */
export const STAR_VQVAE: VqvaeConfig = fromUpstream(RELEASED_VQVAE_ARGS);

export function fromUpstream(args: UpstreamVqvaeArgs): VqvaeConfig {
  if (args.enable_movq) throw new Error("VQVAE config: enable_movq (SpatialNorm decoder) is not supported; STAR uses VAR's plain decoder");
  const cfg: VqvaeConfig = {
    vocab: args.vocab_size,
    cvae: args.z_channels,
    ch: args.ch,
    chMult: [...args.ch_mult],
    numResBlocks: args.num_res_blocks,
    quantResi: args.quant_resi,
    shareQuantResi: args.share_quant_resi,
    usingSa: args.using_sa ?? true,
    usingMidSa: args.using_mid_sa ?? true,
  };
  for (const [k, v] of Object.entries({ vocab: cfg.vocab, cvae: cfg.cvae, ch: cfg.ch })) {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`VQVAE config: ${k} must be a positive integer, got ${v}`);
  }
  // 0 is valid upstream too: the decoder then has one ResBlock per level (star-tiny's choice).
  if (!Number.isInteger(cfg.numResBlocks) || cfg.numResBlocks < 0)
    throw new Error(`VQVAE config: numResBlocks must be a non-negative integer, got ${cfg.numResBlocks}`);
  return cfg;
}

/** numpy.linspace(start, stop, num) in float64, bit for bit (step·i + start, last = stop). */
function linspace(start: number, stop: number, num: number): number[] {
  const step = (stop - start) / (num - 1);
  return Array.from({ length: num }, (_, i) => (num > 1 && i === num - 1 ? stop : i * step + start));
}

/** Number of φ convs the checkpoint holds for a model with `scales` scales. */
export function phiCount(cfg: VqvaeConfig, scales: number): number {
  if (cfg.shareQuantResi === 0) return scales;
  return cfg.shareQuantResi;
}

/** Where upstream places φ's centres on [0, 1] (PhiPartiallyShared / PhiNonShared `ticks`). */
export function phiTicks(count: number): number[] {
  return count === 4 ? linspace(1 / 3 / count, 1 - 1 / 3 / count, count) : linspace(1 / 2 / count, 1 - 1 / 2 / count, count);
}

/**
 * The φ used after scale `si` of `scales` (§1.3): argmin_k |tick_k − si/(S−1)|,
 * first index on ties (np.argmin). With 4 φ's and S = 10: 0,0,1,1,1,2,2,3,3,3.
 */
export function phiIndex(si: number, scales: number, count = 4): number {
  if (count === 1) return 0;
  if (scales < 2) throw new Error(`phiIndex: need at least 2 scales, got ${scales}`);
  const at = si / (scales - 1);
  const ticks = phiTicks(count);
  let best = 0;
  for (let k = 1; k < count; k++) if (Math.abs(ticks[k] - at) < Math.abs(ticks[best] - at)) best = k;
  return best;
}

/** State-dict prefix of φ_k (`quantize.quant_resi.…`), by sharing mode. */
export function phiPrefix(cfg: VqvaeConfig, k: number): string {
  if (cfg.shareQuantResi === 0) return `quantize.quant_resi.${k}`;
  if (cfg.shareQuantResi === 1) return 'quantize.quant_resi.qresi';
  return `quantize.quant_resi.qresi_ls.${k}`;
}

/** φ index for scale si under cfg's sharing mode. */
export function phiIndexFor(cfg: VqvaeConfig, si: number, scales: number): number {
  return phiIndex(si, scales, phiCount(cfg, scales));
}
