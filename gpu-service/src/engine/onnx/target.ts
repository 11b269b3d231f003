// What a graph is built for: the device its session runs on and the
// precision it computes in. Defined here once; builders, sessions, the
// pipeline, the CLI and the bench all import these.
import type { DType } from './dtype.ts';

export type Device = 'cpu' | 'cuda';
export const DEVICES: readonly Device[] = ['cpu', 'cuda'];

/** 'fp16' stores matrices and runs products at half precision; what stays fp32 is each model's to say. */
export type Precision = 'fp32' | 'fp16';
export const PRECISIONS: readonly Precision[] = ['fp32', 'fp16'];

/** The element type a precision computes in. */
export function computeDType(precision: Precision): DType {
  return precision === 'fp16' ? 'float16' : 'float32';
}
