import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Graph } from '../../onnx/graph.ts';
import { Session, tensor } from '../../onnx/runtime.ts';
import { toModelBytes } from '../../onnx/serialize.ts';
import { fixturePath } from '../../testing/fixtures.ts';
import { readSafetensors } from '../../weights/safetensors.ts';
import { cfgMix, filteredProbabilities, prefixSum, sampleInverseCdf, topPThreshold } from './sampling.ts';

const B = 2;
const n = 3;
const V = 4;
let session: Session;

before(async () => {
  const g = new Graph('sampling');
  const probs = g.input('probs', 'float32', [B, n, V]);
  const u = g.input('u', 'float32', [B, n]);
  const logits = g.input('logits', 'float32', [2 * B, 1, V]);
  const cfg = g.input('cfg', 'float32', [B]);
  const drawn = sampleInverseCdf(probs, u);
  g.output(drawn.tokens, 'tokens');
  g.output(drawn.conf, 'conf');
  g.output(cfgMix(logits, cfg, 1 / 3), 'mixed');
  session = await Session.create(toModelBytes(g), { device: 'cpu', threads: 1 });
});
after(() => session.dispose());

async function draw(probs: number[], u: number[]): Promise<{ tokens: number[]; conf: number[] }> {
  const out = await session.run(
    {
      probs: tensor('float32', Float32Array.from(probs), [B, n, V]),
      u: tensor('float32', Float32Array.from(u), [B, n]),
      logits: tensor('float32', new Float32Array(2 * B * V), [2 * B, 1, V]),
      cfg: tensor('float32', new Float32Array(B), [B]),
    },
    { fetches: ['tokens', 'conf'] },
  );
  return { tokens: [...(out.tokens.data as BigInt64Array)].map(Number), conf: [...(out.conf.data as Float32Array)] };
}

test('inverse-CDF sampling picks the first index whose running sum exceeds u·Σπ', async () => {
  const row = [0.25, 0.25, 0.5, 0];
  const probs = Array.from({ length: B * n }, () => row).flat();
  // u·1 = 0.1 → 0; exactly 0.25 → not above the first sum → 1; 0.5 → 2; 0.75 → 2; near 1 → 2 (never the zero-probability 3)
  const { tokens, conf } = await draw(probs, [0.1, 0.25, 0.5, 0.75, 0.9999999, 0.3]);
  assert.deepEqual(tokens, [0, 1, 2, 2, 2, 1]);
  assert.deepEqual(conf, [0.25, 0.25, 0.5, 0.5, 0.5, 0.25]);
});

test('inverse-CDF sampling never returns a zero-probability token, even when rounding leaves none above u', async () => {
  const probs = Array.from({ length: B * n }, (_, i) => (i % 2 ? [0, 1, 0, 0] : [0, 0, 0.5, 0.5])).flat();
  const { tokens } = await draw(probs, Array(B * n).fill(1 - 2 ** -24));
  assert.deepEqual(tokens, [3, 1, 3, 1, 3, 1]);
});

test("the CFG mix ramps t = cfg·si/(S−1) per row with upstream's fp32 coefficients", async () => {
  const logits = [1, 2, 3, 4, 5, 6, 7, 8, 0.5, 0.5, 0.5, 0.5, -1, 0, 1, 2];
  for (const cfg of [4, 3.3, 7.5, 1.1]) {
    const out = await session.run(
      {
        probs: tensor('float32', new Float32Array(B * n * V).fill(0.25), [B, n, V]),
        u: tensor('float32', new Float32Array(B * n).fill(0.5), [B, n]),
        logits: tensor('float32', Float32Array.from(logits), [2 * B, 1, V]),
        cfg: tensor('float32', Float32Array.from([cfg, 0]), [B]),
      },
      { fetches: ['mixed'] },
    );
    const t = cfg * (1 / 3); // Python: t = cfg * ratio in double, then fp32 at the multiply
    const expected = [0, 1, 2, 3].map((v) =>
      Math.fround(Math.fround(Math.fround(1 + t) * logits[v]) - Math.fround(Math.fround(t) * logits[8 + v])),
    );
    assert.deepEqual([...(out.mixed.data as Float32Array)].slice(0, 4), expected, `cfg ${cfg}`);
  }
  const out = await session.run(
    {
      probs: tensor('float32', new Float32Array(B * n * V).fill(0.25), [B, n, V]),
      u: tensor('float32', new Float32Array(B * n).fill(0.5), [B, n]),
      logits: tensor('float32', Float32Array.from(logits), [2 * B, 1, V]),
      cfg: tensor('float32', Float32Array.from([4, 0]), [B]),
    },
    { fetches: ['mixed'] },
  );
  assert.deepEqual([...(out.mixed.data as Float32Array)].slice(4), logits.slice(4, 8), 'cfg 0 is the conditional logits');
});

