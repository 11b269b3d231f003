// Op helpers: one function per ONNX op the engine uses, with static shape
// checks, and the few layers composed from them (GELU, GroupNorm, …). Model
// code composes these (x = add(x, attn(ln(x)))); it never builds raw nodes
// itself.
import type { DType, TypedArray } from './dtype.ts';
import { dtypeOf, float32ToFloat16, ONNX_TYPE } from './dtype.ts';
import type { Dim, Graph, Shape } from './graph.ts';
import { attr, MS_DOMAIN, tensorData, Value } from './graph.ts';

type Scalar = number;
type Operand = Value | Scalar;

// ---------------------------------------------------------------- constants

/** A constant tensor stored as an initializer. */
export function constant(graph: Graph, data: TypedArray, shape: number[], dtype: DType = dtypeOf(data), name = 'const'): Value {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return graph.initializer(name, tensorData(dtype, shape, bytes.slice()));
}

export function scalar(graph: Graph, value: number, dtype: DType = 'float32'): Value {
  return constant(graph, typed(dtype, [value]), [], dtype, 'scalar');
}

export function int64s(graph: Graph, values: number[]): Value {
  return constant(graph, BigInt64Array.from(values.map(BigInt)), [values.length], 'int64', 'ints');
}

function typed(dtype: DType, values: number[]): TypedArray {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(values);
    case 'float64':
      return Float64Array.from(values);
    case 'float16':
      return Uint16Array.from(values, float32ToFloat16);
    case 'int32':
      return Int32Array.from(values);
    case 'int64':
      return BigInt64Array.from(values.map(BigInt));
    case 'uint8':
    case 'bool':
      return Uint8Array.from(values);
    case 'int8':
      return Int8Array.from(values);
    default:
      throw new Error(`scalar of ${dtype} not supported`);
  }
}

function lift(a: Operand, like: Value): Value {
  return typeof a === 'number' ? scalar(like.graph, a, like.dtype) : a;
}

// ---------------------------------------------------------------- elementwise

function broadcastShapes(a: Value, b: Value, op: string): Shape | undefined {
  if (!a.shape || !b.shape) return undefined;
  const n = Math.max(a.shape.length, b.shape.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const x = a.shape[a.shape.length - n + i] ?? 1;
    const y = b.shape[b.shape.length - n + i] ?? 1;
    if (x === 1) out.push(y);
    else if (y === 1 || x === y) out.push(x);
    else if (typeof x === 'string' || typeof y === 'string') out.push(typeof x === 'number' ? x : y);
    else throw new Error(`${op}: cannot broadcast ${a} with ${b}`);
  }
  return out;
}

function binary(op: string, a: Operand, b: Operand, outDtype?: DType): Value {
  const va = typeof a === 'number' ? lift(a, b as Value) : a;
  const vb = lift(b, va);
  if (va.dtype !== vb.dtype) throw new Error(`${op}: dtype mismatch ${va} vs ${vb}`);
  return va.graph.node(op, [va, vb], {}, [{ dtype: outDtype ?? va.dtype, shape: broadcastShapes(va, vb, op) }])[0];
}

function unary(op: string, x: Value, attributes = {}): Value {
  return x.graph.node(op, [x], attributes, [{ dtype: x.dtype, shape: x.shape }])[0];
}

export const add = (a: Operand, b: Operand) => binary('Add', a, b);
export const sub = (a: Operand, b: Operand) => binary('Sub', a, b);
export const mul = (a: Operand, b: Operand) => binary('Mul', a, b);
export const div = (a: Operand, b: Operand) => binary('Div', a, b);
export const max = (a: Operand, b: Operand) => binary('Max', a, b);
export const min = (a: Operand, b: Operand) => binary('Min', a, b);
export const equal = (a: Operand, b: Operand) => binary('Equal', a, b, 'bool');
export const less = (a: Operand, b: Operand) => binary('Less', a, b, 'bool');
export const greater = (a: Operand, b: Operand) => binary('Greater', a, b, 'bool');
export const greaterOrEqual = (a: Operand, b: Operand) => binary('GreaterOrEqual', a, b, 'bool');
export const lessOrEqual = (a: Operand, b: Operand) => binary('LessOrEqual', a, b, 'bool');
export const and = (a: Value, b: Value) => binary('And', a, b, 'bool');
export const or = (a: Value, b: Value) => binary('Or', a, b, 'bool');
export const sqrt = (x: Value) => unary('Sqrt', x);
export const exp = (x: Value) => unary('Exp', x);
export const log = (x: Value) => unary('Log', x);
export const neg = (x: Value) => unary('Neg', x);
export const sigmoid = (x: Value) => unary('Sigmoid', x);
export const tanh = (x: Value) => unary('Tanh', x);
const erf = (x: Value) => unary('Erf', x);
export const not = (x: Value) => unary('Not', x);
/** Round half to even, as torch.round. */
export const round = (x: Value) => unary('Round', x);
export function silu(x: Value): Value {
  return mul(x, sigmoid(x));
}

