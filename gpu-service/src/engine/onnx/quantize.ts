// Weight quantization for the 'int8' precision, done once when a graph is
// built: a torch Linear weight (out, in) becomes int8 values stored (in, out),
// as com.microsoft DynamicQuantizeMatMul reads its B, and one fp32 scale per
// output feature: w[o][i] ≈ q[i][o] · scale[o]. Symmetric (no zero point) and
// round-to-nearest, so the same weights always give the same bytes.
//
// The values use 7 bits (|q| ≤ 64, onnxruntime's `reduce_range`): without
// VNNI, onnxruntime's int8 GEMM multiplies uint8 activations by int8 weights
// with AVX2's VPMADDUBSW, which saturates a pair of products at 32767;
// 2 · 255 · 64 stays below it, 2 · 255 · 127 does not.

/** Largest |q|: 7 bits, see above. */
export const INT8_WEIGHT_LIMIT = 64;

export interface QuantizedLinear {
  /** (in, out), row-major: q[i · out + o]. */
  values: Int8Array;
  /** (out): w ≈ q · scale. */
  scales: Float32Array;
}

/** Quantizes a torch Linear weight given as (out, in) fp32 values; an all-zero row gets scale 1. */
export function quantizeLinear(weight: Float32Array, outFeatures: number, inFeatures: number): QuantizedLinear {
  if (weight.length !== outFeatures * inFeatures)
    throw new Error(`quantizeLinear: ${weight.length} values for a (${outFeatures}, ${inFeatures}) weight`);
  const values = new Int8Array(weight.length);
  const scales = new Float32Array(outFeatures);
  for (let o = 0; o < outFeatures; o++) {
    const row = weight.subarray(o * inFeatures, (o + 1) * inFeatures);
    let absMax = 0;
    for (const v of row) absMax = Math.max(absMax, Math.abs(v));
    const scale = absMax > 0 ? Math.fround(absMax / INT8_WEIGHT_LIMIT) : 1;
    scales[o] = scale;
    for (let i = 0; i < inFeatures; i++) values[i * outFeatures + o] = Math.round(row[i] / scale);
  }
  return { values, scales };
}
