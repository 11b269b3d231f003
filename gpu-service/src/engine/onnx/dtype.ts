// Element types the engine uses, with their ONNX TensorProto codes and sizes.

export type DType = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';

export const ONNX_TYPE: Record<DType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  bfloat16: 16,
};

export const BYTES_PER_ELEMENT: Record<DType, number> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int8: 1,
  uint8: 1,
  bool: 1,
};

export type TypedArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Int8Array | Uint8Array | Uint16Array;

export function dtypeOf(data: TypedArray): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array) return 'uint8';
  throw new Error('Uint16Array is ambiguous (float16 or bfloat16): pass the dtype explicitly');
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** IEEE half from a float32, round to nearest even (what torch's .half() does). */
export function float32ToFloat16(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let m = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && m & 1)) m++;
    return sign | m;
  }
  let m = mant >>> 13;
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && m & 1)) {
    m++;
    if (m === 0x400) {
      m = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | m;
}

export function float16ToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function bfloat16ToFloat32(h: number): number {
  u32[0] = h << 16;
  return f32[0];
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Converts raw little-endian bytes between float dtypes (identity when equal). */
export function convertFloatBytes(bytes: Uint8Array, from: DType, to: DType): Uint8Array {
  if (from === to) return bytes;
  const n = bytes.byteLength / BYTES_PER_ELEMENT[from];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const read = (i: number): number => {
    if (from === 'float32') return view.getFloat32(i * 4, true);
    if (from === 'float16') return float16ToFloat32(view.getUint16(i * 2, true));
    if (from === 'bfloat16') return bfloat16ToFloat32(view.getUint16(i * 2, true));
    if (from === 'float64') return view.getFloat64(i * 8, true);
    throw new Error(`cannot convert from ${from}`);
  };
  const out = new Uint8Array(n * BYTES_PER_ELEMENT[to]);
  const ov = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    const v = read(i);
    if (to === 'float32') ov.setFloat32(i * 4, v, true);
    else if (to === 'float16') ov.setUint16(i * 2, float32ToFloat16(v), true);
    else if (to === 'float64') ov.setFloat64(i * 8, v, true);
    else throw new Error(`cannot convert to ${to}`);
  }
  return out;
}
