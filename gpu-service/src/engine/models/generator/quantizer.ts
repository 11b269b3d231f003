// The generator's view of the VQVAE's residual quantizer (STAR-SPEC §4.2.4–6):
// the VQVAE module's `addScale` and `addScaleFromCodes` (the soft-code variant
// the more_smooth path needs) with its weights and config bound.
import type { Graph } from '../../onnx/graph.ts';
import { GraphWeights } from '../../onnx/graph-weights.ts';
import type { Precision } from '../../onnx/target.ts';
import type { TensorStore } from '../../weights/tensors.ts';
import type { VqvaeConfig } from '../vqvae/config.ts';
import { addScale, addScaleFromCodes, codebook } from '../vqvae/quantizer.ts';
import type { Quantizer } from './generator.ts';

/** `precision` 'fp16': the φ convs run in fp16 (vqvae/quantizer.ts). */
export function vqvaeQuantizer(
  vae: TensorStore,
  cfg: VqvaeConfig,
  patchNums: readonly number[],
  options: { precision?: Precision } = {},
): Quantizer {
  const scales = [...patchNums];
  // one GraphWeights per graph, so each VQVAE weight enters a graph once however many scales use it
  const perGraph = new WeakMap<Graph, GraphWeights>();
  const weights = (g: Graph) => {
    let w = perGraph.get(g);
    if (!w) {
      w = new GraphWeights(g, vae, options.precision ?? 'fp32');
      perGraph.set(g, w);
    }
    return w;
  };
  return {
    addScale: (g, si, tokens, fHat) => addScale(weights(g), cfg, scales, si, tokens, fHat),
    codebook: (g) => codebook(weights(g), cfg),
    addScaleFromCodes: (g, si, codes, fHat) => addScaleFromCodes(weights(g), cfg, scales, si, codes, fHat),
  };
}
