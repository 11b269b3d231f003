import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Xoshiro128 } from '../random.ts';
import { TensorStore } from '../weights/tensors.ts';
import { dense, GraphWeights, type WeightBinding, WeightFeeder } from './graph-weights.ts';
import { Graph, tensorData } from './graph.ts';
import { INT8_WEIGHT_LIMIT, quantizeLinear } from './quantize.ts';
import { Session, tensor } from './runtime.ts';
import { toModelBytes } from './serialize.ts';

function uniforms(n: number, seed: number, scale = 1): Float32Array {
  const rng = Xoshiro128.fromSeed(seed);
  return Float32Array.from({ length: n }, () => scale * (2 * rng.nextUniform() - 1));
}

test('quantizeLinear round trip: every weight within half a step of its row, |q| ≤ 64, the row maximum exact', () => {
  const [out, inp] = [24, 40];
  const w = uniforms(out * inp, 1);
  for (let i = 0; i < inp; i++) w[5 * inp + i] *= 1e-3; // a row of small weights gets its own small step
  const { values, scales } = quantizeLinear(w, out, inp);
  assert.equal(values.length, out * inp);
  for (let o = 0; o < out; o++) {
    let absMax = 0;
    for (let i = 0; i < inp; i++) {
      const q = values[i * out + o]; // stored (in, out)
      assert.ok(Math.abs(q) <= INT8_WEIGHT_LIMIT);
      assert.ok(Math.abs(q * scales[o] - w[o * inp + i]) <= scales[o] / 2 + 1e-7 * Math.abs(w[o * inp + i]), `w[${o}][${i}]`);
      absMax = Math.max(absMax, Math.abs(w[o * inp + i]));
    }
    assert.ok(Math.abs(scales[o] * INT8_WEIGHT_LIMIT - absMax) <= 1e-6 * absMax);
  }
  assert.ok(scales[5] < scales[4] / 100);
});

test('quantizeLinear is deterministic and gives an all-zero row scale 1', () => {
  const w = uniforms(6 * 8, 2);
  w.fill(0, 8, 16);
  const a = quantizeLinear(w, 6, 8);
  const b = quantizeLinear(w, 6, 8);
  assert.deepEqual(a, b);
  assert.equal(a.scales[1], 1);
  assert.throws(() => quantizeLinear(w, 5, 8), /48 values for a \(5, 8\) weight/);
});

test('an int8 dense layer runs in onnxruntime and stays within 2 % of the fp32 one; its graph holds no fp32 copy of the weight', async () => {
  const [rows, inp, out] = [6, 64, 48];
  const store = new TensorStore('test', [
    { name: 'fc.weight', ...tensorData('float32', [out, inp], new Uint8Array(uniforms(out * inp, 3, 0.125).buffer)) },
    { name: 'fc.bias', ...tensorData('float32', [out], new Uint8Array(uniforms(out, 4, 0.05).buffer)) },
  ]);
  const x = uniforms(rows * inp, 5);
  const results: Record<string, Float32Array> = {};
  for (const precision of ['fp32', 'int8'] as const) {
    const g = new Graph(`dense-${precision}`);
    g.output(dense(new GraphWeights(g, store, precision), g.input('x', 'float32', [rows, inp]), 'fc', out, inp), 'y');
    if (precision === 'int8')
      assert.deepEqual(
        [...g.initializers.values()].map((t) => t.dtype),
        ['float32', 'int8', 'float32'], // bias, values, scales
      );
    const session = await Session.create(toModelBytes(g), { device: 'cpu', threads: 1 });
    results[precision] = (await session.run({ x: tensor('float32', x, [rows, inp]) })).y.data as Float32Array;
    await session.dispose();
  }
  let [maxErr, maxRef] = [0, 0];
  for (const [i, r] of results.fp32.entries()) {
    maxErr = Math.max(maxErr, Math.abs(results.int8[i] - r));
    maxRef = Math.max(maxRef, Math.abs(r));
  }
  assert.ok(maxErr > 0, 'the int8 product really ran');
  assert.ok(maxErr < 0.02 * maxRef, `max|err| ${maxErr} vs max|ref| ${maxRef}`);
});

