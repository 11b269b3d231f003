// PyTorch's `F.interpolate` modes used by the residual quantizer (STAR-SPEC §5.3),
// as separable matrices computed once in TypeScript. Resampling an (h, w) map to
// (H, W) is then out = Rows · x · Colsᵀ: two MatMuls over the spatial axes, at
// any scale pair, with torch's own taps and weights.
//
// Weights mirror torch's float32 arithmetic (aten UpSample.h / UpSampleKernel.cpp,
// AdaptiveAvgPoolKernel.cpp): every intermediate is rounded to fp32 where torch
// holds it in a float (`f` below).
import type { Value } from '../../onnx/graph.ts';
import { constant, matmul } from '../../onnx/ops.ts';

const f = Math.fround;

/** A dense resampling matrix: `data[o·inSize + i]` is the weight of source i in output o. */
export interface ResampleMatrix {
  readonly outSize: number;
  readonly inSize: number;
  readonly data: Float32Array;
}

// ---------------------------------------------------------------- bicubic (align_corners=False, A = −0.75)

const CUBIC_A = -0.75;

/** W1(d) = ((A+2)·d − (A+3))·d² + 1, for |d| ≤ 1 (torch cubic_convolution1, in fp32). */
function cubicNear(d: number): number {
  return f(f(f(f(f(CUBIC_A + 2) * d) - f(CUBIC_A + 3)) * d) * d) + 1;
}

/** W2(d) = ((A·d − 5A)·d + 8A)·d − 4A, for 1 ≤ |d| ≤ 2 (torch cubic_convolution2, in fp32). */
function cubicFar(d: number): number {
  return f(f(f(f(f(f(CUBIC_A * d) - f(5 * CUBIC_A)) * d) + f(8 * CUBIC_A)) * d) - f(4 * CUBIC_A));
}

export interface CubicTaps {
  /** Source index of tap j of output o at [o·4 + j], already clamped to [0, n−1]. */
  readonly index: Int32Array;
  readonly weight: Float32Array;
}

/** torch's four taps per output of a 1-D bicubic resize from `inSize` to `outSize` samples. */
export function bicubicTaps(inSize: number, outSize: number): CubicTaps {
  const scale = f(inSize / outSize); // area_pixel_compute_scale: (float)in / out
  const index = new Int32Array(outSize * 4);
  const weight = new Float32Array(outSize * 4);
  for (let o = 0; o < outSize; o++) {
    // area_pixel_compute_source_index(cubic): scale·(o + 0.5) − 0.5, never clamped
    const src = f(f(scale * f(o + 0.5)) - 0.5);
    const i0 = Math.floor(src);
    const t = f(src - i0);
    const x2 = f(1 - t);
    const w = [cubicFar(f(t + 1)), cubicNear(t), cubicNear(x2), cubicFar(f(x2 + 1))];
    for (let j = 0; j < 4; j++) {
      index[o * 4 + j] = Math.min(Math.max(i0 - 1 + j, 0), inSize - 1);
      weight[o * 4 + j] = w[j];
    }
  }
  return { index, weight };
}

/** The bicubic taps as a matrix (taps that clamp onto the same source add up, in tap order). */
export function bicubicMatrix(inSize: number, outSize: number): ResampleMatrix {
  const { index, weight } = bicubicTaps(inSize, outSize);
  const data = new Float32Array(outSize * inSize);
  for (let o = 0; o < outSize; o++) {
    for (let j = 0; j < 4; j++) {
      const at = o * inSize + index[o * 4 + j];
      data[at] = f(data[at] + weight[o * 4 + j]);
    }
  }
  return { outSize, inSize, data };
}

// ---------------------------------------------------------------- area (adaptive average pooling)

/** Source window [start, end) of output cell o: [floor(o·N/n), ceil((o+1)·N/n)). */
export function areaWindow(inSize: number, outSize: number, o: number): [number, number] {
  const start = Math.floor((o * inSize) / outSize);
  const end = Math.ceil(((o + 1) * inSize) / outSize);
  return [start, end];
}

