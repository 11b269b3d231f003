// gpu-service/bench/ab.ts: how interleaved engine runs of two trees become side-by-side figures.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { summarize } from '../bench/ab.ts';

const run = (batch: number, totals: number[]) => ({
  model: 'm',
  mode: 'all',
  batch,
  runs: totals.map((totalMs) => ({ textMs: 10, generateMs: totalMs - 110, decodeMs: 100, totalMs })),
});

test('summarize: the median over every repeat of every round, per image, per configuration', () => {
  const figures = summarize([
    [run(1, [1000, 3000]), run(4, [8000])],
    [run(1, [2000, 9000]), run(4, [4000, 6000])],
  ]);
  assert.deepEqual([...figures.keys()], ['m · fp32 · all · batch 1', 'm · fp32 · all · batch 4']);
  const one = figures.get('m · fp32 · all · batch 1');
  assert.equal(one?.totalMs, 2.5); // median of 1, 2, 3, 9 s
  assert.equal(one?.decodeMs, 0.1);
  assert.equal(figures.get('m · fp32 · all · batch 4')?.totalMs, 6 / 4); // median of 4, 6, 8 s over 4 images
});