for (const fixture of ['tiny-a', 'tiny-b']) {
  test(`top-k/top-p filtering reproduces upstream's filtered logits and probabilities (${fixture}/sampling.safetensors)`, async () => {
    const ref = readSafetensors(fixturePath(`star-tiny/${fixture}/sampling.safetensors`));
    const shape = ref.get('in.logits').shape as number[];
    const g = new Graph('filter');
    const z = g.input('z', 'float32', shape);
    const k = g.input('k', 'int64', [shape[0]]);
    const p = g.input('p', 'float32', [shape[0]]);
    const { filtered, probs } = filteredProbabilities(z, k, p);
    g.output(filtered, 'filtered');
    g.output(probs, 'probs');
    const s = await Session.create(toModelBytes(g), { device: 'cpu', threads: 1 });
    const settings = ref.names.filter((name) => name.endsWith('.probs'));
    assert.ok(settings.length >= 5);
    for (const name of settings) {
      const [, topK, topP] = /^k(\d+)_p([\d.]+)\.probs$/.exec(name)!;
      const rows = shape[0];
      const out = await s.run({
        z: tensor('float32', ref.float32('in.logits'), shape),
        k: tensor('int64', new BigInt64Array(rows).fill(BigInt(topK)), [rows]),
        p: tensor('float32', new Float32Array(rows).fill(Number(topP)), [rows]),
      });
      const wantFiltered = ref.float32(name.replace('.probs', '.filtered_logits'));
      const wantProbs = ref.float32(name);
      const gotFiltered = out.filtered.data as Float32Array;
      const gotProbs = out.probs.data as Float32Array;
      for (let i = 0; i < wantFiltered.length; i++) {
        assert.equal(gotFiltered[i] === -Infinity, wantFiltered[i] === -Infinity, `${name}: removal differs at ${i}`);
        if (wantFiltered[i] !== -Infinity) assert.equal(gotFiltered[i], wantFiltered[i], `${name}: filtered logit ${i}`);
        assert.ok(Math.abs(gotProbs[i] - wantProbs[i]) <= 1e-6, `${name}: prob ${i} ${gotProbs[i]} vs ${wantProbs[i]}`);
      }
    }
    await s.dispose();
  });
}

/** Runs topKTopPFilter on rows [rows, 1, V] with per-row k and p; returns the filtered rows. */
async function filterRows(rows: number[][], ks: number[], ps: number[]): Promise<number[][]> {
  const [R, V] = [rows.length, rows[0].length];
  const g = new Graph('filter_rows');
  g.output(
    filteredProbabilities(g.input('z', 'float32', [R, 1, V]), g.input('k', 'int64', [R]), g.input('p', 'float32', [R])).filtered,
    'filtered',
  );
  const s = await Session.create(toModelBytes(g), { device: 'cpu', threads: 1 });
  const out = await s.run({
    z: tensor('float32', Float32Array.from(rows.flat()), [R, 1, V]),
    k: tensor('int64', BigInt64Array.from(ks, BigInt), [R]),
    p: tensor('float32', Float32Array.from(ps), [R]),
  });
  await s.dispose();
  const data = [...(out.filtered.data as Float32Array)];
  return rows.map((_, r) => data.slice(r * V, (r + 1) * V));
}

