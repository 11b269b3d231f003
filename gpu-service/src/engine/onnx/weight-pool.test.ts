import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { cachedModel } from './cache.ts';
import { Graph, tensorData } from './graph.ts';
import { add, matmul } from './ops.ts';
import { Session, tensor } from './runtime.ts';
import { POOL_FILE } from './weight-pool.ts';

const tmp = mkdtempSync(join(tmpdir(), 'star-pool-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const N = 256;
const shared = new Float32Array(N * N).map((_, i) => (i % 7) - 3);

/** x·W (+ b): W is the same big tensor in both graphs, b differs. */
function graph(bias: number | null): Graph {
  const g = new Graph(`pooled_${bias}`);
  const x = g.input('x', 'float32', [1, N]);
  const w = g.initializer('w', tensorData('float32', [N, N], new Uint8Array(shared.buffer.slice(0))));
  let y = matmul(x, w);
  if (bias !== null) y = add(y, g.initializer('b', tensorData('float32', [N], new Uint8Array(new Float32Array(N).fill(bias).buffer))));
  g.output(y, 'y');
  return g;
}

test('graphs in one pool store a shared tensor once and run from it', async () => {
  const a = cachedModel({ graph: 'a' }, () => graph(null), tmp, { pool: 'model-x' });
  const b = cachedModel({ graph: 'b' }, () => graph(1), tmp, { pool: 'model-x' });
  assert.equal(dirname(a.modelPath), dirname(b.modelPath));
  assert.equal(a.hit || b.hit, false);
  const poolBytes = statSync(join(dirname(a.modelPath), POOL_FILE)).size;
  assert.ok(poolBytes >= N * N * 4 + N * 4 && poolBytes < 2 * N * N * 4, `pool holds W once (${poolBytes} bytes)`);
  assert.equal(
    cachedModel(
      { graph: 'a' },
      () => {
        throw new Error('rebuilt');
      },
      tmp,
      { pool: 'model-x' },
    ).hit,
    true,
  );
  const x = tensor('float32', new Float32Array(N).fill(1), [1, N]);
  for (const [path, offset] of [
    [a.modelPath, 0],
    [b.modelPath, 1],
  ] as const) {
    const session = await Session.create(path, { device: 'cpu', threads: 1, prepackWeights: false });
    const y = (await session.run({ x })).y.data as Float32Array;
    let expected = offset;
    for (let k = 0; k < N; k++) expected += shared[k * N];
    assert.equal(y[0], expected);
    await session.dispose();
  }
  assert.deepEqual(
    readdirSync(dirname(a.modelPath)).filter((f) => f === 'lock'),
    [],
    'lock released',
  );
});
