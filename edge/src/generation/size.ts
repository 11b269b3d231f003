// OpenAI's `size` (WIDTHxHEIGHT): STAR models make one square size each, so the only size a
// request may name is its model's native one.
import { invalid } from './validate.ts';
import type { ModelInfo } from '../models.ts';

export function nativeSize(model: Pick<ModelInfo, 'resolution'>): string {
  return `${model.resolution}x${model.resolution}`;
}

/** Throws a 400 on `size` that names the one valid size, unless `size` is absent or native. */
export function checkSize(size: string | undefined, model: Pick<ModelInfo, 'id' | 'resolution'>): void {
  if (size === undefined || size === nativeSize(model)) return;
  const valid = nativeSize(model);
  throw invalid(`size "${size}" is not available for ${model.id}; valid sizes: ${valid}`, [{ path: 'size', message: `valid sizes: ${valid}` }]);
}
