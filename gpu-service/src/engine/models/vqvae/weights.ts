// The VQVAE state-dict layout the engine reads (STAR-SPEC §5.1), described
// once: the decoder graph checks a checkpoint against it, and both random
// stand-ins (random-weights.ts for benches and shape tests, ../random-model.ts
// for model directories) draw their tensors from it, in this order.
import type { VqvaeConfig } from './config.ts';
import { phiCount, phiPrefix } from './config.ts';

/** The quantizer's codebook (V, Cvae). */
export const CODEBOOK = 'quantize.embedding.weight';

/** What a tensor is, which is what a random initialisation needs to know. */
export type VqvaeWeightRole = 'codebook' | 'conv' | 'bias' | 'gain';

export interface VqvaeWeight {
  name: string;
  shape: number[];
  role: VqvaeWeightRole;
}

/** Every key inference reads: the codebook, the φ convs, then `decoderWeights`. */
export function vqvaeWeights(cfg: VqvaeConfig, scales: number): VqvaeWeight[] {
  const phis = Array.from({ length: phiCount(cfg, scales) }, (_, k) => conv(phiPrefix(cfg, k), cfg.cvae, cfg.cvae, 3));
  return [{ name: CODEBOOK, shape: [cfg.vocab, cfg.cvae], role: 'codebook' }, ...phis.flat(), ...decoderWeights(cfg)];
}

/** post_quant_conv and the decoder: the keys the decoder graph reads. */
export function decoderWeights(cfg: VqvaeConfig): VqvaeWeight[] {
  const out: VqvaeWeight[] = [];
  const res = (prefix: string, cin: number, cout: number) => {
    out.push(...norm(`${prefix}.norm1`, cin), ...conv(`${prefix}.conv1`, cout, cin, 3));
    out.push(...norm(`${prefix}.norm2`, cout), ...conv(`${prefix}.conv2`, cout, cout, 3));
    if (cin !== cout) out.push(...conv(`${prefix}.nin_shortcut`, cout, cin, 1));
  };
  const attn = (prefix: string, c: number) => {
    out.push(...norm(`${prefix}.norm`, c), ...conv(`${prefix}.qkv`, 3 * c, c, 1), ...conv(`${prefix}.proj_out`, c, c, 1));
  };
  const levels = cfg.chMult.length;
  let blockIn = cfg.ch * cfg.chMult[levels - 1];
  out.push(...conv('post_quant_conv', cfg.cvae, cfg.cvae, 3), ...conv('decoder.conv_in', blockIn, cfg.cvae, 3));
  res('decoder.mid.block_1', blockIn, blockIn);
  if (cfg.usingMidSa) attn('decoder.mid.attn_1', blockIn);
  res('decoder.mid.block_2', blockIn, blockIn);
  for (let lvl = levels - 1; lvl >= 0; lvl--) {
    const blockOut = cfg.ch * cfg.chMult[lvl];
    for (let j = 0; j <= cfg.numResBlocks; j++) {
      res(`decoder.up.${lvl}.block.${j}`, blockIn, blockOut);
      blockIn = blockOut;
      if (lvl === levels - 1 && cfg.usingSa) attn(`decoder.up.${lvl}.attn.${j}`, blockIn);
    }
    if (lvl !== 0) out.push(...conv(`decoder.up.${lvl}.upsample.conv`, blockIn, blockIn, 3));
  }
  out.push(...norm('decoder.norm_out', blockIn), ...conv('decoder.conv_out', 3, blockIn, 3));
  return out;
}

function conv(prefix: string, cout: number, cin: number, k: number): VqvaeWeight[] {
  return [
    { name: `${prefix}.weight`, shape: [cout, cin, k, k], role: 'conv' },
    { name: `${prefix}.bias`, shape: [cout], role: 'bias' },
  ];
}

/** GroupNorm's γ and β. */
function norm(prefix: string, c: number): VqvaeWeight[] {
  return [
    { name: `${prefix}.weight`, shape: [c], role: 'gain' },
    { name: `${prefix}.bias`, shape: [c], role: 'bias' },
  ];
}
