import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { writeTorchStateDict } from '../testing/torch-save.ts';
import { convertToSafetensors } from './convert.ts';
import { readSafetensors } from './safetensors.ts';
import type { StoredTensor } from './tensors.ts';

const tmp = mkdtempSync(join(tmpdir(), 'star-convert-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const f32 = (name: string, shape: number[], values: number[]): StoredTensor => ({
  name,
  dtype: 'float32',
  shape,
  bytes: () => new Uint8Array(Float32Array.from(values).buffer),
});
const TENSORS = [f32('word_embed.weight', [2, 3], [1, 2, 3, 4, 5, 6]), f32('head.bias', [2], [0.5, -0.25])];

test('extracts the state dict at a key of a training snapshot to safetensors, reporting progress in bytes', () => {
  const snapshot = join(tmp, 'snapshot.pth');
  writeTorchStateDict(snapshot, TENSORS, { at: ['trainer', 'var_wo_ddp'] });
  const out = join(tmp, 'generator.safetensors');
  const progress: [number, number][] = [];
  const result = convertToSafetensors(snapshot, out, {
    key: 'trainer.var_wo_ddp',
    onProgress: (bytes, total) => progress.push([bytes, total]),
  });
  assert.deepEqual(result, { tensors: 2, bytes: 32 });
  assert.deepEqual(progress, [
    [24, 32],
    [32, 32],
  ]);
  const store = readSafetensors(out);
  assert.deepEqual(store.names, ['word_embed.weight', 'head.bias']);
  assert.deepEqual([...store.float32('word_embed.weight', [2, 3])], [1, 2, 3, 4, 5, 6]);
  assert.deepEqual([...store.float32('head.bias')], [0.5, -0.25]);
});

test('casts floating-point tensors when asked and leaves integer tensors alone', () => {
  const path = join(tmp, 'plain.pth');
  const ids: StoredTensor = {
    name: 'position_ids',
    dtype: 'int64',
    shape: [3],
    bytes: () => new Uint8Array(BigInt64Array.from([0n, 1n, 2n]).buffer),
  };
  writeTorchStateDict(path, [...TENSORS, ids]);
  const out = join(tmp, 'half.safetensors');
  assert.deepEqual(convertToSafetensors(path, out, { dtype: 'float16' }), { tensors: 3, bytes: 12 + 4 + 24 });
  const store = readSafetensors(out);
  assert.equal(store.get('word_embed.weight').dtype, 'float16');
  assert.deepEqual([...store.float32('head.bias')], [0.5, -0.25]);
  assert.equal(store.get('position_ids').dtype, 'int64');
});
