// Any weight file openWeights reads → safetensors, tensor by tensor, keeping
// upstream key names: `star convert`, and fetch-model's extraction of the
// generator from a training snapshot. Only one tensor is in memory at a time.
import type { DType } from '../onnx/dtype.ts';
import { openWeights } from './open.ts';
import { writeSafetensors } from './safetensors.ts';
import type { StoredTensor } from './tensors.ts';
import { byteLength } from './tensors.ts';

const FLOATS: readonly DType[] = ['float32', 'float16', 'bfloat16', 'float64'];

export interface ConvertOptions {
  /** Dot path of the state dict inside a torch.save checkpoint (found automatically when omitted). */
  key?: string;
  /** Cast floating-point tensors to this type; others keep theirs. */
  dtype?: 'float16' | 'float32';
  /** Called after each tensor is read, with the bytes read so far and the total to write. */
  onProgress?: (bytes: number, total: number) => void;
}

export function convertToSafetensors(input: string, output: string, options: ConvertOptions = {}): { tensors: number; bytes: number } {
  const store = openWeights(input, { key: options.key });
  const tensors = store.names.map((name) => {
    const t = store.get(name);
    return options.dtype && FLOATS.includes(t.dtype) ? store.as(name, options.dtype) : t;
  });
  const total = tensors.reduce((sum, t) => sum + byteLength(t), 0);
  let done = 0;
  const reported = tensors.map(
    (t): StoredTensor => ({
      ...t,
      bytes: () => {
        const bytes = t.bytes();
        done += bytes.byteLength;
        options.onProgress?.(done, total);
        return bytes;
      },
    }),
  );
  writeSafetensors(output, reported, { source: input, ...(options.key ? { key: options.key } : {}) });
  return { tensors: tensors.length, bytes: total };
}
