import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Graph } from '../../onnx/graph.ts';
import { GraphWeights } from '../../onnx/graph-weights.ts';
import { Session, tensor } from '../../onnx/runtime.ts';
import { toModelBytes } from '../../onnx/serialize.ts';
import { TensorStore } from '../../weights/tensors.ts';
import { upsampleConv } from './upsample-conv.ts';

const [CIN, COUT, H, W] = [3, 2, 5, 4];
const wave = (n: number, phase: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.37 + phase));

/** The definition: nearest 2× upsample, then a 3×3 conv with zero padding 1, on one image. */
function reference(x: Float32Array, w: Float32Array, bias: Float32Array): Float32Array {
  const [h2, w2] = [2 * H, 2 * W];
  const up = (c: number, y: number, xx: number) => (y < 0 || y >= h2 || xx < 0 || xx >= w2 ? 0 : x[(c * H + (y >> 1)) * W + (xx >> 1)]);
  const out = new Float32Array(COUT * h2 * w2);
  for (let o = 0; o < COUT; o++)
    for (let y = 0; y < h2; y++)
      for (let xx = 0; xx < w2; xx++) {
        let sum = bias[o];
        for (let c = 0; c < CIN; c++)
          for (let dy = 0; dy < 3; dy++)
            for (let dx = 0; dx < 3; dx++) sum += w[((o * CIN + c) * 3 + dy) * 3 + dx] * up(c, y + dy - 1, xx + dx - 1);
        out[(o * h2 + y) * w2 + xx] = sum;
      }
  return out;
}

test('the folded upsample conv equals nearest 2× upsample then the 3×3 conv, borders included', async () => {
  const [weight, bias, x] = [wave(COUT * CIN * 9, 0.3), wave(COUT, 1.1), wave(CIN * H * W, 2.0)];
  const stored = (name: string, shape: number[], values: Float32Array) => ({
    name,
    dtype: 'float32' as const,
    shape,
    bytes: () => new Uint8Array(values.buffer),
  });
  const store = new TensorStore('test', [stored('up.conv.weight', [COUT, CIN, 3, 3], weight), stored('up.conv.bias', [COUT], bias)]);
  const g = new Graph('upsample-conv');
  const input = g.input('x', 'float32', [1, CIN, 'h', 'w']);
  const out = upsampleConv(new GraphWeights(g, store, 'fp32'), 'up.conv', input, COUT);
  assert.deepEqual(out.shape, [1, COUT, '2*h', '2*w']);
  g.output(out, 'y');
  const session = await Session.create(toModelBytes(g), { device: 'cpu', threads: 1 });
  const { y } = await session.run({ x: tensor('float32', x, [1, CIN, H, W]) });
  await session.dispose();

  assert.deepEqual(y.dims, [1, COUT, 2 * H, 2 * W]);
  const want = reference(x, weight, bias);
  const got = y.data as Float32Array;
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  assert.ok(worst < 1e-5, `max abs error ${worst}`);
});
