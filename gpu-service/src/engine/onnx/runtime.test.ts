import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { Graph } from './graph.ts';
import { concat } from './ops.ts';
import { cudaProviderLibrary, cudaProviderProblem, probeCuda, Session, tensor } from './runtime.ts';
import { toModelBytes } from './serialize.ts';

test('without the CUDA provider library, DEVICE=cuda fails at once and says what is missing (this machine has none)', async () => {
  assert.equal(existsSync(cudaProviderLibrary()), false, 'npm ci here skips the CUDA download (.npmrc)');
  assert.match(cudaProviderProblem() ?? '', /libonnxruntime_providers_cuda\.so is missing|no CUDA backend/);
  await assert.rejects(probeCuda(), /DEVICE=cuda: .*ONNXRUNTIME_NODE_INSTALL=cuda12/);
});

test('a run writes the outputs named in `into` into those tensors and returns them; other outputs come fresh', async () => {
  const g = new Graph('into');
  const [a, b] = [g.input('a', 'float32', [2]), g.input('b', 'float32', [1])];
  g.output(concat([a, b], 0), 'ab');
  g.output(concat([b, a], 0), 'ba');
  const session = await Session.create(toModelBytes(g), { device: 'cpu', threads: 1 });
  try {
    const into = { ab: tensor('float32', new Float32Array(3), [3]) };
    for (const [x, y] of [
      [1, 2],
      [5, 6],
    ]) {
      const feeds = { a: tensor('float32', Float32Array.from([x, y]), [2]), b: tensor('float32', Float32Array.from([9]), [1]) };
      const out = await session.run(feeds, { into });
      assert.equal(out.ab, into.ab, 'the same tensor');
      assert.deepEqual([...into.ab.data], [x, y, 9], 'written in place');
      assert.deepEqual([...out.ba.data], [9, x, y]);
    }
  } finally {
    await session.dispose();
  }
});
