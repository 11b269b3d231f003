import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Graph } from '../../onnx/graph.ts';
import type { Value } from '../../onnx/graph.ts';
import { Session, tensor } from '../../onnx/runtime.ts';
import { toModelBytes } from '../../onnx/serialize.ts';
import { GraphWeights } from '../../onnx/graph-weights.ts';
import { addScale, addScaleFromCodes } from './quantizer.ts';
import { areaDownsample } from './resample.ts';
import { deviation, floats, loadFixture, withinTolerance } from './testing.ts';

const ATOL = 1e-4;

for (const name of ['tiny-a', 'tiny-b']) {
  test(`${name}: h, f_hat and next_map of every scale match upstream (teacher-forced tokens)`, async () => {
    const fx = loadFixture(name);
    const S = fx.patchNums.length;
    const g = new Graph(`quantizer-${name}`);
    const w = new GraphWeights(g, fx.vae, 'fp32');
    let fHat: Value | null = null;
    for (let si = 0; si < S; si++) {
      const pn = fx.patchNums[si];
      const tokens = g.input(`tokens_s${si}`, 'int64', ['B', pn * pn]);
      const out = addScale(w, fx.cfg, fx.patchNums, si, tokens, fHat);
      fHat = out.fHat;
      g.output(out.h, `s${si}.h_BChw`);
      g.output(out.fHat, `s${si}.f_hat`);
      if (out.nextMap) {
        g.output(out.nextMap, `s${si}.next_map`);
        g.output(out.nextInput!, `s${si}.next_input`);
      }
    }
    // the φ convs and the codebook are stored once, however many scales use them
    assert.equal([...g.initializers.keys()].filter((k) => k.startsWith('quantize.embedding')).length, 1);

    const session = await Session.create(toModelBytes(g), { device: 'cpu', threads: 1 });
    const feeds = Object.fromEntries(
      fx.patchNums.map((_, si) => {
        const t = fx.ref.get(`in.tokens.s${si}`);
        return [`tokens_s${si}`, tensor('int64', new BigInt64Array(t.bytes().slice().buffer), t.shape)];
      }),
    );
    const out = await session.run(feeds);
    await session.dispose();

    const report: string[] = [];
    for (const key of Object.keys(out).filter((k) => !k.endsWith('next_input'))) {
      const ref = fx.ref.float32(key);
      assert.deepEqual(out[key].dims, fx.ref.get(key).shape, key);
      const d = deviation(floats(out[key]), ref);
      report.push(`${key} ${d.maxAbs.toExponential(2)}/${d.maxRef.toFixed(2)}`);
      assert.ok(withinTolerance(d, ATOL), `${key}: max abs error ${d.maxAbs} (max |ref| ${d.maxRef})`);
    }
    console.log(`${name}: ${report.join(', ')}`);

    // next_input is next_map flattened row-major to tokens: (B, pn'², Cvae)
    const c = fx.cfg.cvae;
    const map = fx.ref.float32('s0.next_map');
    const pn1 = fx.patchNums[1];
    const flat = floats(out['s0.next_input']);
    assert.deepEqual(out['s0.next_input'].dims, [2, pn1 * pn1, c]);
    for (let b = 0; b < 2; b++)
      for (let l = 0; l < pn1 * pn1; l++)
        for (let ch = 0; ch < c; ch++) {
          assert.ok(Math.abs(flat[(b * pn1 * pn1 + l) * c + ch] - map[(b * c + ch) * pn1 * pn1 + l]) <= ATOL);
        }
  });

  test(`${name}: TS area downsampling of the reference f_hat reproduces next_map`, () => {
    const fx = loadFixture(name);
    for (let si = 0; si < fx.patchNums.length - 1; si++) {
      const fHat = fx.ref.get(`s${si}.f_hat`);
      const got = areaDownsample(fx.ref.float32(`s${si}.f_hat`), fHat.shape, fx.patchNums[si + 1]);
      const d = deviation(got, fx.ref.float32(`s${si}.next_map`));
      assert.ok(d.maxAbs <= 1e-6 * Math.max(1, d.maxRef), `s${si}.next_map: ${d.maxAbs}`);
    }
  });
}

test('the fp16 variant stores φ weights as fp16, keeps f_hat, the codebook and the resampling in fp32, and stays close', async () => {
  const fx = loadFixture('tiny-b');
  const g = new Graph('quantizer-fp16');
  const w = new GraphWeights(g, fx.vae, 'fp16');
  let fHat: Value | null = null;
  for (let si = 0; si < fx.patchNums.length; si++) {
    const tokens = g.input(`tokens_s${si}`, 'int64', ['B', fx.patchNums[si] ** 2]);
    const out = addScale(w, fx.cfg, fx.patchNums, si, tokens, fHat);
    assert.equal(out.fHat.dtype, 'float32');
    assert.equal(out.nextInput?.dtype ?? 'float32', 'float32');
    fHat = out.fHat;
  }
  g.output(fHat!, 'f_hat');
  const dtypes = Object.fromEntries([...g.initializers].map(([k, t]) => [k, t.dtype]));
  assert.equal(dtypes['quantize.quant_resi.qresi_ls.2.weight'], 'float16');
  assert.equal(dtypes['quantize.quant_resi.qresi_ls.2.bias'], 'float16');
  assert.equal(dtypes['quantize.embedding.weight'], 'float32');
  const session = await Session.create(toModelBytes(g), { device: 'cpu', threads: 1 });
  const feeds = Object.fromEntries(
    fx.patchNums.map((_, si) => {
      const t = fx.ref.get(`in.tokens.s${si}`);
      return [`tokens_s${si}`, tensor('int64', new BigInt64Array(t.bytes().slice().buffer), t.shape)];
    }),
  );
  const out = await session.run(feeds);
  await session.dispose();
  const d = deviation(floats(out.f_hat), fx.ref.float32('final.f_hat'));
  assert.ok(d.maxAbs < 1e-2 * d.maxRef, `fp16 f_hat: ${d.maxAbs} (max |ref| ${d.maxRef})`);
});

test("addScaleFromCodes with the codebook rows of the tokens gives addScale's f_hat", async () => {
  const fx = loadFixture('tiny-a');
  const g = new Graph('quantizer-codes');
  const w = new GraphWeights(g, fx.vae, 'fp32');
  const S = fx.patchNums.length;
  const codebook = fx.vae.float32('quantize.embedding.weight');
  const c = fx.cfg.cvae;
  let fHat: Value | null = null;
  const feeds: Record<string, ReturnType<typeof tensor>> = {};
  for (let si = 0; si < S; si++) {
    const n = fx.patchNums[si] ** 2;
    const codes = g.input(`codes_s${si}`, 'float32', ['B', n, c]);
    fHat = addScaleFromCodes(w, fx.cfg, fx.patchNums, si, codes, fHat).fHat;
    const ids = new BigInt64Array(fx.ref.get(`in.tokens.s${si}`).bytes().slice().buffer);
    const data = new Float32Array(ids.length * c);
    ids.forEach((id, i) => {
      data.set(codebook.subarray(Number(id) * c, (Number(id) + 1) * c), i * c);
    });
    feeds[`codes_s${si}`] = tensor('float32', data, [2, n, c]);
  }
  g.output(fHat!, 'f_hat');
  const session = await Session.create(toModelBytes(g), { device: 'cpu', threads: 1 });
  const out = await session.run(feeds);
  await session.dispose();
  const d = deviation(floats(out.f_hat), fx.ref.float32('final.f_hat'));
  assert.ok(withinTolerance(d, ATOL), `f_hat: ${d.maxAbs}`);
});