/** GELU with erf, as torch's default nn.GELU / HF "gelu". */
export function gelu(x: Value): Value {
  return mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1));
}

export function clip(x: Value, lo: number, hi: number): Value {
  return x.graph.node('Clip', [x, scalar(x.graph, lo, x.dtype), scalar(x.graph, hi, x.dtype)], {}, [{ dtype: x.dtype, shape: x.shape }])[0];
}

export function where(cond: Value, a: Operand, b: Operand): Value {
  const like = typeof a === 'number' ? (b as Value) : a;
  const va = lift(a, like);
  const vb = lift(b, like);
  const shape = broadcastShapes(cond, broadcastShape(va, vb), 'Where');
  return cond.graph.node('Where', [cond, va, vb], {}, [{ dtype: va.dtype, shape }])[0];
}

function broadcastShape(a: Value, b: Value): Value {
  return new Value(a.graph, '', a.dtype, broadcastShapes(a, b, 'Where'));
}

export function cast(x: Value, dtype: DType): Value {
  if (x.dtype === dtype) return x;
  return x.graph.node('Cast', [x], { to: attr.int(ONNX_TYPE[dtype]) }, [{ dtype, shape: x.shape }])[0];
}

// ---------------------------------------------------------------- linear algebra

export function matmul(a: Value, b: Value): Value {
  let shape: Shape | undefined;
  if (a.shape && b.shape && a.shape.length >= 2 && b.shape.length >= 2) {
    const k1 = a.shape[a.shape.length - 1];
    const k2 = b.shape[b.shape.length - 2];
    if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) throw new Error(`MatMul: inner dims differ: ${a} × ${b}`);
    const batchA = new Value(a.graph, '', a.dtype, a.shape.slice(0, -2));
    const batchB = new Value(b.graph, '', b.dtype, b.shape.slice(0, -2));
    shape = [...(broadcastShapes(batchA, batchB, 'MatMul') ?? []), a.shape[a.shape.length - 2], b.shape[b.shape.length - 1]];
  } else if (a.shape && b.shape && b.shape.length === 2) {
    shape = [...a.shape.slice(0, -1), b.shape[1]];
  }
  if (a.dtype !== b.dtype) throw new Error(`MatMul: dtype mismatch ${a} vs ${b}`);
  return a.graph.node('MatMul', [a, b], {}, [{ dtype: a.dtype, shape }])[0];
}

/** a [M, K] times bᵀ for b [N, K] (a torch Linear weight as stored), plus c [N] when given: Gemm with transB. */
export function gemmTransB(a: Value, b: Value, c: Value | null = null): Value {
  if (a.rank !== 2 || b.rank !== 2 || b.size(1) !== a.size(1)) throw new Error(`Gemm: ${a} × ${b}ᵀ needs [M, K] × [N, K]`);
  if (a.dtype !== b.dtype || (c && c.dtype !== a.dtype)) throw new Error(`Gemm: dtype mismatch ${a}, ${b}${c ? `, ${c}` : ''}`);
  return a.graph.node('Gemm', c ? [a, b, c] : [a, b], { transB: attr.int(1) }, [
    { dtype: a.dtype, shape: [(a.shape as Shape)[0], b.size(0)] },
  ])[0];
}

// ---------------------------------------------------------------- shape ops

