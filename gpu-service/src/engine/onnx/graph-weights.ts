// How a model's weights enter a graph, and the one dense (torch Linear)
// layer built on them. Every graph builder (generator, sampler head, CLIP
// text encoder, VQVAE decoder and quantizer) asks a GraphWeights for its
// weights by state-dict key; each key is emitted once per graph and dtype.
import type { DType } from './dtype.ts';
import { convertFloatBytes, numel } from './dtype.ts';
import type { Graph, Value } from './graph.ts';
import { cast, dynamicQuantizeMatMul, gemmTransB, int64s, reshape, reshapeTo, slice } from './ops.ts';
import type { QuantizedLinear } from './quantize.ts';
import { quantizeLinear } from './quantize.ts';
import type { RuntimeTensor } from './runtime.ts';
import { tensor } from './runtime.ts';
import type { Precision } from './target.ts';
import { computeDType } from './target.ts';
import type { TensorStore } from '../weights/tensors.ts';

/**
 * How weights enter a graph. `initializers`: stored in the graph (the disk
 * cache holds them; onnxruntime loads them per session). `inputs`: every
 * weight is a graph input named by `weightInputName`, fed at run time from one
 * in-memory copy (`WeightFeeder`), so the per-scale sessions share a single
 * copy of the weights instead of loading one each (CPU per-scale mode).
 */
export type WeightBinding = 'initializers' | 'inputs';

/** Graph input name of a weight: `weights/<state-dict key>@<dtype>`. */
export function weightInputName(name: string, dtype: DType): string {
  return `weights/${name}@${dtype}`;
}

const WEIGHT_INPUT = /^weights\/(.+)@(\w+)$/;

export interface GraphWeightsOptions {
  binding?: WeightBinding;
  /** Prepended to every key asked for (Hugging Face's optional `text_model.`). */
  keyPrefix?: string;
}

/**
 * A model's weights in one graph, each emitted once per (key, dtype): as
 * initializers read lazily from the TensorStore when the graph is
 * serialized, or as inputs (see WeightBinding). `matrix` follows the compute
 * precision; `float32` is always fp32.
 */
export class GraphWeights {
  readonly graph: Graph;
  readonly store: TensorStore;
  readonly precision: Precision;
  /** The compute precision's element type. */
  readonly dtype: DType;
  readonly binding: WeightBinding;
  readonly keyPrefix: string;
  private readonly emitted = new Map<string, Value>();
  private readonly quantized = new Map<string, { values: Value; scales: Value }>();

  constructor(graph: Graph, store: TensorStore, precision: Precision, options: GraphWeightsOptions = {}) {
    this.graph = graph;
    this.store = store;
    this.precision = precision;
    this.dtype = computeDType(precision);
    this.binding = options.binding ?? 'initializers';
    this.keyPrefix = options.keyPrefix ?? '';
  }

  /** A weight at the compute precision, or at `dtype` (matrices, convolutions, embeddings and their biases). */
  matrix(name: string, shape: number[], dtype: DType = this.dtype): Value {
    return this.emit(name, dtype, shape);
  }

  /** A weight kept in fp32 whatever the precision (norm parameters, codebooks, per-head scales). */
  float32(name: string, shape: number[]): Value {
    return this.emit(name, 'float32', shape);
  }

  /**
   * A torch Linear weight quantized for 'int8' (onnx/quantize.ts): int8 (in,
   * out) values and fp32 (out) scales, computed from the stored weight when the
   * graph is serialized. Initializers only: the pool maps the int8 bytes, and no
   * fp32 copy of the matrix reaches a session.
   */
  quantizedLinearWeight(name: string, outFeatures: number, inFeatures: number): { values: Value; scales: Value } {
    const full = this.keyPrefix + name;
    const emitted = this.quantized.get(full);
    if (emitted) return emitted;
    if (this.binding === 'inputs') throw new Error(`${full}: int8 weights enter a graph as initializers only, not as weight inputs`);
    this.store.get(full, [outFeatures, inFeatures]);
    // Values and scales come from one pass; the first read computes both and the second takes the kept half.
    let kept: QuantizedLinear | undefined;
    const part = <K extends keyof QuantizedLinear>(k: K): Uint8Array => {
      const q = kept ?? quantizeLinear(this.store.float32(full), outFeatures, inFeatures);
      kept = kept ? undefined : q;
      return new Uint8Array(q[k].buffer);
    };
    const values = this.graph.initializer(`${full}.T.int8`, {
      dtype: 'int8',
      shape: [inFeatures, outFeatures],
      bytes: () => part('values'),
    });
    const scales = this.graph.initializer(`${full}.int8_scales`, { dtype: 'float32', shape: [outFeatures], bytes: () => part('scales') });
    this.quantized.set(full, { values, scales });
    return { values, scales };
  }

