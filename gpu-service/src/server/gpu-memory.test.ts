import assert from 'node:assert/strict';
import { it } from 'node:test';
import { parseNvidiaSmi } from './gpu-memory.ts';

it('reads used and total memory per GPU from nvidia-smi CSV, skipping lines it does not understand', () => {
  assert.deepEqual(parseNvidiaSmi('0, 1234, 81559\n1, 0, 81559\n[N/A], x, y\n'), [
    { gpu: '0', usedBytes: 1234 * 1024 * 1024, totalBytes: 81559 * 1024 * 1024 },
    { gpu: '1', usedBytes: 0, totalBytes: 81559 * 1024 * 1024 },
  ]);
  assert.deepEqual(parseNvidiaSmi(''), []);
});