test('top-k keeps every tie with the k-th largest; top-p removes tied values lower index first', async () => {
  const [topK, topP] = await filterRows(
    [
      [1, 3, 3, 2, 3],
      [0, 0, 0, 0, 0],
    ],
    [2, 0],
    [0, 0.5],
  );
  assert.deepEqual(topK, [-Infinity, 3, 3, -Infinity, 3], 'k = 2 keeps all three 3s');
  // five equal logits: sorted ascending by index, running sums 0.2 … 1; p = 0.5 removes sums ≤ 0.5 (the first two)
  assert.deepEqual(topP, [-Infinity, -Infinity, 0, 0, 0]);
});

test('each row is filtered with its own top_k and top_p, as if it ran alone', async () => {
  let seed = 3;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const V = 97;
  // a few levels, so ties land at the top-k and top-p boundaries
  const rows = Array.from({ length: 6 }, () => Array.from({ length: V }, () => Math.floor(random() * 9) / 2));
  const ks = [0, 1, 5, 30, V, 0];
  const ps = [0.8, 0, 0.95, 0.5, 0.3, 0];
  const together = await filterRows(rows, ks, ps);
  for (let r = 0; r < rows.length; r++) {
    const [alone] = await filterRows([rows[r]], [ks[r]], [ps[r]]);
    assert.deepEqual(together[r], alone, `row ${r} (k ${ks[r]}, p ${ps[r]})`);
    const kept = alone.filter((x) => x !== -Infinity).length;
    if (ks[r] === 0 && ps[r] === 0) assert.equal(kept, V, `row ${r}: both off keeps every logit`);
    else assert.ok(kept >= 1 && kept < V, `row ${r}: removes some, keeps some (${kept})`);
  }
});

test("the top-p threshold is upstream's fp32(1 − p) for the decimal p the fp32 input stands for", async () => {
  const ps = [0.8, 0.95, 0.9, 0.5, 0.05, 0.123, 1, 0];
  const g = new Graph('threshold');
  g.output(topPThreshold(g.input('p', 'float32', [ps.length])), 'threshold');
  const s = await Session.create(toModelBytes(g), { device: 'cpu', threads: 1 });
  const out = await s.run({ p: tensor('float32', Float32Array.from(ps), [ps.length]) });
  assert.deepEqual(
    [...(out.threshold.data as Float32Array)],
    ps.map((p) => Math.fround(1 - p)),
  );
  assert.equal((out.threshold.data as Float32Array)[0], Math.fround(0.2), 'p = 0.8 → 0.2f, not fp32(1 − 0.8f) = 0.19999999f');
  await s.dispose();
});

test('the blocked prefix sum (CUDA) matches CumSum within fp32 rounding, and the draws it gives are the same tokens', async () => {
  for (const vocab of [4096, 24, 7]) {
    const rows = 3;
    const g = new Graph('prefix_sums');
    const probs = g.input('probs', 'float32', [1, rows, vocab]);
    const u = g.input('u', 'float32', [1, rows]);
    g.output(prefixSum(probs, 'sequential'), 'sequential');
    g.output(prefixSum(probs, 'blocked'), 'blocked');
    g.output(sampleInverseCdf(probs, u, 'sequential').tokens, 'tokens_sequential');
    g.output(sampleInverseCdf(probs, u, 'blocked').tokens, 'tokens_blocked');
    assert.equal(g.nodes.filter((node) => node.opType === 'CumSum').length, 2, 'only the sequential sums use CumSum');
    const s = await Session.create(toModelBytes(g), { device: 'cpu', threads: 1 });
    let seed = vocab;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const p = Float32Array.from({ length: rows * vocab }, () => random() ** 4 / vocab);
    const us = Float32Array.from({ length: rows }, random);
    const out = await s.run({ probs: tensor('float32', p, [1, rows, vocab]), u: tensor('float32', us, [1, rows]) });
    await s.dispose();
    const [a, b] = [out.sequential.data as Float32Array, out.blocked.data as Float32Array];
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1e-30, Math.abs(a[i])));
    assert.ok(worst < 1e-5, `V=${vocab}: relative error ${worst}`);
    assert.ok(b[vocab - 1] > 0, 'the sums are real');
    assert.deepEqual([...(out.tokens_blocked.data as BigInt64Array)], [...(out.tokens_sequential.data as BigInt64Array)], `V=${vocab}`);
  }
});
