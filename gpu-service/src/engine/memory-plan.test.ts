import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generatorMemory, planBatches } from './memory-plan.ts';
import { fromUpstreamArgs } from './models/generator/config.ts';
import { STAR_VQVAE } from './models/vqvae/config.ts';

const GIB = 1024 ** 3;
// star-1024-d30's generator (STAR-SPEC §8): depth 30, CLIP ViT-H text (1024), 1024² from a 64² last scale
const d30At1024 = fromUpstreamArgs({
  patch_nums: [1, 2, 3, 4, 5, 7, 9, 12, 16, 21, 27, 36, 48, 64],
  V: 4096,
  Cvae: 32,
  depth: 30,
  in_dim_cross: 1024,
});

test('star-1024-d30 in fp16: weights of ~1.7 B parameters, a KV cache of GiBs per image', () => {
  const m = generatorMemory(d30At1024, STAR_VQVAE, 'fp16');
  assert.ok(m.weightsBytes > 2.5 * GIB && m.weightsBytes < 5 * GIB, `${m.weightsBytes / GIB} GiB`);
  assert.ok(m.perImageBytes > 4 * GIB && m.perImageBytes < 16 * GIB, `${m.perImageBytes / GIB} GiB`);
  const fp32 = generatorMemory(d30At1024, STAR_VQVAE, 'fp32');
  assert.ok(fp32.weightsBytes === 2 * m.weightsBytes && fp32.perImageBytes > m.perImageBytes);
});

test('the plan keeps two sessions (1 and the largest batch that fits) and sizes them by free memory', () => {
  const m = generatorMemory(d30At1024, STAR_VQVAE, 'fp16');
  // measured on an H200: batch 1 in one run peaked at 27.3 GiB of GPU memory
  assert.ok(Math.abs(planBatches(m, 139 * GIB, 1).needBytes(1) + 2 * GIB - 27.3 * GIB) < 1 * GIB, 'batch 1 as measured');
  const h200 = planBatches(m, 139 * GIB, 4);
  assert.deepEqual(h200.batchSizes, [1, 4]);
  assert.equal(h200.maxBatch, 4);
  assert.ok(h200.needBytes(4) <= 137 * GIB && h200.needBytes(4) > h200.needBytes(2));
  assert.deepEqual(planBatches(m, 79 * GIB, 4).batchSizes, [1, 2], 'an 80 GB H100 takes batches of 2');
  const small = planBatches(m, 60 * GIB, 8);
  assert.ok(small.maxBatch >= 1 && small.maxBatch < 8, small.summary);
  assert.deepEqual(small.batchSizes, small.maxBatch > 1 ? [1, small.maxBatch] : [1]);
  assert.ok(small.needBytes(small.maxBatch + 1) > 58 * GIB, 'the next size would not fit');
  assert.match(small.summary, new RegExp(`batches above ${small.maxBatch} refused`));
  const none = planBatches(m, 16 * GIB, 1);
  assert.equal(none.maxBatch, 0);
  assert.deepEqual(none.batchSizes, []);
  assert.match(none.summary, /one image needs .* more than fits/);
});
