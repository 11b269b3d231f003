// The generator's view of the VQVAE's residual quantizer (STAR-SPEC §4.2.4–6):
// the VQVAE module's `addScale` with its weights and config bound, plus the
// soft-code variant the more_smooth path needs (the same Up → φ → f_hat →
// AreaDown chain, composed from the VQVAE module's own pieces, starting from
// codes instead of token ids).
import type { Graph, Value } from '../../onnx/graph.ts';
import { add, reshape, transpose } from '../../onnx/ops.ts';
import type { TensorStore } from '../../weights/tensors.ts';
import type { VqvaeConfig } from '../vqvae/config.ts';
import { phiIndexFor } from '../vqvae/config.ts';
import type { QuantizerOptions } from '../vqvae/quantizer.ts';
import { addScale, phi } from '../vqvae/quantizer.ts';
import { areaResize, bicubicUpsample } from '../vqvae/resample.ts';
import { vaeWeight } from '../vqvae/weights.ts';
import type { Quantizer } from './generator.ts';

export function vqvaeQuantizer(vae: TensorStore, cfg: VqvaeConfig, patchNums: readonly number[], options: QuantizerOptions = {}): Quantizer {
  const scales = [...patchNums];
  const S = scales.length;
  const P = scales[S - 1];
  return {
    addScale: (g, si, tokens, fHat) => addScale(g, vae, cfg, scales, si, tokens, fHat, options),
    codebook: (g) => vaeWeight(g, vae, 'quantize.embedding.weight', 'float32', [cfg.vocab, cfg.cvae]),
    addScaleFromCodes: (g: Graph, si: number, codes: Value, fHat: Value | null) => g.scope(`quantize.s${si}`, () => {
      const pn = scales[si];
      const c = cfg.cvae;
      const h = reshape(transpose(codes, [0, 2, 1]), [0, c, pn, pn]);
      const last = si === S - 1;
      const update = phi(g, vae, cfg, phiIndexFor(cfg, si, S), last ? h : bicubicUpsample(h, P), options);
      const next = fHat ? add(fHat, update) : update;
      if (last) return { h, fHat: next };
      const pnNext = scales[si + 1];
      const nextInput = transpose(reshape(areaResize(next, pnNext), [0, c, pnNext * pnNext]), [0, 2, 1]);
      return { h, fHat: next, nextInput };
    }),
  };
}
