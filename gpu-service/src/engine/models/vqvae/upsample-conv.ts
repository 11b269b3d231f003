// The decoder's Upsample: nearest 2× resize, then a 3×3 "same" conv (STAR-SPEC §5.1), computed
// without the resize. Output pixel (2y + a, 2x + b) reads the 3×3 window around it in the
// upsampled map, which holds only 2×2 distinct input pixels; summing the taps that land on
// the same input pixel gives one 2×2 kernel per output parity (a, b):
//
//   a = 0: rows y−1, y   take kernel rows {0}, {1, 2}
//   a = 1: rows y, y+1   take kernel rows {0, 1}, {2}       (columns likewise with b)
//
// Four 2×2 convs on the small map (16 taps per input pixel instead of 36 after the resize),
// interleaved by DepthToSpace: the same sums up to float rounding, 2.25× fewer FLOPs.
import type { Value } from '../../onnx/graph.ts';
import type { GraphWeights } from '../../onnx/graph-weights.ts';
import { concat, conv2d, depthToSpace } from '../../onnx/ops.ts';

/** For output parity 0 and 1: which of the 3 kernel taps each of the 2 folded taps sums. */
const FOLDED_TAPS = [
  [[0], [1, 2]],
  [[0, 1], [2]],
] as const;

/** Zero padding [top, left, bottom, right] that aligns a 2×2 kernel with parity (a, b)'s input pixels. */
const parityPads = (a: number, b: number): [number, number, number, number] => [1 - a, 1 - b, a, b];

/**
 * A 3×3 conv kernel [cout, cin, 3, 3] folded for parity (a, b): [cout, cin, 2, 2] with
 * k[o, i, r, s] = Σ w[o, i, dy, dx] over dy ∈ FOLDED_TAPS[a][r], dx ∈ FOLDED_TAPS[b][s].
 */
export function foldUpsampleKernel(w: Float32Array, cout: number, cin: number, a: number, b: number): Float32Array {
  const out = new Float32Array(cout * cin * 4);
  for (let oi = 0; oi < cout * cin; oi++)
    for (let r = 0; r < 2; r++)
      for (let s = 0; s < 2; s++) {
        let sum = 0;
        for (const dy of FOLDED_TAPS[a][r]) for (const dx of FOLDED_TAPS[b][s]) sum += w[oi * 9 + dy * 3 + dx];
        out[oi * 4 + r * 2 + s] = sum;
      }
  return out;
}

/** The 3×3 conv `prefix` (weight [cout, cin, 3, 3], bias [cout]) on the nearest 2× upsample of x. */
export function upsampleConv(w: GraphWeights, prefix: string, x: Value, cout: number): Value {
  const cin = x.size(1);
  const weightKey = `${w.keyPrefix}${prefix}.weight`;
  w.store.get(weightKey, [cout, cin, 3, 3]);
  const bias = w.matrix(`${prefix}.bias`, [cout]);
  let weight: Float32Array | undefined; // read once for the four folds, when the graph is serialized
  const parities = [0, 1].flatMap((a) =>
    [0, 1].map((b) => {
      const kernel = w.derived(`${prefix}.weight.parity${a}${b}`, [cout, cin, 2, 2], (store) => {
        weight ??= store.float32(weightKey);
        return foldUpsampleKernel(weight, cout, cin, a, b);
      });
      return conv2d(x, kernel, bias, parityPads(a, b));
    }),
  );
  return depthToSpace(concat(parities, 1), 2); // channel (a·2 + b)·cout + o → pixel (2y + a, 2x + b)
}
