// PyTorch checkpoints (torch.save since 1.6): a zip archive holding
// `<name>/data.pkl` (the pickled object, tensors as persistent references to
// storages) and `<name>/data/<key>` (each storage's raw little-endian bytes,
// stored uncompressed). We unpickle the object, pick the state dict at a key
// path (the generator's is at `trainer.var_wo_ddp`), and expose its tensors
// as a TensorStore whose reads go straight to the file: nothing is copied at
// load, and upstream key names are kept.
import { closeSync, openSync } from 'node:fs';
import type { DType } from '../onnx/dtype.ts';
import { BYTES_PER_ELEMENT, numel } from '../onnx/dtype.ts';
import type { PyDict, PyValue } from './pickle.ts';
import { isTuple, PyGlobal, unpickle } from './pickle.ts';
import type { StoredTensor } from './tensors.ts';
import { TensorStore } from './tensors.ts';
import { readAt, ZipArchive } from './zip.ts';

const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'float32',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  DoubleStorage: 'float64',
  LongStorage: 'int64',
  IntStorage: 'int32',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
  UntypedStorage: 'uint8',
};

/** Where state dicts sit inside the checkpoints we know, tried in order when no key is given. */
export const KNOWN_STATE_DICT_PATHS = ['trainer.var_wo_ddp', 'state_dict', 'model'];

interface Storage {
  key: string;
  dtype: DType | undefined;
  typeName: string;
}

class PthTensor {
  readonly storage: Storage;
  readonly offset: number;
  readonly shape: number[];
  readonly stride: number[];
  constructor(storage: Storage, offset: number, shape: number[], stride: number[]) {
    this.storage = storage;
    this.offset = offset;
    this.shape = shape;
    this.stride = stride;
  }
}

export interface ReadPthOptions {
  /** Dot path to the state dict inside the checkpoint (e.g. `trainer.var_wo_ddp`); '' = the top level. */
  key?: string;
}

/** The raw unpickled checkpoint (tensors as opaque objects), for tools that list its structure. */
export function readPthObject(path: string): { object: PyValue; archive: ZipArchive; prefix: string } {
  const archive = ZipArchive.open(path);
  const pkl = [...archive.entries.keys()].find((n) => /^[^/]+\/data\.pkl$/.test(n) || n === 'data.pkl');
  if (!pkl) throw new Error(`${path}: not a torch.save archive (no data.pkl entry)`);
  const prefix = pkl.slice(0, -'data.pkl'.length);
  const order = archive.entries.get(`${prefix}byteorder`);
  if (order && archive.read(order.name).toString('latin1').trim() !== 'little')
    throw new Error(`${path}: big-endian checkpoints are not supported`);
  const object = unpickle(archive.read(pkl), {
    persistentLoad(pid) {
      if (!isTuple(pid) || pid[0] !== 'storage') throw new Error(`${path}: unknown persistent id ${JSON.stringify(pid)}`);
      const type = pid[1];
      const typeName = type instanceof PyGlobal ? type.name : String(type);
      return { key: String(pid[2]), dtype: STORAGE_DTYPES[typeName], typeName } satisfies Storage;
    },
    call(fn, args) {
      const q = fn.qualifiedName;
      if (q === 'torch._utils._rebuild_tensor_v2' || q === 'torch._utils._rebuild_tensor') {
        const [storage, offset, size, stride] = args as [Storage, number, number[], number[]];
        return new PthTensor(storage, Number(offset), [...size].map(Number), [...stride].map(Number));
      }
      if (q === 'torch._utils._rebuild_parameter' || q === 'torch._utils._rebuild_parameter_with_state') return args[0];
      return undefined;
    },
  });
  return { object, archive, prefix };
}

