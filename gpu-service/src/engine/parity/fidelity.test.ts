import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FidelityMeter, topKDraw } from './fidelity.ts';

test('a top-k draw inverts the CDF of the softmax over the k largest logits', () => {
  const logits = Float32Array.from([0, Math.log(3), 5, -9]); // top 2: index 2 (e^5), then 1 (3)
  const p2 = Math.exp(5) / (Math.exp(5) + 3);
  assert.equal(topKDraw(logits, 2, p2 - 1e-6), 2);
  assert.equal(topKDraw(logits, 2, p2 + 1e-6), 1);
  assert.equal(topKDraw(logits, 1, 0.999), 2);
});

test('the meter reports relative logits error and the share of positions whose tokens agree', () => {
  const meter = new FidelityMeter(4);
  meter.addLogits(Float32Array.from([1.1, -2, 0, 0]), Float32Array.from([1, -2, 0, 0]));
  // row 0 agrees everywhere; row 1's argmax moves from index 0 to index 3
  meter.addMixedLogits(Float32Array.from([9, 0, 0, 0, 0, 0, 0, 9.5]), Float32Array.from([9, 0, 0, 0, 9.5, 0, 0, 9]));
  const r = meter.result();
  assert.ok(Math.abs(r.maxRelativeError - 0.05) < 1e-6);
  assert.ok(Math.abs(r.meanRelativeError - 0.1 / 3) < 1e-6);
  assert.equal(r.positions, 2);
  assert.equal(r.argmaxAgreement, 0.5);
  assert.equal(r.topK, 1);
  assert.equal(r.topKAgreement, 0.5, 'top-1 draws are the argmax');
});
