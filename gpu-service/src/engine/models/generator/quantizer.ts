// The generator's view of the VQVAE's residual quantizer (STAR-SPEC §4.2.4–6):
// the VQVAE module's `addScale` and `addScaleFromCodes` (the soft-code variant
// the more_smooth path needs) with its weights and config bound.
import type { TensorStore } from '../../weights/tensors.ts';
import type { VqvaeConfig } from '../vqvae/config.ts';
import type { QuantizerOptions } from '../vqvae/quantizer.ts';
import { addScale, addScaleFromCodes } from '../vqvae/quantizer.ts';
import { vaeWeight } from '../vqvae/weights.ts';
import type { Quantizer } from './generator.ts';

export function vqvaeQuantizer(
  vae: TensorStore,
  cfg: VqvaeConfig,
  patchNums: readonly number[],
  options: QuantizerOptions = {},
): Quantizer {
  const scales = [...patchNums];
  return {
    addScale: (g, si, tokens, fHat) => addScale(g, vae, cfg, scales, si, tokens, fHat, options),
    codebook: (g) => vaeWeight(g, vae, 'quantize.embedding.weight', 'float32', [cfg.vocab, cfg.cvae]),
    addScaleFromCodes: (g, si, codes, fHat) => addScaleFromCodes(g, vae, cfg, scales, si, codes, fHat, options),
  };
}