/** Opens `path` and returns the tensors of the state dict at `options.key` (lazy reads). */
export function readPth(path: string, options: ReadPthOptions = {}): TensorStore {
  const { object, archive, prefix } = readPthObject(path);
  const stateDict = selectStateDict(object, options.key, path);
  const dataOffsets = new Map<string, number>();
  const tensors: StoredTensor[] = [];
  for (const [name, t] of flattenTensors(stateDict, '')) {
    const { storage } = t;
    if (!storage.dtype) throw new Error(`${path}: tensor "${name}" uses ${storage.typeName}, which is not supported`);
    const dtype = storage.dtype;
    const esize = BYTES_PER_ELEMENT[dtype];
    const entry = archive.entries.get(`${prefix}data/${storage.key}`);
    if (!entry) throw new Error(`${path}: tensor "${name}": storage data/${storage.key} is missing from the archive (truncated file?)`);
    if (entry.method !== 0)
      throw new Error(`${path}: tensor "${name}": storage data/${storage.key} is compressed; torch writes them stored`);
    let start = dataOffsets.get(storage.key);
    if (start === undefined) {
      start = archive.dataOffset(entry);
      dataOffsets.set(storage.key, start);
    }
    const count = numel(t.shape);
    const byteLength = count * esize;
    const begin = start + t.offset * esize;
    if ((t.offset + count) * esize > entry.size) {
      throw new Error(`${path}: tensor "${name}" [${t.shape}] at offset ${t.offset} overruns its storage (${entry.size / esize} elements)`);
    }
    if (start + entry.size > archive.size) {
      throw new Error(
        `${path}: tensor "${name}" is truncated (its storage ends at byte ${start + entry.size}, the file has ${archive.size})`,
      );
    }
    const contiguous = isContiguous(t.shape, t.stride);
    tensors.push({
      name,
      dtype,
      shape: t.shape,
      bytes: () => {
        if (!contiguous)
          throw new Error(`${path}: tensor "${name}" [${t.shape}] has non-contiguous strides [${t.stride}]; save it with .contiguous()`);
        const fd = openSync(path, 'r');
        try {
          return new Uint8Array(readAt(fd, begin, byteLength, `${path} (tensor "${name}")`).buffer, 0, byteLength);
        } finally {
          closeSync(fd);
        }
      },
    });
  }
  if (tensors.length === 0) throw new Error(`${path}: no tensors at ${options.key ? `key "${options.key}"` : 'the top level'}`);
  return new TensorStore(path, tensors);
}

function selectStateDict(object: PyValue, key: string | undefined, path: string): PyDict {
  const at = (keyPath: string): PyValue | undefined => {
    let v: PyValue | undefined = object;
    for (const part of keyPath ? keyPath.split('.') : []) {
      if (!(v instanceof Map) || !v.has(part)) return undefined;
      v = v.get(part);
    }
    return v;
  };
  if (key !== undefined) {
    const v = at(key);
    if (!(v instanceof Map)) {
      const top = object instanceof Map ? [...object.keys()].map(String).join(', ') : typeof object;
      throw new Error(`${path}: no state dict at key "${key}" (top-level keys: ${top})`);
    }
    return v;
  }
  if (object instanceof Map && [...object.values()].some((v) => v instanceof PthTensor)) return object;
  for (const candidate of KNOWN_STATE_DICT_PATHS) {
    const v = at(candidate);
    if (v instanceof Map) return v;
  }
  throw new Error(`${path}: no state dict at the top level or at ${KNOWN_STATE_DICT_PATHS.join(', ')}; pass a key`);
}

/** Tensors of a (possibly nested) dict, nested keys joined with '.'. */
function* flattenTensors(dict: PyDict, prefix: string): Generator<[string, PthTensor]> {
  for (const [k, v] of dict) {
    const name = prefix + String(k);
    if (v instanceof PthTensor) yield [name, v];
    else if (v instanceof Map) yield* flattenTensors(v, `${name}.`);
  }
}

function isContiguous(shape: number[], stride: number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expected) return false;
    expected *= shape[i];
  }
  return true;
}