  /**
   * A weight computed from stored ones (a folded kernel), at the compute precision: `compute`
   * runs when the graph is serialized. Initializers only.
   */
  derived(name: string, shape: number[], compute: (store: TensorStore) => Float32Array): Value {
    const full = this.keyPrefix + name;
    const key = weightInputName(full, this.dtype);
    let v = this.emitted.get(key);
    if (!v) {
      if (this.binding === 'inputs') throw new Error(`${full}: derived weights enter a graph as initializers only`);
      const bytes = () => {
        const values = compute(this.store);
        if (values.length !== numel(shape)) throw new Error(`${full}: computed ${values.length} values for shape [${shape}]`);
        return convertFloatBytes(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), 'float32', this.dtype);
      };
      v = this.graph.initializer(full, { dtype: this.dtype, shape, bytes });
      this.emitted.set(key, v);
    }
    return v;
  }

  private emit(name: string, dtype: DType, shape: number[]): Value {
    const full = this.keyPrefix + name;
    const key = weightInputName(full, dtype);
    let v = this.emitted.get(key);
    if (!v) {
      const stored = this.store.as(full, dtype, shape);
      // the state-dict key; a key emitted at two dtypes gets a numbered initializer name from the graph
      v = this.binding === 'inputs' ? this.graph.input(key, dtype, shape) : this.graph.initializer(full, stored);
      this.emitted.set(key, v);
    }
    return v;
  }
}

/**
 * Feeds the `weights/…` inputs of graphs built with binding 'inputs': each
 * weight is read (and converted) once and the same tensor is handed to every
 * session that asks for it.
 */
export class WeightFeeder {
  readonly store: TensorStore;
  private readonly tensors = new Map<string, RuntimeTensor>();

  constructor(store: TensorStore) {
    this.store = store;
  }

  static isWeightInput(name: string): boolean {
    return WEIGHT_INPUT.test(name);
  }

  /** Tensors for the weight inputs among `inputNames` (other names are ignored). */
  feeds(inputNames: readonly string[]): Record<string, RuntimeTensor> {
    const out: Record<string, RuntimeTensor> = {};
    for (const name of inputNames) {
      const m = WEIGHT_INPUT.exec(name);
      if (!m) continue;
      let t = this.tensors.get(name);
      if (!t) {
        const [, key, dtype] = m;
        const data = this.store.as(key, dtype as DType);
        const bytes = data.bytes();
        const copy = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
        const values =
          dtype === 'float16'
            ? new Uint16Array(copy.buffer as ArrayBuffer, copy.byteOffset, copy.byteLength / 2)
            : new Float32Array(copy.buffer as ArrayBuffer, copy.byteOffset, copy.byteLength / 4);
        t = tensor(dtype as DType, values, data.shape);
        this.tensors.set(name, t);
      }
      out[name] = t;
    }
    return out;
  }

  /** Bytes held. */
  get byteLength(): number {
    let n = 0;
    for (const t of this.tensors.values()) n += t.data.byteLength;
    return n;
  }
}

/**
 * y = x·Wᵀ + b for the torch Linear `prefix` (weight (out, in), bias (out)
 * unless `bias` overrides it: null for none). `at`: 'compute' runs the
 * product at the compute precision, 'float32' always in fp32 (embeddings,
 * heads). `columns`: x covers only input features [from, to) of W (a Linear
 * applied to a concatenation, one part at a time). Output is fp32. At
 * precision 'int8', 'compute' products run on int8 weights (quantizedDense).
 */
export function dense(
  w: GraphWeights,
  x: Value,
  prefix: string,
  outFeatures: number,
  inFeatures: number,
  options: { bias?: Value | null; at?: 'compute' | 'float32'; columns?: [number, number] } = {},
): Value {
  if (w.precision === 'int8' && options.at !== 'float32') return quantizedDense(w, x, prefix, outFeatures, inFeatures, options);
  const dtype: DType = options.at === 'float32' ? 'float32' : w.dtype;
  const bias = options.bias !== undefined ? options.bias : w.matrix(`${prefix}.bias`, [outFeatures], dtype);
  // The weight as stored, (out, in), under Gemm's transB: nothing is transposed at load or
  // serialization, and with fed weights onnxruntime's product took 0.73–0.96× the time of
  // x·W with W (in, out) (engine README, "Generation": Linear layers).
  const weight = w.matrix(`${prefix}.weight`, [outFeatures, inFeatures], dtype);
  const columns = options.columns ? slice(weight, [options.columns[0]], [options.columns[1]], [1]) : weight;
  const lead = (x.shape ?? []).slice(0, -1); // Gemm is 2-D: rows in, rows back (one axis may be symbolic)
  const y = gemmTransB(reshape(cast(x, dtype), [-1, columns.size(1)]), columns, bias);
  const back = lead.map((d) => (typeof d === 'number' ? d : -1));
  return cast(reshapeTo(y, int64s(x.graph, [...back, outFeatures]), [...lead, outFeatures]), 'float32');
}

/** dense at precision 'int8': x (fp32) times the int8 weight (onnx/quantize.ts), bias added by the same node. */
function quantizedDense(
  w: GraphWeights,
  x: Value,
  prefix: string,
  outFeatures: number,
  inFeatures: number,
  options: { bias?: Value | null; columns?: [number, number] },
): Value {
  const bias = options.bias !== undefined ? options.bias : w.float32(`${prefix}.bias`, [outFeatures]);
  const { values, scales } = w.quantizedLinearWeight(`${prefix}.weight`, outFeatures, inFeatures); // (in, out)
  const rows = options.columns ? slice(values, [options.columns[0]], [options.columns[1]], [0]) : values;
  return dynamicQuantizeMatMul(cast(x, 'float32'), rows, scales, bias);
}