export function areaMatrix(inSize: number, outSize: number): ResampleMatrix {
  const data = new Float32Array(outSize * inSize);
  for (let o = 0; o < outSize; o++) {
    const [start, end] = areaWindow(inSize, outSize, o);
    const w = f(1 / (end - start));
    for (let i = start; i < end; i++) data[o * inSize + i] = w;
  }
  return { outSize, inSize, data };
}

/**
 * `F.interpolate(x, (outH, outW), mode='area')` on an NCHW float32 tensor in TS, the way
 * torch's CPU kernel does it: window sum in row order, then `/ kh / kw`.
 */
export function areaDownsample(x: Float32Array, dims: readonly number[], outH: number, outW = outH): Float32Array {
  const [b, c, h, w] = dims;
  if (x.length !== b * c * h * w) throw new Error(`areaDownsample: ${x.length} values for dims [${dims.join(', ')}]`);
  const out = new Float32Array(b * c * outH * outW);
  for (let plane = 0; plane < b * c; plane++) {
    const src = plane * h * w;
    for (let oy = 0; oy < outH; oy++) {
      const [y0, y1] = areaWindow(h, outH, oy);
      for (let ox = 0; ox < outW; ox++) {
        const [x0, x1] = areaWindow(w, outW, ox);
        let sum = 0;
        for (let y = y0; y < y1; y++) for (let xx = x0; xx < x1; xx++) sum = f(sum + x[src + y * w + xx]);
        out[(plane * outH + oy) * outW + ox] = f(f(sum / (y1 - y0)) / (x1 - x0));
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- in the graph

/** The transpose of a matrix, as the (inSize, outSize) array a right-multiplication needs. */
function transposed(m: ResampleMatrix): Float32Array {
  const out = new Float32Array(m.data.length);
  for (let o = 0; o < m.outSize; o++) for (let i = 0; i < m.inSize; i++) out[i * m.outSize + o] = m.data[o * m.inSize + i];
  return out;
}

const matrixCache = new WeakMap<object, Map<string, Value>>();

/** Matrix constants are shared by every scale of a graph that needs the same pair. */
function matrixConstant(x: Value, key: string, make: () => { data: Float32Array; shape: number[] }): Value {
  let perGraph = matrixCache.get(x.graph);
  if (!perGraph) {
    perGraph = new Map();
    matrixCache.set(x.graph, perGraph);
  }
  let v = perGraph.get(key);
  if (!v) {
    const { data, shape } = make();
    v = constant(x.graph, data, shape, 'float32', key);
    perGraph.set(key, v);
  }
  return v;
}

/**
 * Resamples the last two axes of `x` (…, h, w) with `rows` (H×h) and `cols` (W×w):
 * columns first, then rows — torch interpolates along x inside each source row, then
 * along y over those results.
 */
export function resample2d(x: Value, kind: string, rows: ResampleMatrix, cols: ResampleMatrix): Value {
  const h = x.dim(-2);
  const w = x.dim(-1);
  if (h !== rows.inSize || w !== cols.inSize)
    throw new Error(`${kind} resample: ${x} does not have spatial size ${rows.inSize}×${cols.inSize}`);
  const colsT = matrixConstant(x, `${kind}_${cols.inSize}to${cols.outSize}_T`, () => ({
    data: transposed(cols),
    shape: [cols.inSize, cols.outSize],
  }));
  const rowsM = matrixConstant(x, `${kind}_${rows.inSize}to${rows.outSize}`, () => ({
    data: rows.data,
    shape: [rows.outSize, rows.inSize],
  }));
  return matmul(rowsM, matmul(x, colsT));
}

/** `F.interpolate(x, size=(side, side), mode='bicubic')` (align_corners=False) on a square NCHW map. */
export function bicubicUpsample(x: Value, side: number): Value {
  const n = squareSide(x);
  const m = bicubicMatrix(n, side);
  return resample2d(x, 'bicubic', m, m);
}

/** `F.interpolate(x, size=(side, side), mode='area')` on a square NCHW map. */
export function areaResize(x: Value, side: number): Value {
  const n = squareSide(x);
  const m = areaMatrix(n, side);
  return resample2d(x, 'area', m, m);
}

/** The resampling matrices are built at graph-build time, so the map's side must be static. */
function squareSide(x: Value): number {
  const side = x.dim(-1);
  if (side === undefined) throw new Error('resample: the map side must be static');
  return side;
}
