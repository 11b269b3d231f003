// Test helper: writes files in torch.save's zip format (protocol-2 pickle +
// stored storages, 64-byte aligned) without Python or torch, so the .pth
// reader is tested on exactly the bytes torch produces. Optionally forces
// ZIP64 records to exercise the multi-GB path on a small file.
import { writeFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import type { DType } from '../onnx/dtype.ts';
import { numel } from '../onnx/dtype.ts';
import type { StoredTensor } from '../weights/tensors.ts';

export interface TorchTensor {
  kind: 'tensor';
  storageKey: string;
  storageType: string;
  storageNumel: number;
  offset: number;
  shape: number[];
  stride: number[];
  /** Wrap in torch._utils._rebuild_parameter, as nn.Parameter entries are. */
  parameter?: boolean;
}

export interface TorchObject {
  kind: 'object';
  module: string;
  name: string;
  state: PickleValue;
}

export type PickleValue =
  | null
  | boolean
  | number
  | string
  | PickleValue[]
  | { tuple: PickleValue[] }
  | { ordered: [string, PickleValue][] }
  | { dict: [string, PickleValue][] }
  | { float: number }
  | TorchTensor
  | TorchObject;

/** Contiguous strides for `shape`. */
export function contiguousStride(shape: number[]): number[] {
  const stride = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    stride[i] = s;
    s *= shape[i];
  }
  return stride;
}

class PickleWriter {
  private readonly parts: number[] = [];
  private memo = 0;

