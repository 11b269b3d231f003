// Low-resolution previews between scales: the cumulative f_hat, area-downsampled to a
// small latent in TS, decoded by the same decoder graph (its latent size is symbolic).
//
// Cost: the downsampling is B·Cvae·P² additions (≈ 0.1 ms for P = 16). The decode
// scales with the latent area: a side-s preview costs about (s/P)² of a full decode,
// e.g. side 8 of a 16×16 latent ≈ ¼ of the 256² decode and yields a 128² image.
import type { RuntimeTensor } from '../../onnx/runtime.ts';
import { tensor } from '../../onnx/runtime.ts';
import { areaDownsample } from './resample.ts';

/**
 * f_hat (fp32 [B, Cvae, P, P]) → fp32 [B, Cvae, side, side] with torch's `mode='area'`
 * (the same operator that makes the next scale's input). `side ≥ P` returns f_hat as is.
 */
export function previewLatent(fHat: RuntimeTensor, side: number): RuntimeTensor {
  if (fHat.dtype !== 'float32' || fHat.dims.length !== 4)
    throw new Error(`previewLatent: f_hat must be float32 [B, C, P, P], got ${fHat.dtype}[${fHat.dims.join(', ')}]`);
  if (!Number.isInteger(side) || side < 1) throw new Error(`previewLatent: side must be a positive integer, got ${side}`);
  const [b, c, h, w] = fHat.dims;
  if (side >= h && side >= w) return fHat;
  return tensor('float32', areaDownsample(fHat.data as Float32Array, fHat.dims, Math.min(side, h), Math.min(side, w)), [
    b,
    c,
    Math.min(side, h),
    Math.min(side, w),
  ]);
}
