// How a model's weights enter a graph, and the one dense (torch Linear)
// layer built on them. Every graph builder (generator, sampler head, CLIP
// text encoder, VQVAE decoder and quantizer) asks a GraphWeights for its
// weights by state-dict key; each key is emitted once per graph and dtype.
import type { DType } from './dtype.ts';
import { BYTES_PER_ELEMENT, convertFloatBytes, numel } from './dtype.ts';
import type { Graph, TensorData, Value } from './graph.ts';
import { add, cast, dynamicQuantizeMatMul, matmul, slice } from './ops.ts';
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

/** Graph input name of a weight: `weights/<state-dict key>[^T]@<dtype>` (^T: stored transposed, (in, out)). */
export function weightInputName(name: string, dtype: DType, transposed: boolean): string {
  return `weights/${name}${transposed ? '^T' : ''}@${dtype}`;
}

const WEIGHT_INPUT = /^weights\/(.+?)(\^T)?@(\w+)$/;

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

  /** A weight at the compute precision (matrices, convolutions, embeddings and their biases). */
  matrix(name: string, shape: number[]): Value {
    return this.emit(name, this.dtype, shape, false);
  }

  /** A weight kept in fp32 whatever the precision (norm parameters, codebooks, per-head scales). */
  float32(name: string, shape: number[]): Value {
    return this.emit(name, 'float32', shape, false);
  }

  /**
   * A torch Linear weight stored (out, in), emitted pre-transposed as (in, out)
   * so x·W needs no Transpose node: onnxruntime would otherwise fold a
   * transposed copy of every matrix at load (extra memory) or run the slower
   * transposed-B product. The transpose happens once, when the graph is
   * serialized (or the weight first fed).
   */
  linearWeight(name: string, outFeatures: number, inFeatures: number, dtype: DType = this.dtype): Value {
    return this.emit(name, dtype, [outFeatures, inFeatures], true);
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
    const key = weightInputName(full, this.dtype, false);
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

  private emit(name: string, dtype: DType, shape: number[], transposed: boolean): Value {
    const key = weightInputName(this.keyPrefix + name, dtype, transposed);
    let v = this.emitted.get(key);
    if (!v) {
      const full = this.keyPrefix + name;
      const stored = this.store.as(full, dtype, shape);
      if (this.binding === 'inputs') {
        v = this.graph.input(key, dtype, transposed ? [shape[1], shape[0]] : shape);
      } else {
        // the state-dict key (.T: stored transposed); a key emitted at two dtypes gets a numbered name from the graph
        v = this.graph.initializer(transposed ? `${full}.T` : full, transposed ? transposed2d(stored) : stored);
      }
      this.emitted.set(key, v);
    }
    return v;
  }
}

/**
 * Feeds the `weights/…` inputs of graphs built with binding 'inputs': each
 * weight is read (and transposed, converted) once and the same tensor is
 * handed to every session that asks for it.
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
        const [, key, transposed, dtype] = m;
        const stored = this.store.as(key, dtype as DType);
        const data = transposed ? transposed2d(stored) : stored;
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

const TRANSPOSE_TILE = 64;

/** (rows, cols) → (cols, rows) bytes, on demand. */
function transposed2d(t: TensorData): TensorData {
  const [rows, cols] = t.shape;
  const size = BYTES_PER_ELEMENT[t.dtype];
  return {
    dtype: t.dtype,
    shape: [cols, rows],
    bytes: () => {
      const raw = t.bytes();
      const src = raw.byteOffset % size === 0 ? raw : raw.slice();
      const out = new Uint8Array(src.byteLength);
      const n = rows * cols;
      const view = (b: Uint8Array) =>
        size === 4 ? new Uint32Array(b.buffer as ArrayBuffer, b.byteOffset, n) : new Uint16Array(b.buffer as ArrayBuffer, b.byteOffset, n);
      if (size === 4 || size === 2) {
        const [from, to] = [view(src), view(out)];
        // Tile by tile, each output row's stretch written in order: about half the time of row
        // by row for d16's matrices (the WeightFeeder transposes every Linear weight at load).
        for (let c0 = 0; c0 < cols; c0 += TRANSPOSE_TILE) {
          const cEnd = Math.min(c0 + TRANSPOSE_TILE, cols);
          for (let r0 = 0; r0 < rows; r0 += TRANSPOSE_TILE) {
            const rEnd = Math.min(r0 + TRANSPOSE_TILE, rows);
            for (let c = c0; c < cEnd; c++) for (let r = r0; r < rEnd; r++) to[c * rows + r] = from[r * cols + c];
          }
        }
      } else {
        for (let r = 0; r < rows; r++)
          for (let c = 0; c < cols; c++) out.set(src.subarray((r * cols + c) * size, (r * cols + c + 1) * size), (c * rows + r) * size);
      }
      return out;
    },
  };
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
  const bias =
    options.bias !== undefined
      ? options.bias
      : dtype === 'float32'
        ? w.float32(`${prefix}.bias`, [outFeatures])
        : w.matrix(`${prefix}.bias`, [outFeatures]);
  const weight = w.linearWeight(`${prefix}.weight`, outFeatures, inFeatures, dtype); // (in, out)
  const rows = options.columns ? slice(weight, [options.columns[0]], [options.columns[1]], [0]) : weight;
  const y = matmul(cast(x, dtype), rows);
  return cast(bias ? add(y, bias) : y, 'float32');
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