export function reshape(x: Value, shape: number[]): Value {
  let out: Shape = shape.map((d, i) => (d === 0 && x.shape ? x.shape[i] : d));
  const known = x.shape?.every((d) => typeof d === 'number');
  if (known && x.shape) {
    const total = (x.shape as number[]).reduce((p, d) => p * d, 1);
    const rest = out.filter((d) => d !== -1).reduce<number>((p, d) => p * (d as number), 1);
    out = out.map((d) => (d === -1 ? total / rest : d));
    if ((out as number[]).reduce((p, d) => p * d, 1) !== total) throw new Error(`Reshape: ${x} cannot become [${shape.join(',')}]`);
  } else if (out.includes(-1)) {
    out = out.map((d, i) => (d === -1 ? `${x.name}_d${i}` : d));
  }
  return x.graph.node('Reshape', [x, int64s(x.graph, shape)], {}, [{ dtype: x.dtype, shape: out }])[0];
}

/** The runtime shape of x as an int64 vector (ONNX Shape). */
export function shapeOf(x: Value): Value {
  return x.graph.node('Shape', [x], {}, [{ dtype: 'int64', shape: [x.rank ?? 'rank'] }])[0];
}

/** Reshape to a runtime shape (e.g. another value's `shapeOf`); `staticShape` is what the builder records. */
export function reshapeTo(x: Value, shape: Value, staticShape: Shape | undefined): Value {
  return x.graph.node('Reshape', [x, shape], {}, [{ dtype: x.dtype, shape: staticShape }])[0];
}

export function transpose(x: Value, perm: number[]): Value {
  if (x.shape && x.shape.length !== perm.length) throw new Error(`Transpose: perm [${perm}] for ${x}`);
  const from = x.shape;
  return x.graph.node('Transpose', [x], { perm: attr.ints(perm) }, [{ dtype: x.dtype, shape: from && perm.map((p) => from[p]) }])[0];
}

export function concat(xs: Value[], axis: number): Value {
  const first = xs[0];
  let shape: Shape | undefined;
  const shapes = xs.map((x) => x.shape).filter((s) => s !== undefined);
  if (shapes.length === xs.length) {
    const r = shapes[0].length;
    const ax = axis < 0 ? r + axis : axis;
    shape = [...shapes[0]];
    let sum: Dim = 0;
    for (const [i, s] of shapes.entries()) {
      if (s.length !== r) throw new Error(`Concat: rank mismatch ${first} vs ${xs[i]}`);
      const d = s[ax];
      sum = typeof sum === 'number' && typeof d === 'number' ? sum + d : `${first.name}_cat`;
    }
    shape[ax] = sum;
  }
  return first.graph.node('Concat', xs, { axis: attr.int(axis) }, [{ dtype: first.dtype, shape }])[0];
}

/** Static slice along one or more axes (ends clamp like numpy). */
export function slice(x: Value, starts: number[], ends: number[], axes: number[], steps?: number[]): Value {
  const shape: Shape | undefined = x.shape && [...x.shape];
  if (shape) {
    for (const [i, a] of axes.entries()) {
      const ax = a < 0 ? shape.length + a : a;
      const d = shape[ax];
      if (typeof d !== 'number') {
        shape[ax] = `${x.name}_s${ax}`;
        continue;
      }
      const step = steps?.[i] ?? 1;
      const clampIdx = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
      shape[ax] = Math.max(0, Math.ceil((clampIdx(ends[i]) - clampIdx(starts[i])) / step));
    }
  }
  const g = x.graph;
  const inputs = [x, int64s(g, starts), int64s(g, ends), int64s(g, axes)];
  if (steps) inputs.push(int64s(g, steps));
  return g.node('Slice', inputs, {}, [{ dtype: x.dtype, shape }])[0];
}

export function gather(x: Value, indices: Value, axis = 0): Value {
  const shape = x.shape && indices.shape ? [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)] : undefined;
  return x.graph.node('Gather', [x, indices], { axis: attr.int(axis) }, [{ dtype: x.dtype, shape }])[0];
}

export function gatherElements(x: Value, indices: Value, axis: number): Value {
  return x.graph.node('GatherElements', [x, indices], { axis: attr.int(axis) }, [{ dtype: x.dtype, shape: indices.shape }])[0];
}