test('a dense layer with its weights fed as inputs gives the bytes of the same layer with them in the graph', async () => {
  const [rows, inp, out] = [5, 40, 24];
  const store = new TensorStore('test', [
    { name: 'fc.weight', ...tensorData('float32', [out, inp], new Uint8Array(uniforms(out * inp, 6, 0.125).buffer)) },
    { name: 'fc.bias', ...tensorData('float32', [out], new Uint8Array(uniforms(out, 7, 0.05).buffer)) },
  ]);
  const x = tensor('float32', uniforms(rows * inp, 8), [rows, inp]);
  const y: Partial<Record<WeightBinding, Float32Array>> = {};
  for (const binding of ['initializers', 'inputs'] as const) {
    const g = new Graph(`dense-${binding}`);
    g.output(dense(new GraphWeights(g, store, 'fp32', { binding }), g.input('x', 'float32', [rows, inp]), 'fc', out, inp), 'y');
    const session = await Session.create(toModelBytes(g), { device: 'cpu', threads: 1 });
    const feeder = new WeightFeeder(store);
    y[binding] = (await session.run({ x, ...feeder.feeds(session.inputNames) })).y.data as Float32Array;
    if (binding === 'inputs') assert.ok(feeder.byteLength > 0, 'weights were fed');
    await session.dispose();
  }
  assert.deepEqual(y.inputs, y.initializers);
});

test('int8 weights enter a graph as initializers only, not as fed weight inputs', () => {
  const store = new TensorStore('test', [{ name: 'fc.weight', ...tensorData('float32', [2, 2], new Uint8Array(16)) }]);
  const w = new GraphWeights(new Graph('inputs'), store, 'int8', { binding: 'inputs' });
  assert.throws(() => w.quantizedLinearWeight('fc.weight', 2, 2), /initializers only/);
});

test('a dense layer is x·Wᵀ + b over the stored (out, in) weight, fed or in the graph, for a slice of its input features too', async () => {
  for (const [out, inp] of [
    [3, 37],
    [40, 17],
  ]) {
    const [lead, from, to] = [[2, 3], 5, inp - 4]; // x [2, 3, in]; `columns` takes input features [5, in − 4)
    const [W, b] = [uniforms(out * inp, out + inp, 0.25), uniforms(out, out, 0.5)];
    const store = new TensorStore('test', [
      { name: 'fc.weight', ...tensorData('float32', [out, inp], new Uint8Array(W.buffer)) },
      { name: 'fc.bias', ...tensorData('float32', [out], new Uint8Array(b.buffer)) },
    ]);
    const [x, part] = [uniforms(6 * inp, 9), uniforms(6 * (to - from), 10)];
    const expected = (input: Float32Array, cols: number, first: number, bias: boolean) =>
      Array.from({ length: 6 * out }, (_, k) => {
        const [r, o] = [Math.floor(k / out), k % out];
        let sum = bias ? b[o] : 0;
        for (let i = 0; i < cols; i++) sum += input[r * cols + i] * W[o * inp + first + i];
        return sum;
      });
    for (const binding of ['initializers', 'inputs'] as const) {
      const g = new Graph(`dense-${binding}`);
      const w = new GraphWeights(g, store, 'fp32', { binding });
      const full = dense(w, g.input('x', 'float32', [...lead, inp]), 'fc', out, inp);
      const sliced = dense(w, g.input('part', 'float32', [...lead, to - from]), 'fc', out, inp, { bias: null, columns: [from, to] });
      assert.deepEqual(full.shape, [...lead, out]);
      g.output(full, 'y');
      g.output(sliced, 'y_part');
      const session = await Session.create(toModelBytes(g), { device: 'cpu', threads: 1 });
      const feeds = { x: tensor('float32', x, [...lead, inp]), part: tensor('float32', part, [...lead, to - from]) };
      const y = await session.run({ ...feeds, ...new WeightFeeder(store).feeds(session.inputNames) });
      await session.dispose();
      for (const [name, want] of [
        ['y', expected(x, inp, 0, true)],
        ['y_part', expected(part, to - from, from, false)],
      ] as const) {
        const got = y[name].data as Float32Array;
        assert.deepEqual(y[name].dims, [...lead, out]);
        for (const [k, v] of want.entries())
          assert.ok(Math.abs(got[k] - v) < 1e-5, `${binding} ${name}[${k}] [${out}, ${inp}]: ${got[k]} vs ${v}`);
      }
    }
  }
});
