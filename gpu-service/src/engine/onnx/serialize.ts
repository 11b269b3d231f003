// Graph → ONNX ModelProto bytes (protobuf, via onnx-proto). Initializers above
// a threshold go to a side file as ONNX external data, so models larger than
// protobuf's 2 GiB limit work and weights stream to disk one tensor at a time.
import { closeSync, openSync, renameSync, writeSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import onnxProto from 'onnx-proto';
import type { Attribute, Graph, Shape, TensorData, Value } from './graph.ts';
import { ONNX_TYPE } from './dtype.ts';

const { onnx } = onnxProto;
type ITensorProto = InstanceType<typeof onnx.TensorProto>;

const IR_VERSION = 8;

export interface ExternalDataOptions {
  /** Path of the weights file; the model refers to it by base name, so keep both in one folder. */
  path: string;
  /** Initializers smaller than this stay inside the model file. */
  thresholdBytes?: number;
  /**
   * Optional placement of an external tensor elsewhere (e.g. a weight pool
   * shared by several models, see weight-pool.ts): returns the file (relative
   * to the model's folder) and offset where `raw` is stored, or undefined to
   * append it to `path` as usual.
   */
  place?: (raw: Uint8Array) => { location: string; offset: number } | undefined;
}

/** Serializes with every initializer embedded. Fine for graphs well under 2 GiB. */
export function toModelBytes(graph: Graph): Uint8Array {
  return encode(graph, (name, data) => embedded(name, data));
}

/** Writes `modelPath` and its external weights file (both via temp files, renamed at the end). */
export function saveModel(graph: Graph, modelPath: string, external: ExternalDataOptions): void {
  const threshold = external.thresholdBytes ?? 1024;
  const location = basename(external.path);
  const fd = openSync(`${external.path}.tmp`, 'w');
  let offset = 0;
  try {
    const bytes = encode(graph, (name, data) => {
      const raw = data.bytes();
      if (raw.byteLength < threshold) return embedded(name, data, raw);
      const placed = external.place?.(raw);
      if (placed) return externalTensor(name, data, placed.location, placed.offset, raw.byteLength);
      const padding = (64 - (offset % 64)) % 64; // aligned so onnxruntime can map tensors in place
      if (padding) writeSync(fd, new Uint8Array(padding));
      offset += padding;
      writeSync(fd, raw);
      const proto = externalTensor(name, data, location, offset, raw.byteLength);
      offset += raw.byteLength;
      return proto;
    });
    writeFileSync(`${modelPath}.tmp`, bytes);
  } finally {
    closeSync(fd);
  }
  renameSync(`${external.path}.tmp`, external.path);
  renameSync(`${modelPath}.tmp`, modelPath);
}

function externalTensor(name: string, data: TensorData, location: string, offset: number, length: number): ITensorProto {
  return onnx.TensorProto.create({
    name,
    dataType: ONNX_TYPE[data.dtype],
    dims: [...data.shape],
    dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
    externalData: [
      { key: 'location', value: location },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(length) },
    ],
  });
}

function embedded(name: string, data: TensorData, raw = data.bytes()): ITensorProto {
  return onnx.TensorProto.create({ name, dataType: ONNX_TYPE[data.dtype], dims: [...data.shape], rawData: raw });
}

function encode(graph: Graph, tensor: (name: string, data: TensorData) => ITensorProto): Uint8Array {
  const initializer: ITensorProto[] = [];
  for (const [name, data] of graph.initializers) initializer.push(tensor(name, data));
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: 'star-api',
    opsetImport: [...graph.opsets].map(([domain, version]) => ({ domain, version })),
    graph: {
      name: graph.name,
      node: graph.nodes.map((n) => ({
        opType: n.opType,
        domain: n.domain,
        name: n.name,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attributes).map(([k, a]) => attribute(k, a)),
      })),
      input: graph.inputs.map(valueInfo),
      output: graph.outputs.map(valueInfo),
      initializer,
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

function valueInfo(v: Value) {
  return {
    name: v.name,
    type: { tensorType: { elemType: ONNX_TYPE[v.dtype], shape: v.shape ? { dim: v.shape.map(dimProto) } : undefined } },
  };
}

function dimProto(d: Shape[number]) {
  return typeof d === 'number' ? { dimValue: d } : { dimParam: d };
}

function attribute(name: string, a: Attribute) {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case 'int':
      return { name, type: T.INT, i: a.value };
    case 'float':
      return { name, type: T.FLOAT, f: a.value };
    case 'string':
      return { name, type: T.STRING, s: new TextEncoder().encode(a.value) };
    case 'ints':
      return { name, type: T.INTS, ints: a.value };
    case 'floats':
      return { name, type: T.FLOATS, floats: a.value };
    case 'tensor':
      return { name, type: T.TENSOR, t: embedded(name, a.value) };
  }
}