export function unsqueeze(x: Value, axes: number[]): Value {
  let shape: Shape | undefined;
  if (x.shape) {
    shape = [...x.shape];
    const r = x.shape.length + axes.length;
    for (const a of [...axes].map((a) => (a < 0 ? r + a : a)).sort((p, q) => p - q)) shape.splice(a, 0, 1);
  }
  return x.graph.node('Unsqueeze', [x, int64s(x.graph, axes)], {}, [{ dtype: x.dtype, shape }])[0];
}

export function squeeze(x: Value, axes: number[]): Value {
  const r = x.rank;
  const norm = axes.map((a) => (a < 0 && r !== undefined ? r + a : a));
  const shape = x.shape?.filter((_, i) => !norm.includes(i));
  return x.graph.node('Squeeze', [x, int64s(x.graph, axes)], {}, [{ dtype: x.dtype, shape }])[0];
}

export function expand(x: Value, shape: number[]): Value {
  const target = new Value(x.graph, '', x.dtype, shape);
  return x.graph.node('Expand', [x, int64s(x.graph, shape)], {}, [{ dtype: x.dtype, shape: broadcastShapes(x, target, 'Expand') }])[0];
}

// ---------------------------------------------------------------- reductions and normalization

function reducedShape(x: Value, axes: number[], keepdims: boolean): Shape | undefined {
  if (!x.shape) return undefined;
  const r = x.shape.length;
  const norm = axes.map((a) => (a < 0 ? r + a : a));
  return keepdims ? x.shape.map((d, i) => (norm.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !norm.includes(i));
}

export function reduceSum(x: Value, axes: number[], keepdims = true): Value {
  return x.graph.node('ReduceSum', [x, int64s(x.graph, axes)], { keepdims: attr.int(keepdims ? 1 : 0) }, [
    { dtype: x.dtype, shape: reducedShape(x, axes, keepdims) },
  ])[0];
}

export function reduceMean(x: Value, axes: number[], keepdims = true): Value {
  return x.graph.node('ReduceMean', [x], { axes: attr.ints(axes), keepdims: attr.int(keepdims ? 1 : 0) }, [
    { dtype: x.dtype, shape: reducedShape(x, axes, keepdims) },
  ])[0];
}

export function reduceMax(x: Value, axes: number[], keepdims = true): Value {
  return x.graph.node('ReduceMax', [x], { axes: attr.ints(axes), keepdims: attr.int(keepdims ? 1 : 0) }, [
    { dtype: x.dtype, shape: reducedShape(x, axes, keepdims) },
  ])[0];
}

export function argMax(x: Value, axis: number, keepdims = true): Value {
  return x.graph.node('ArgMax', [x], { axis: attr.int(axis), keepdims: attr.int(keepdims ? 1 : 0) }, [
    { dtype: 'int64', shape: reducedShape(x, [axis], keepdims) },
  ])[0];
}

export function softmax(x: Value, axis = -1): Value {
  return unary('Softmax', x, { axis: attr.int(axis) });
}

export function cumSum(x: Value, axis: number): Value {
  return x.graph.node('CumSum', [x, constantInt(x.graph, axis)], {}, [{ dtype: x.dtype, shape: x.shape }])[0];
}

function constantInt(graph: Graph, v: number): Value {
  return constant(graph, BigInt64Array.from([BigInt(v)]), [], 'int64', 'axis');
}

/** LayerNormalization over the last axis; `scale`/`bias` omitted means affine-free. */
export function layerNorm(x: Value, eps: number, scale?: Value | null, bias?: Value | null): Value {
  const c = x.dim(-1);
  if (c === undefined) throw new Error(`LayerNorm: last dim of ${x} must be static`);
  const g = x.graph;
  const s = scale ?? constant(g, new Float32Array(c).fill(1), [c], 'float32', 'ln_ones');
  const inputs = [x, s];
  if (bias) inputs.push(bias);
  return g.node('LayerNormalization', inputs, { axis: attr.int(-1), epsilon: attr.float(eps) }, [{ dtype: x.dtype, shape: x.shape }])[0];
}

/** Mean over every axis after the second: [N, C, …] → [N, C, 1, …]. */
export function globalAveragePool(x: Value): Value {
  const shape = x.shape?.map((d, i) => (i < 2 ? d : 1));
  return x.graph.node('GlobalAveragePool', [x], {}, [{ dtype: x.dtype, shape }])[0];
}

/**
 * torch.nn.GroupNorm(groups, C, eps, affine) on NCHW: each group of C/groups channels
 * normalized over its channels and all positions, then y·γ_c + β_c. Statistics and the
 * affine map run in fp32 whatever x's dtype; the result has x's dtype.
 *
 * The statistics come from per-channel means (GlobalAveragePool, which onnxruntime runs on
 * the blocked NCHWc tensor a convolution leaves) averaged over each group's channels: first
 * of x, then of its squared deviation from the group mean (two passes, a biased variance, as
 * torch). The decoder took 0.92× the time it took with a reshape to [N, groups, −1] and
 * InstanceNormalization (engine README, "VQVAE decoder (CPU)").
 */
export function groupNorm(x: Value, groups: number, eps: number, gamma: Value, beta: Value): Value {
  const c = x.dim(1);
  if (c === undefined || c % groups !== 0) throw new Error(`GroupNorm: ${x} needs a static channel count divisible by ${groups}`);
  if (gamma.dtype !== 'float32' || beta.dtype !== 'float32') throw new Error(`GroupNorm: γ ${gamma} and β ${beta} must be float32`);
  const perChannel = [0, c, ...Array((x.rank ?? 4) - 2).fill(1)];
  // [N, C, 1, 1] per-channel values → each channel's group mean, same shape
  const groupMean = (v: Value) =>
    reshape(expand(reduceMean(reshape(v, [0, groups, c / groups]), [2]), [1, groups, c / groups]), perChannel);
  const x32 = cast(x, 'float32');
  const centered = sub(x32, groupMean(globalAveragePool(x32)));
  const variance = groupMean(globalAveragePool(mul(centered, centered)));
  const scale = div(reshape(gamma, perChannel.slice(1)), sqrt(add(variance, eps)));
  const y = add(mul(centered, scale), reshape(beta, perChannel.slice(1)));
  return cast(y, x.dtype);
}

/** Top-k along an axis: [values, int64 indices]. Ties keep the lower index (ONNX's documented order). */
export function topK(x: Value, k: number | Value, axis = -1, largest = true): [Value, Value] {
  const g = x.graph;
  const kv = typeof k === 'number' ? int64s(g, [k]) : k;
  const rank = x.rank ?? 0;
  const shape = x.shape && typeof k === 'number' ? x.shape.map((d, i) => (i === (axis < 0 ? rank + axis : axis) ? k : d)) : undefined;
  const [values, indices] = g.node('TopK', [x, kv], { axis: attr.int(axis), largest: attr.int(largest ? 1 : 0), sorted: attr.int(1) }, [
    { dtype: x.dtype, shape },
    { dtype: 'int64', shape },
  ]);
  return [values, indices];
}

// ---------------------------------------------------------------- convolution

/**
 * 2D convolution, NCHW, stride 1, zero padding: `pad` on every side, or [top, left, bottom,
 * right] (ONNX's order).
 */
export function conv2d(x: Value, weight: Value, bias: Value | null, pad: number | [number, number, number, number]): Value {
  const pads = typeof pad === 'number' ? [pad, pad, pad, pad] : pad;
  let shape: Shape | undefined;
  if (x.shape && weight.shape) {
    const [n, cin, h, w] = x.shape;
    const [cout, wcin, kh, kw] = weight.shape as number[];
    if (typeof cin === 'number' && cin !== wcin) throw new Error(`Conv: ${x} has ${cin} channels, weight ${weight} expects ${wcin}`);
    const out = (d: Dim, k: number, padding: number) => (typeof d === 'number' ? d + padding - k + 1 : d);
    shape = [n, cout, out(h, kh, pads[0] + pads[2]), out(w, kw, pads[1] + pads[3])];
  }
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return x.graph.node('Conv', inputs, { pads: attr.ints(pads) }, [{ dtype: x.dtype, shape }])[0];
}

/**
 * DepthToSpace, DCR order: [N, s²·C, H, W] → [N, C, s·H, s·W] with
 * out[n, c, s·y + a, s·x + b] = in[n, (a·s + b)·C + c, y, x].
 */
export function depthToSpace(x: Value, blockSize: number): Value {
  const scaled = (d: Dim | undefined) => (typeof d === 'number' ? blockSize * d : `${blockSize}*${d}`);
  const c = x.shape?.[1];
  const shape = x.shape && [
    x.shape[0],
    typeof c === 'number' ? c / blockSize ** 2 : `${c}/${blockSize ** 2}`,
    scaled(x.shape[2]),
    scaled(x.shape[3]),
  ];
  return x.graph.node('DepthToSpace', [x], { blocksize: attr.int(blockSize), mode: attr.string('DCR') }, [{ dtype: x.dtype, shape }])[0];
}

// ---------------------------------------------------------------- contrib ops

/**
 * onnxruntime's fused MultiHeadAttention (com.microsoft): q (B,Sq,H·d), k/v (B,Sk,H·d) or
 * already split into heads as (B,H,Sk,d); `keyPaddingMask` int32 (B,Sk), 1 = attend.
 */
export function multiHeadAttention(
  q: Value,
  k: Value,
  v: Value,
  heads: number,
  scaleFactor: number,
  attentionBias?: Value | null,
  keyPaddingMask?: Value | null,
): Value {
  const inputs: (Value | null)[] = [q, k, v, null, keyPaddingMask ?? null, attentionBias ?? null];
  while (inputs[inputs.length - 1] === null) inputs.pop();
  const valueWidth =
    v.shape?.length === 4 && typeof v.shape[1] === 'number' && typeof v.shape[3] === 'number' ? v.shape[1] * v.shape[3] : v.shape?.[2];
  return q.graph.node(
    'MultiHeadAttention',
    inputs,
    { num_heads: attr.int(heads), scale: attr.float(scaleFactor) },
    [{ dtype: q.dtype, shape: q.shape && valueWidth !== undefined ? [q.shape[0], q.shape[1], valueWidth] : undefined }],
    MS_DOMAIN,
  )[0];
}

/**
 * onnxruntime's FastGelu (com.microsoft): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))),
 * torch's GELU(approximate='tanh'), in one pass over x instead of nine
 * element-wise nodes (CPU and CUDA kernels for fp32 and fp16).
 */
export function fastGelu(x: Value): Value {
  return x.graph.node('FastGelu', [x], {}, [{ dtype: x.dtype, shape: x.shape }], MS_DOMAIN)[0];
}

/**
 * onnxruntime's DynamicQuantizeMatMul (com.microsoft): x (…, K) fp32 is
 * quantized to uint8 per tensor at run time and multiplied by the int8 weight
 * b (K, N) with per-column `scale` (N): y = x·(b·scale) + bias, fp32.
 */
export function dynamicQuantizeMatMul(x: Value, b: Value, scale: Value, bias: Value | null): Value {
  const [K, N] = b.shape ?? [];
  if (b.dtype !== 'int8' || b.rank !== 2) throw new Error(`DynamicQuantizeMatMul: weight ${b} is not a 2-D int8 matrix`);
  if (x.dtype !== 'float32' || x.dim(-1) !== K) throw new Error(`DynamicQuantizeMatMul: input ${x} does not match weight ${b}`);
  if (scale.dtype !== 'float32' || scale.dim(-1) !== N) throw new Error(`DynamicQuantizeMatMul: scale ${scale} does not match weight ${b}`);
  return x.graph.node(
    'DynamicQuantizeMatMul',
    bias ? [x, b, scale, null, bias] : [x, b, scale],
    {},
    [{ dtype: 'float32', shape: x.shape && [...x.shape.slice(0, -1), N] }],
    MS_DOMAIN,
  )[0];
}

// ---------------------------------------------------------------- scatter

/** ScatterElements: a copy of x with updates written at `indices` along `axis` (indices and updates share a shape). */
export function scatterElements(x: Value, indices: Value, updates: Value, axis: number): Value {
  if (x.dtype !== updates.dtype) throw new Error(`ScatterElements: dtype mismatch ${x} vs ${updates}`);
  return x.graph.node('ScatterElements', [x, indices, updates], { axis: attr.int(axis) }, [{ dtype: x.dtype, shape: x.shape }])[0];
}
