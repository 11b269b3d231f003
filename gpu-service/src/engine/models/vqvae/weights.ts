// VQVAE weights as graph initializers, named by their upstream state-dict keys.
// A graph that asks for the same key twice (the φ convs and the codebook are used
// at several scales) gets the same initializer back.
import type { DType } from '../../onnx/dtype.ts';
import type { Graph, Value } from '../../onnx/graph.ts';
import type { TensorStore } from '../../weights/tensors.ts';

const perGraph = new WeakMap<Graph, Map<string, Value>>();

/** `name` from the VQVAE state dict as an initializer of `dtype`, checked against `shape`. */
export function vaeWeight(g: Graph, vae: TensorStore, name: string, dtype: DType, shape: readonly number[]): Value {
  let known = perGraph.get(g);
  if (!known) {
    known = new Map();
    perGraph.set(g, known);
  }
  const key = `${name}:${dtype}`;
  let v = known.get(key);
  if (!v) {
    v = g.initializer(name, vae.as(name, dtype, shape));
    known.set(key, v);
  }
  return v;
}
