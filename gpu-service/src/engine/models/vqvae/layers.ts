// Op helpers the decoder needs beyond onnx/ops.ts, in the same style (static shape
// checks, one ONNX op or a short composition each). Kept here rather than appended to
// ops.ts while others edit that file; they can move there unchanged.
import type { Shape } from '../../onnx/graph.ts';
import { attr, type Value } from '../../onnx/graph.ts';
import { float32ToFloat16 } from '../../onnx/dtype.ts';
import { add, cast, constant, mul, reshape, scalar } from '../../onnx/ops.ts';

/** A scalar constant of x's dtype (ops.scalar has no float16). */
export function scalarLike(x: Value, value: number): Value {
  if (x.dtype === 'float16') return constant(x.graph, Uint16Array.from([float32ToFloat16(value)]), [], 'float16', 'scalar');
  return scalar(x.graph, value, x.dtype);
}

/** The runtime shape of x as an int64 vector (ONNX Shape). */
export function shapeOf(x: Value): Value {
  return x.graph.node('Shape', [x], {}, [{ dtype: 'int64', shape: [x.rank ?? 'rank'] }])[0];
}

/** Reshape to a runtime shape (e.g. another value's `shapeOf`); `staticShape` is what the builder records. */
export function reshapeTo(x: Value, shape: Value, staticShape: Shape | undefined): Value {
  return x.graph.node('Reshape', [x, shape], {}, [{ dtype: x.dtype, shape: staticShape }])[0];
}

/** InstanceNormalization over every axis after the second, affine-free (unit scale, zero bias). */
export function instanceNorm(x: Value, eps: number): Value {
  const c = x.dim(1);
  if (c === undefined) throw new Error(`InstanceNormalization: channel dim of ${x} must be static`);
  const g = x.graph;
  const ones = constant(g, new Float32Array(c).fill(1), [c], 'float32', 'in_ones');
  const zeros = constant(g, new Float32Array(c), [c], 'float32', 'in_zeros');
  if (x.dtype !== 'float32') throw new Error(`InstanceNormalization: ${x} must be float32 (statistics are kept in fp32)`);
  return g.node('InstanceNormalization', [x, ones, zeros], { epsilon: attr.float(eps) }, [{ dtype: x.dtype, shape: x.shape }])[0];
}

/**
 * torch.nn.GroupNorm(groups, C, eps, affine) on NCHW: each group of C/groups channels
 * normalized over its channels and all positions, then y·γ_c + β_c. Statistics and the
 * affine map run in fp32 whatever x's dtype; the result has x's dtype.
 */
export function groupNorm(x: Value, groups: number, eps: number, gamma: Value, beta: Value): Value {
  const c = x.dim(1);
  if (c === undefined || c % groups !== 0) throw new Error(`GroupNorm: ${x} needs a static channel count divisible by ${groups}`);
  if (gamma.dtype !== 'float32' || beta.dtype !== 'float32') throw new Error(`GroupNorm: γ ${gamma} and β ${beta} must be float32`);
  const x32 = cast(x, 'float32');
  const grouped = reshape(x32, [0, groups, -1]);
  const normalized = reshapeTo(instanceNorm(grouped, eps), shapeOf(x32), x32.shape);
  const y = add(mul(normalized, reshape(gamma, [c, 1, 1])), reshape(beta, [c, 1, 1]));
  return cast(y, x.dtype);
}

/** `F.interpolate(x, scale_factor=2, mode='nearest')` on NCHW: out[y, x] = in[⌊y/2⌋, ⌊x/2⌋]. */
export function upsampleNearest2x(x: Value): Value {
  const g = x.graph;
  const scales = constant(g, Float32Array.from([1, 1, 2, 2]), [4], 'float32', 'resize_scales');
  const twice = (d: number | string | undefined) => (typeof d === 'number' ? 2 * d : `2*${d}`);
  const shape = x.shape && [x.shape[0], x.shape[1], twice(x.shape[2]), twice(x.shape[3])];
  return g.node(
    'Resize',
    [x, null, scales],
    {
      mode: attr.string('nearest'),
      coordinate_transformation_mode: attr.string('asymmetric'),
      nearest_mode: attr.string('floor'),
    },
    [{ dtype: x.dtype, shape }],
  )[0];
}