  byte(...b: number[]): void {
    this.parts.push(...b);
  }
  u32(v: number): void {
    this.byte(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  }
  put(): void {
    // BINPUT / LONG_BINPUT, as pickle does after most objects.
    if (this.memo < 256) this.byte(0x71, this.memo++);
    else {
      this.byte(0x72);
      this.u32(this.memo++);
    }
  }
  str(s: string): void {
    const b = new TextEncoder().encode(s);
    this.byte(0x58);
    this.u32(b.length);
    this.byte(...b);
    this.put();
  }
  global(module: string, name: string): void {
    this.byte(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
    this.put();
  }
  int(v: number): void {
    if (v >= 0 && v < 256) this.byte(0x4b, v);
    else if (v >= 0 && v < 65536) this.byte(0x4d, v & 0xff, v >> 8);
    else if (v >= -(2 ** 31) && v < 2 ** 31) {
      this.byte(0x4a);
      this.u32(v >>> 0);
    } else {
      // LONG1: little-endian two's complement
      let x = BigInt(v);
      const out: number[] = [];
      do {
        out.push(Number(x & 0xffn));
        x >>= 8n;
      } while (x !== 0n && x !== -1n);
      if ((out[out.length - 1] & 0x80) !== (v < 0 ? 0x80 : 0)) out.push(v < 0 ? 0xff : 0);
      this.byte(0x8a, out.length, ...out);
    }
  }
  value(v: PickleValue): void {
    if (v === null) {
      this.byte(0x4e);
      return;
    }
    if (v === true) {
      this.byte(0x88);
      return;
    }
    if (v === false) {
      this.byte(0x89);
      return;
    }
    if (typeof v === 'number') {
      if (Number.isInteger(v)) this.int(v);
      else this.value({ float: v });
      return;
    }
    if (typeof v === 'string') {
      this.str(v);
      return;
    }
    if (Array.isArray(v)) {
      this.byte(0x5d);
      this.put();
      if (v.length) {
        this.byte(0x28);
        for (const x of v) this.value(x);
        this.byte(0x65);
      }
      return;
    }
    if ('float' in v) {
      const b = new DataView(new ArrayBuffer(8));
      b.setFloat64(0, v.float, false);
      this.byte(0x47, ...new Uint8Array(b.buffer));
      return;
    }
    if ('tuple' in v) {
      if (v.tuple.length === 0) {
        this.byte(0x29);
        return;
      }
      this.byte(0x28);
      for (const x of v.tuple) this.value(x);
      this.byte(0x74);
      this.put();
      return;
    }
    if ('ordered' in v) {
      this.global('collections', 'OrderedDict');
      this.byte(0x29, 0x52);
      this.put();
      this.items(v.ordered);
      return;
    }
    if ('dict' in v) {
      this.byte(0x7d);
      this.put();
      this.items(v.dict);
      return;
    }
    if (v.kind === 'object') {
      // cls.__new__(cls) via copyreg, then BUILD with the instance dict.
      this.global('copyreg', '_reconstructor');
      this.byte(0x28);
      this.global(v.module, v.name);
      this.global('builtins', 'object');
      this.byte(0x4e, 0x74);
      this.put();
      this.byte(0x52);
      this.put();
      this.value(v.state);
      this.byte(0x62);
      return;
    }
    this.tensor(v);
  }
  private items(entries: [string, PickleValue][]): void {
    if (!entries.length) return;
    this.byte(0x28);
    for (const [k, x] of entries) {
      this.str(k);
      this.value(x);
    }
    this.byte(0x75);
  }
  private tensor(t: TorchTensor): void {
    if (t.parameter) this.global('torch._utils', '_rebuild_parameter');
    this.global('torch._utils', '_rebuild_tensor_v2');
    this.byte(0x28); // args tuple
    this.byte(0x28); // persistent id tuple
    this.str('storage');
    this.global('torch', t.storageType);
    this.str(t.storageKey);
    this.str('cpu');
    this.int(t.storageNumel);
    this.byte(0x74);
    this.put();
    this.byte(0x51); // BINPERSID
    this.int(t.offset);
    this.value({ tuple: t.shape });
    this.value({ tuple: t.stride });
    this.byte(0x89); // requires_grad False
    this.global('collections', 'OrderedDict');
    this.byte(0x29, 0x52);
    this.put();
    this.byte(0x74);
    this.put();
    this.byte(0x52);
    this.put();
    if (t.parameter) {
      this.byte(0x88); // requires_grad
      this.global('collections', 'OrderedDict');
      this.byte(0x29, 0x52);
      this.put();
      this.byte(0x87, 0x52);
      this.put();
    }
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** Protocol-2 pickle bytes of `value`, as torch.save's pickler emits them. */
export function pickleBytes(value: PickleValue): Uint8Array {
  const w = new PickleWriter();
  w.byte(0x80, 2);
  w.value(value);
  w.byte(0x2e);
  return w.bytes();
}

export interface ZipFile {
  name: string;
  data: Uint8Array;
}

/** A stored-only zip with 64-byte aligned data (torch's layout); `zip64` forces ZIP64 records. */

/** The zip64 extended-information extra field (id 0x0001): the given 64-bit sizes and offsets, in order. */
function zip64Extra(values: bigint[]): Buffer {
  const field = Buffer.alloc(4 + 8 * values.length);
  field.writeUInt16LE(0x0001, 0);
  field.writeUInt16LE(8 * values.length, 2);
  for (const [i, v] of values.entries()) field.writeBigUInt64LE(v, 4 + 8 * i);
  return field;
}

export function zipBytes(files: ZipFile[], options: { zip64?: boolean } = {}): Uint8Array {
  const chunks: Buffer[] = [];
  let offset = 0;
  const central: Buffer[] = [];
  const push = (b: Buffer) => {
    chunks.push(b);
    offset += b.length;
  };
  const z64 = options.zip64 === true;
  for (const f of files) {
    const name = Buffer.from(f.name, 'utf8');
    const headerOffset = offset;
    const crc = crc32(f.data);
    const size = BigInt(f.data.length);
    const zip64Local = z64 ? zip64Extra([size, size]) : Buffer.alloc(0);
    const base = headerOffset + 30 + name.length + zip64Local.length + 4;
    const pad = (64 - (base % 64)) % 64;
    const padding = Buffer.alloc(4 + pad);
    padding.writeUInt16LE(0x4246, 0); // 'FB', torch's padding field id
    padding.writeUInt16LE(pad, 2);
    const extra = Buffer.concat([zip64Local, padding]);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(z64 ? 45 : 20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(z64 ? 0xffffffff : f.data.length, 18);
    local.writeUInt32LE(z64 ? 0xffffffff : f.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(extra.length, 28);
    push(Buffer.concat([local, name, extra]));
    push(Buffer.from(f.data));
    const cextra = z64 ? zip64Extra([size, size, BigInt(headerOffset)]) : Buffer.alloc(0);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(z64 ? 45 : 20, 4);
    c.writeUInt16LE(z64 ? 45 : 20, 6);
    c.writeUInt32LE(crc, 16);
    c.writeUInt32LE(z64 ? 0xffffffff : f.data.length, 20);
    c.writeUInt32LE(z64 ? 0xffffffff : f.data.length, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt16LE(cextra.length, 30);
    c.writeUInt32LE(z64 ? 0xffffffff : headerOffset, 42);
    central.push(Buffer.concat([c, name, cextra]));
  }
  const cdOffset = offset;
  const cd = Buffer.concat(central);
  push(cd);
  if (z64) {
    const recordAt = offset;
    const rec = Buffer.alloc(56);
    rec.writeUInt32LE(0x06064b50, 0);
    rec.writeBigUInt64LE(44n, 4);
    rec.writeUInt16LE(45, 12);
    rec.writeUInt16LE(45, 14);
    rec.writeBigUInt64LE(BigInt(files.length), 24);
    rec.writeBigUInt64LE(BigInt(files.length), 32);
    rec.writeBigUInt64LE(BigInt(cd.length), 40);
    rec.writeBigUInt64LE(BigInt(cdOffset), 48);
    push(rec);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(recordAt), 8);
    loc.writeUInt32LE(1, 16);
    push(loc);
  }
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(z64 ? 0xffff : files.length, 8);
  eocd.writeUInt16LE(z64 ? 0xffff : files.length, 10);
  eocd.writeUInt32LE(z64 ? 0xffffffff : cd.length, 12);
  eocd.writeUInt32LE(z64 ? 0xffffffff : cdOffset, 16);
  push(eocd);
  return Buffer.concat(chunks);
}

export interface TorchSaveStorage {
  key: string;
  bytes: Uint8Array;
}

/** Writes `value` with its storages as torch.save does: archive/data.pkl, archive/data/<key>, archive/version. */
export function writeTorchSave(
  path: string,
  value: PickleValue,
  storages: TorchSaveStorage[],
  options: { zip64?: boolean; archiveName?: string } = {},
): void {
  const root = options.archiveName ?? 'archive';
  writeFileSync(
    path,
    zipBytes(
      [
        { name: `${root}/data.pkl`, data: pickleBytes(value) },
        { name: `${root}/byteorder`, data: new TextEncoder().encode('little') },
        ...storages.map((s) => ({ name: `${root}/data/${s.key}`, data: s.bytes })),
        { name: `${root}/version`, data: new TextEncoder().encode('3\n') },
      ],
      options,
    ),
  );
}

const STORAGE_TYPES: Partial<Record<DType, string>> = {
  float32: 'FloatStorage',
  float16: 'HalfStorage',
  bfloat16: 'BFloat16Storage',
  int64: 'LongStorage',
};

/**
 * Writes `tensors` as `torch.save(module.state_dict())` does (an OrderedDict,
 * one storage per tensor), nested under the dict keys `at` when given (a
 * training snapshot's `['trainer', 'var_wo_ddp']`).
 */
export function writeTorchStateDict(
  path: string,
  tensors: readonly StoredTensor[],
  options: { at?: string[]; zip64?: boolean } = {},
): void {
  const entries: [string, PickleValue][] = tensors.map((t, i) => {
    const storageType = STORAGE_TYPES[t.dtype];
    if (!storageType) throw new Error(`writeTorchStateDict: no torch storage for ${t.dtype}`);
    return [
      t.name,
      {
        kind: 'tensor',
        storageKey: String(i),
        storageType,
        storageNumel: numel(t.shape),
        offset: 0,
        shape: [...t.shape],
        stride: contiguousStride([...t.shape]),
      },
    ];
  });
  let value: PickleValue = { ordered: entries };
  for (const key of [...(options.at ?? [])].reverse()) value = { dict: [[key, value]] };
  writeTorchSave(
    path,
    value,
    tensors.map((t, i) => ({ key: String(i), bytes: t.bytes() })),
    { zip64: options.zip64 },
  );
}

/**
 * The start of a file in torch.save's legacy (pre-1.6, non-zip) format: its
 * pickled magic number (too large for a JS number, so written out), then
 * the protocol version 1001, the sys_info dict and `value`, each a pickle
 * of its own. The engine only needs to recognise the format, not read it.
 */
export function legacyTorchSaveBytes(value: PickleValue): Uint8Array {
  const magic = Uint8Array.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]);
  const sysInfo: PickleValue = {
    dict: [
      ['protocol_version', 1001],
      ['little_endian', true],
      [
        'type_sizes',
        {
          dict: [
            ['short', 2],
            ['int', 4],
            ['long', 4],
          ],
        },
      ],
    ],
  };
  return Buffer.concat([magic, pickleBytes(1001), pickleBytes(sysInfo), pickleBytes(value)]);
}
