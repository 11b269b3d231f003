// A named collection of tensors read lazily from a file. Both weight formats
// (safetensors and PyTorch .pth) produce this, with upstream key names.
import type { DType } from '../onnx/dtype.ts';
import type { TensorData } from '../onnx/graph.ts';
import { BYTES_PER_ELEMENT, convertFloatBytes, numel } from '../onnx/dtype.ts';

export interface StoredTensor extends TensorData {
  readonly name: string;
}

export class TensorStore {
  readonly source: string;
  private readonly tensors: Map<string, StoredTensor>;

  constructor(source: string, tensors: Iterable<StoredTensor>) {
    this.source = source;
    this.tensors = new Map([...tensors].map((t) => [t.name, t]));
  }

  get names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** The tensor `name`, checked against `shape` when given. Errors name the tensor and the file. */
  get(name: string, shape?: readonly number[]): StoredTensor {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`${this.source}: missing tensor "${name}"`);
    if (shape && (shape.length !== t.shape.length || shape.some((d, i) => d !== t.shape[i]))) {
      throw new Error(`${this.source}: tensor "${name}" has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    return t;
  }

  /** Reads `name` as float32 values (converting from fp16/bf16/fp64). */
  float32(name: string, shape?: readonly number[]): Float32Array {
    const t = this.get(name, shape);
    const raw = convertFloatBytes(t.bytes(), t.dtype, 'float32');
    const out = new Float32Array(numel(t.shape));
    new Uint8Array(out.buffer).set(raw);
    return out;
  }

  /** A view of `name` converted to `dtype` on read (used to emit fp16 weights for CUDA). */
  as(name: string, dtype: DType, shape?: readonly number[]): StoredTensor {
    const t = this.get(name, shape);
    if (t.dtype === dtype) return t;
    return { name, dtype, shape: t.shape, bytes: () => convertFloatBytes(t.bytes(), t.dtype, dtype) };
  }

  /** Keys present here but not in `expected`, and the other way round. */
  diff(expected: Iterable<string>): { missing: string[]; unexpected: string[] } {
    const want = new Set(expected);
    return {
      missing: [...want].filter((k) => !this.tensors.has(k)),
      unexpected: this.names.filter((k) => !want.has(k)),
    };
  }
}

export function byteLength(t: { dtype: DType; shape: readonly number[] }): number {
  return numel(t.shape) * BYTES_PER_ELEMENT[t.dtype];
}
