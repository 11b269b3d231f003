import assert from 'node:assert/strict';
import { it } from 'node:test';
import { parseNvidiaSmi } from './gpu-memory.ts';

it('reads used, free and total memory per GPU from nvidia-smi CSV, skipping lines it does not understand', () => {
  assert.deepEqual(parseNvidiaSmi('0, 1234, 80325, 81559\n1, 0, 81559, 81559\n[N/A], x, y, z\n0, 1, 2\n'), [
    { gpu: '0', usedBytes: 1234 * 1024 * 1024, freeBytes: 80325 * 1024 * 1024, totalBytes: 81559 * 1024 * 1024 },
    { gpu: '1', usedBytes: 0, freeBytes: 81559 * 1024 * 1024, totalBytes: 81559 * 1024 * 1024 },
  ]);
  assert.deepEqual(parseNvidiaSmi(''), []);
});
