import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cachedModel } from './cache.ts';
import { Graph, tensorData } from './graph.ts';
import { add, constant, fastGelu, groupNorm, layerNorm, matmul, reshape, topK, transpose } from './ops.ts';
import { Session, tensor } from './runtime.ts';
import { toModelBytes } from './serialize.ts';

const tmp = mkdtempSync(join(tmpdir(), 'star-onnx-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function linearGraph(): Graph {
  const g = new Graph('linear');
  const x = g.input('x', 'float32', ['batch', 3]);
  const w = g.initializer('w', tensorData('float32', [2, 3], new Uint8Array(Float32Array.from([1, 2, 3, 4, 5, 6]).buffer)));
  const b = constant(g, Float32Array.from([0.5, -0.5]), [2]);
  g.output(add(matmul(x, transpose(w, [1, 0])), b), 'y');
  return g;
}

test('a built graph runs in onnxruntime and computes x·Wᵀ + b', async () => {
  const session = await Session.create(toModelBytes(linearGraph()), { device: 'cpu' });
  const out = await session.run({ x: tensor('float32', Float32Array.from([1, 1, 1, 0, 1, 0]), [2, 3]) });
  assert.deepEqual([...out.y.data], [6.5, 14.5, 2.5, 4.5]);
  assert.deepEqual(out.y.dims, [2, 2]);
  await session.dispose();
});

test('shape mistakes fail at build time naming both tensors', () => {
  const g = new Graph('bad');
  const a = g.input('a', 'float32', [2, 3]);
  const b = g.input('b', 'float32', [4, 5]);
  assert.throws(() => add(a, b), /Add: cannot broadcast a:float32\[2,3\] with b:float32\[4,5\]/);
  assert.throws(() => reshape(a, [4, 2]), /Reshape: a:float32\[2,3\] cannot become \[4,2\]/);
  assert.throws(() => transpose(a, [0]), /Transpose/);
});

test('affine-free LayerNorm and TopK behave as torch does', async () => {
  const g = new Graph('ln');
  const x = g.input('x', 'float32', [1, 4]);
  const y = layerNorm(x, 1e-6);
  const [vals, idx] = topK(y, 2);
  g.output(y, 'y');
  g.output(vals, 'vals');
  g.output(idx, 'idx');
  const s = await Session.create(toModelBytes(g), { device: 'cpu' });
  const out = await s.run({ x: tensor('float32', Float32Array.from([1, 2, 3, 4]), [1, 4]) });
  const sd = Math.sqrt(1.25 + 1e-6);
  [-1.5, -0.5, 0.5, 1.5].forEach((v, i) => {
    assert.ok(Math.abs((out.y.data[i] as number) - v / sd) < 1e-6);
  });
  assert.deepEqual([...(out.idx.data as BigInt64Array)], [3n, 2n]);
  await s.dispose();
});

function sumGraph(): Graph {
  const g = new Graph('sum');
  const x = g.input('x', 'float32', [1, 256]);
  const w = constant(g, new Float32Array(4 * 256).fill(1), [4, 256]); // 4 KiB: goes to the weights file
  g.output(matmul(x, transpose(w, [1, 0])), 'y');
  return g;
}

test('the disk cache stores weights as external data and reuses the built model', async () => {
  let builds = 0;
  const key = { model: 'sum', precision: 'fp32' };
  const build = () => {
    builds++;
    return sumGraph();
  };
  const first = cachedModel(key, build, tmp);
  const second = cachedModel(key, build, tmp);
  assert.equal(builds, 1);
  assert.equal(first.hit, false);
  assert.equal(second.hit, true);
  assert.equal(first.modelPath, second.modelPath);
  assert.ok(statSync(join(first.modelPath, '../weights.bin')).size >= 4096, 'weights stored as external data');
  assert.ok(statSync(first.modelPath).size < 4096, 'model file holds no large weights');
  const other = cachedModel({ ...key, precision: 'fp16' }, build, tmp);
  assert.notEqual(other.modelPath, first.modelPath);
  const session = await Session.create(first.modelPath, { device: 'cpu' });
  const out = await session.run({ x: tensor('float32', new Float32Array(256).fill(0.5), [1, 256]) });
  assert.deepEqual([...out.y.data], [128, 128, 128, 128]);
  await session.dispose();
});

test('asking for CUDA on a CPU-only build fails with a clear message', async () => {
  await assert.rejects(Session.create(toModelBytes(linearGraph()), { device: 'cuda' }), /CUDA/);
});

test("FastGelu is torch's GELU(approximate='tanh'), not the erf GELU", async () => {
  const xs = Float32Array.from({ length: 161 }, (_, i) => (i - 80) / 10); // −8 … 8
  const g = new Graph('fast-gelu');
  g.output(fastGelu(g.input('x', 'float32', [xs.length])), 'y');
  const session = await Session.create(toModelBytes(g), { device: 'cpu' });
  const y = (await session.run({ x: tensor('float32', xs, [xs.length]) })).y.data as Float32Array;
  await session.dispose();
  const tanhGelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
  for (const [i, x] of xs.entries())
    assert.ok(Math.abs(y[i] - tanhGelu(x)) <= 2e-6 * Math.max(1, Math.abs(x)), `GELU_tanh(${x}) = ${y[i]}`);
  // the erf GELU at −2 is −0.0455003, 1e-4 away from the tanh form: far outside the tolerance above
  assert.ok(Math.abs(y[xs.indexOf(-2)] - -0.0455003) > 5e-5);
});

test("GroupNorm is torch's: biased variance over each group's channels and positions, any batch size", async () => {
  const [C, H, W, groups, eps] = [6, 5, 3, 3, 1e-6];
  const g = new Graph('group_norm');
  const gamma = Float32Array.from({ length: C }, (_, c) => 0.5 + c / 4);
  const beta = Float32Array.from({ length: C }, (_, c) => c - 2);
  const x = g.input('x', 'float32', ['batch', C, H, W]);
  g.output(groupNorm(x, groups, eps, constant(g, gamma, [C]), constant(g, beta, [C])), 'y');
  const session = await Session.create(toModelBytes(g), { device: 'cpu' });
  for (const N of [1, 3]) {
    // each channel its own offset and spread, so a per-channel or per-image statistic would show
    const data = Float32Array.from({ length: N * C * H * W }, (_, i) => Math.sin(i * 1.3) * (1 + (i % 7)) + Math.floor(i / (H * W)) * 3);
    const y = (await session.run({ x: tensor('float32', data, [N, C, H, W]) })).y.data as Float32Array;
    const size = (C / groups) * H * W;
    for (let start = 0; start < data.length; start += size) {
      const group = [...data.subarray(start, start + size)];
      const mean = group.reduce((a, b) => a + b, 0) / size;
      const variance = group.reduce((a, b) => a + (b - mean) ** 2, 0) / size;
      for (let j = 0; j < size; j++) {
        const c = Math.floor(((start + j) / (H * W)) % C);
        const want = ((group[j] - mean) / Math.sqrt(variance + eps)) * gamma[c] + beta[c];
        assert.ok(Math.abs(y[start + j] - want) < 1e-5 * (1 + Math.abs(want)), `N ${N}, element ${start + j}: ${y[start + j]} vs ${want}`);
      }
    }
  }
  await session.dispose();
});

test("graph outputs take a node output's name in place; inputs and repeated outputs go through an Identity", async () => {
  const g = new Graph('outputs');
  const x = g.input('x', 'float32', [2]);
  const y = add(x, 1);
  g.output(y, 'y');
  const z = add(y, 10); // used after it became an output: the consumer follows the new name
  g.output(z, 'z');
  g.output(y, 'y_again');
  g.output(x, 'x_out');
  assert.deepEqual(
    g.nodes.filter((n) => n.opType === 'Identity').map((n) => n.outputs[0]),
    ['y_again', 'x_out'],
  );
  assert.equal(y.name, 'y');
  const session = await Session.create(toModelBytes(g), { device: 'cpu' });
  const out = await session.run({ x: tensor('float32', Float32Array.from([1, 2]), [2]) });
  assert.deepEqual([...out.y.data], [2, 3]);
  assert.deepEqual([...out.z.data], [12, 13]);
  assert.deepEqual([...out.y_again.data], [2, 3]);
  assert.deepEqual([...out.x_out.data], [1, 2]);
  await session.dispose();
});
