// A small ONNX graph builder: typed values, nodes, initializers. Shapes are
// tracked where they are known so that mistakes surface at build time with
// the tensor names, not as an onnxruntime error at run time.
import type { DType } from './dtype.ts';
import { BYTES_PER_ELEMENT, numel } from './dtype.ts';

export type Dim = number | string;
export type Shape = Dim[];

/** Bytes of an initializer, produced on demand so large weights stream to disk one at a time. */
export interface TensorData {
  readonly dtype: DType;
  readonly shape: readonly number[];
  bytes(): Uint8Array;
}

export class Value {
  readonly graph: Graph;
  /** Changes only when Graph.output renames a node's output in place. */
  name: string;
  readonly dtype: DType;
  readonly shape: Shape | undefined;
  constructor(graph: Graph, name: string, dtype: DType, shape: Shape | undefined) {
    this.graph = graph;
    this.name = name;
    this.dtype = dtype;
    this.shape = shape;
  }
  get rank(): number | undefined {
    return this.shape?.length;
  }
  /** Static size of one axis (negative axes count from the end), or undefined when symbolic. */
  dim(axis: number): number | undefined {
    if (!this.shape) return undefined;
    const d = this.shape[axis < 0 ? this.shape.length + axis : axis];
    return typeof d === 'number' ? d : undefined;
  }
  /** Static size of one axis, for builders whose graphs have static shapes; a symbolic or unknown size is an error naming the tensor. */
  size(axis: number): number {
    const d = this.dim(axis);
    if (d === undefined) throw new Error(`${this}: axis ${axis} has no static size`);
    return d;
  }
  toString(): string {
    return `${this.name}:${this.dtype}[${this.shape?.join(',') ?? '?'}]`;
  }
}

export type Attribute =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'ints'; value: number[] }
  | { kind: 'floats'; value: number[] }
  | { kind: 'tensor'; value: TensorData };

export const attr = {
  int: (value: number): Attribute => ({ kind: 'int', value }),
  float: (value: number): Attribute => ({ kind: 'float', value }),
  string: (value: string): Attribute => ({ kind: 'string', value }),
  ints: (value: number[]): Attribute => ({ kind: 'ints', value }),
  floats: (value: number[]): Attribute => ({ kind: 'floats', value }),
  tensor: (value: TensorData): Attribute => ({ kind: 'tensor', value }),
};

export interface Node {
  opType: string;
  domain: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, Attribute>;
}

export interface OutputSpec {
  dtype: DType;
  shape?: Shape;
}

export const MS_DOMAIN = 'com.microsoft';

export class Graph {
  readonly name: string;
  readonly nodes: Node[] = [];
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  readonly initializers = new Map<string, TensorData>();
  /** Opset per domain; '' is the default ONNX domain. */
  readonly opsets = new Map<string, number>([['', 17]]);
  private readonly used = new Set<string>();
  private readonly lastSuffix = new Map<string, number>();
  private scopes: string[] = [];

  constructor(name: string) {
    this.name = name;
  }

  input(name: string, dtype: DType, shape: Shape): Value {
    const v = new Value(this, this.claim(name), dtype, shape);
    this.inputs.push(v);
    return v;
  }

  /**
   * Marks a value as a graph output under `name`. A node's output that is not
   * an output yet takes the name in place, so its node writes the graph
   * output itself (into memory the caller may have preallocated, not into the
   * run's own block and then through a copy); a graph input, an initializer or
   * a value already handed out goes through an Identity.
   */
  output(value: Value, name: string): Value {
    if (this.outputs.includes(value) || this.isInitializer(value)) return this.outputCopy(value, name);
    if (value.name === name) {
      this.outputs.push(value);
      return value;
    }
    const producer = this.nodes.find((n) => n.outputs.includes(value.name));
    if (!producer || this.used.has(name)) return this.outputCopy(value, name);
    const old = value.name;
    this.used.add(name);
    producer.outputs = producer.outputs.map((o) => (o === old ? name : o));
    for (const n of this.nodes) n.inputs = n.inputs.map((i) => (i === old ? name : i));
    value.name = name;
    this.outputs.push(value);
    return value;
  }

  private outputCopy(value: Value, name: string): Value {
    const out = new Value(this, this.claim(name), value.dtype, value.shape);
    this.nodes.push({
      opType: 'Identity',
      domain: '',
      name: `${name}/identity`,
      inputs: [value.name],
      outputs: [out.name],
      attributes: {},
    });
    this.outputs.push(out);
    return out;
  }

  initializer(name: string, data: TensorData): Value {
    const v = new Value(this, this.claim(name), data.dtype, [...data.shape]);
    this.initializers.set(v.name, data);
    return v;
  }

  isInitializer(value: Value): boolean {
    return this.initializers.has(value.name);
  }

  /** Adds one node; returns its outputs as values with the given dtypes and shapes. */
  node(opType: string, inputs: (Value | null)[], attributes: Record<string, Attribute>, outputs: OutputSpec[], domain = ''): Value[] {
    for (const v of inputs) if (v && v.graph !== this) throw new Error(`${opType}: input ${v.name} belongs to another graph`);
    if (domain && !this.opsets.has(domain)) this.opsets.set(domain, 1);
    const base = this.prefix() + opType;
    const nodeName = this.claim(base);
    const values = outputs.map((o, i) => new Value(this, this.claim(`${nodeName}/out${i}`), o.dtype, o.shape));
    this.nodes.push({
      opType,
      domain,
      name: nodeName,
      inputs: inputs.map((v) => (v ? v.name : '')),
      outputs: values.map((v) => v.name),
      attributes,
    });
    return values;
  }

  /** Runs `build` with node names prefixed by `name/` (e.g. blocks.3/attn/MatMul), which makes profiles readable. */
  scope<T>(name: string, build: () => T): T {
    this.scopes.push(name);
    try {
      return build();
    } finally {
      this.scopes.pop();
    }
  }

  /** Total bytes of all initializers (what the weights file will hold). */
  weightBytes(): number {
    let n = 0;
    for (const t of this.initializers.values()) n += numel(t.shape) * BYTES_PER_ELEMENT[t.dtype];
    return n;
  }

  private prefix(): string {
    return this.scopes.length ? `${this.scopes.join('/')}/` : '';
  }

  /**
   * `name`, or `name_i` with the smallest unused i ≥ 1. Names are never
   * released, so suffixes 1..last of a base are all taken and the search
   * resumes after the last one (a graph reuses bases like `ints` thousands of
   * times; restarting at 1 made building quadratic).
   */
  private claim(name: string): string {
    let candidate = name;
    if (this.used.has(candidate)) {
      let i = this.lastSuffix.get(name) ?? 0;
      do candidate = `${name}_${++i}`;
      while (this.used.has(candidate));
      this.lastSuffix.set(name, i);
    }
    this.used.add(candidate);
    return candidate;
  }
}

/** Initializer data held in memory. */
export function tensorData(dtype: DType, shape: readonly number[], bytes: Uint8Array): TensorData {
  const expected = numel(shape) * BYTES_PER_ELEMENT[dtype];
  if (bytes.byteLength !== expected) {
    throw new Error(`tensor data: ${bytes.byteLength} bytes for ${dtype}[${shape.join(',')}], expected ${expected}`);
  }
  return { dtype, shape, bytes: () => bytes };
}
