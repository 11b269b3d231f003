// safetensors: 8-byte little-endian header length, a JSON header mapping names
// to {dtype, shape, data_offsets}, then the raw bytes. Tensors are read from
// the file on demand, so a multi-GB file is never held in memory at once.
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import type { DType } from '../onnx/dtype.ts';
import type { StoredTensor } from './tensors.ts';
import { TensorStore, byteLength } from './tensors.ts';
import { readAt } from './zip.ts';

const FROM_ST: Record<string, DType> = {
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  F64: 'float64',
  I64: 'int64',
  I32: 'int32',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};
const TO_ST = Object.fromEntries(Object.entries(FROM_ST).map(([k, v]) => [v, k])) as Record<DType, string>;

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export function readSafetensors(path: string): TensorStore {
  const fd = openSync(path, 'r');
  const size = fstatSync(fd).size;
  const fail = (why: string): never => {
    closeSync(fd);
    throw new Error(`${path}: not a valid safetensors file: ${why}`);
  };
  if (size < 8) fail('shorter than its 8-byte header length');
  const lenBuf = Buffer.alloc(8);
  readSync(fd, lenBuf, 0, 8, 0);
  const headerLen = Number(lenBuf.readBigUInt64LE(0));
  if (headerLen > size - 8 || headerLen > 100 * 1024 * 1024) fail(`header length ${headerLen} exceeds the file`);
  const headerBuf = Buffer.alloc(headerLen);
  readSync(fd, headerBuf, 0, headerLen, 8);
  let header: Record<string, HeaderEntry>;
  try {
    header = JSON.parse(headerBuf.toString('utf8'));
  } catch (err) {
    return fail(`header is not JSON (${(err as Error).message})`);
  }
  const dataStart = 8 + headerLen;
  const tensors: StoredTensor[] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const dtype = FROM_ST[entry.dtype];
    if (!dtype) fail(`tensor "${name}" has unsupported dtype ${entry.dtype}`);
    const [begin, end] = entry.data_offsets;
    if (end - begin !== byteLength({ dtype, shape: entry.shape }))
      fail(`tensor "${name}" byte range does not match its shape [${entry.shape}]`);
    if (dataStart + end > size) fail(`tensor "${name}" is truncated (needs ${dataStart + end} bytes, file has ${size})`);
    tensors.push({
      name,
      dtype,
      shape: entry.shape,
      bytes: () => {
        const f = openSync(path, 'r');
        try {
          const buf = readAt(f, dataStart + begin, end - begin, `${path} (tensor "${name}")`);
          return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
        } finally {
          closeSync(f);
        }
      },
    });
  }
  closeSync(fd);
  return new TensorStore(path, tensors);
}

/** Writes tensors in the given order, streaming each one's bytes. */
export function writeSafetensors(path: string, tensors: Iterable<StoredTensor>, metadata?: Record<string, string>): void {
  const list = [...tensors];
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of list) {
    const n = byteLength(t);
    header[t.name] = { dtype: TO_ST[t.dtype], shape: t.shape, data_offsets: [offset, offset + n] };
    offset += n;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.byteLength % 8)) % 8; // keep tensor data 8-byte aligned
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const fd = openSync(path, 'w');
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.byteLength));
    writeSync(fd, len);
    writeSync(fd, json);
    for (const t of list) {
      const bytes = t.bytes();
      if (bytes.byteLength !== byteLength(t)) throw new Error(`tensor "${t.name}": ${bytes.byteLength} bytes for shape [${t.shape}]`);
      writeSync(fd, bytes);
    }
  } finally {
    closeSync(fd);
  }
}
