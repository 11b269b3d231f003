// What a graph is built for: the device its session runs on and the
// precision it computes in. Defined here once; builders, sessions, the
// pipeline, the CLI and the bench all import these.
import type { DType } from './dtype.ts';

export type Device = 'cpu' | 'cuda';
export const DEVICES: readonly Device[] = ['cpu', 'cuda'];

/**
 * 'fp16' stores matrices and runs products at half precision; what stays fp32 is each model's to say.
 * 'int8' (CPU) stores the generator's linear layers as int8 (onnx/quantize.ts) and runs their products on
 * int8 activations quantized at run time; everything else computes in fp32.
 */
export type Precision = 'fp32' | 'fp16' | 'int8';
export const PRECISIONS: readonly Precision[] = ['fp32', 'fp16', 'int8'];

/** The element type a precision computes in (int8's activations and non-linear layers stay fp32). */
export function computeDType(precision: Precision): DType {
  return precision === 'fp16' ? 'float16' : 'float32';
}

/**
 * The precision of the graphs a precision leaves unquantized: the VQVAE
 * decoder and φ convolutions, whose convolutions int8 does not cover.
 */
export function floatPrecision(precision: Precision): Exclude<Precision, 'int8'> {
  return precision === 'int8' ? 'fp32' : precision;
}

/** Whether a precision has kernels on a device: int8's DynamicQuantizeMatMul is CPU-only (on CUDA every product would cross to the host and back). */
export function runsOn(precision: Precision, device: Device): boolean {
  return precision !== 'int8' || device === 'cpu';
}

/** Refuses a precision the device cannot run (runsOn), naming what it can. */
export function assertRunsOn(precision: Precision, device: Device): void {
  if (!runsOn(precision, device))
    throw new Error(`precision '${precision}' runs on the CPU only; ${device.toUpperCase()} runs fp16 or fp32`);
}
