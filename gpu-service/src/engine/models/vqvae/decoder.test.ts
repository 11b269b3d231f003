import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Session, tensor } from '../../onnx/runtime.ts';
import { toModelBytes } from '../../onnx/serialize.ts';
import { buildDecoderGraph, DECODER_INPUT, DECODER_OUTPUT } from './decoder.ts';
import { decoderWeights } from './weights.ts';
import { previewLatent } from './preview.ts';
import { deviation, floats, loadFixture, withinTolerance } from './testing.ts';

const IMAGE_ATOL = 5e-4;

for (const name of ['tiny-a', 'tiny-b']) {
  for (const fusedAttention of [false, true]) {
    test(`${name}: decoding final.f_hat reproduces upstream's images${fusedAttention ? ' (fused attention)' : ''}`, async () => {
      const fx = loadFixture(name);
      const g = buildDecoderGraph(fx.vae, fx.cfg, { precision: 'fp32', debug: true, fusedAttention });
      const session = await Session.create(toModelBytes(g), { device: 'cpu', threads: 2 });
      const fHat = fx.ref.get('final.f_hat');
      const out = await session.run({ [DECODER_INPUT]: tensor('float32', fx.ref.float32('final.f_hat'), fHat.shape) });
      await session.dispose();

      const report: string[] = [];
      for (const key of ['img_unclamped', 'img_pm1', 'img_01']) {
        const ref = fx.ref.get(`final.${key}`);
        assert.deepEqual(out[key].dims, ref.shape, key);
        const d = deviation(floats(out[key]), fx.ref.float32(`final.${key}`));
        report.push(`${key} ${d.maxAbs.toExponential(2)}/${d.maxRef.toFixed(2)}`);
        assert.ok(withinTolerance(d, IMAGE_ATOL), `${key}: max abs error ${d.maxAbs} (max |ref| ${d.maxRef})`);
      }
      if (!fusedAttention) console.log(`${name}: ${report.join(', ')}`);

      // uint8 HWC = trunc(img_01·255) wherever img_01·255 is not within 1e-3 of an integer
      // (clamped pixels are exactly 0 or 255 on both sides and are checked too)
      const [b, c, h, w] = fx.ref.get('final.img_01').shape;
      const ref01 = fx.ref.float32('final.img_01');
      const image = out[DECODER_OUTPUT];
      assert.equal(image.dtype, 'uint8');
      assert.deepEqual(image.dims, [b, h, w, c]);
      let checked = 0;
      for (let n = 0; n < b; n++)
        for (let ch = 0; ch < c; ch++)
          for (let y = 0; y < h; y++)
            for (let x = 0; x < w; x++) {
              const v = Math.fround(ref01[((n * c + ch) * h + y) * w + x] * 255);
              if (v !== 0 && v !== 255 && Math.abs(v - Math.round(v)) < 1e-3) continue;
              checked++;
              const got = image.data[((n * h + y) * w + x) * c + ch];
              assert.equal(got, Math.trunc(v), `pixel (${n}, ${y}, ${x}, ${ch})`);
            }
      assert.ok(checked > 0.99 * b * c * h * w, `only ${checked} pixels checked`);
    });
  }
}

test('the fp16 decoder (fp16 weights, fp32 GroupNorm statistics, softmax and output mapping) stays close to upstream', async () => {
  const fx = loadFixture('tiny-b');
  const g = buildDecoderGraph(fx.vae, fx.cfg, { precision: 'fp16', debug: true });
  const dtypes = Object.fromEntries([...g.initializers].map(([k, t]) => [k, t.dtype]));
  assert.equal(dtypes['decoder.up.4.attn.0.qkv.weight'], 'float16');
  assert.equal(dtypes['decoder.up.4.attn.0.norm.weight'], 'float32');
  const count = (op: string) => g.nodes.filter((n) => n.opType === op).length;
  const norms = decoderWeights(fx.cfg).filter((w) => w.role === 'gain').length;
  assert.equal(count('GlobalAveragePool'), 2 * norms, 'each GroupNorm: the mean, then the variance about it');
  assert.equal(count('Softmax'), 4); // mid.attn_1 + up.4.attn.{0,1,2}
  const session = await Session.create(toModelBytes(g), { device: 'cpu', threads: 2 });
  const out = await session.run({ [DECODER_INPUT]: tensor('float32', fx.ref.float32('final.f_hat'), fx.ref.get('final.f_hat').shape) });
  await session.dispose();
  const d = deviation(floats(out.img_01), fx.ref.float32('final.img_01'));
  assert.ok(d.maxAbs < 1e-2, `img_01 fp16: ${d.maxAbs}`);
});

test('the same decoder graph decodes a smaller latent (previews)', async () => {
  const fx = loadFixture('tiny-b');
  const session = await Session.create(toModelBytes(buildDecoderGraph(fx.vae, fx.cfg, { precision: 'fp32' })), {
    device: 'cpu',
    threads: 2,
  });
  const fHat = tensor('float32', fx.ref.float32('final.f_hat'), fx.ref.get('final.f_hat').shape);
  const small = previewLatent(fHat, 4);
  assert.deepEqual(small.dims, [2, fx.cfg.cvae, 4, 4]);
  assert.equal(previewLatent(fHat, 8), fHat);
  const out = await session.run({ [DECODER_INPUT]: small });
  await session.dispose();
  assert.deepEqual(out[DECODER_OUTPUT].dims, [2, 64, 64, 3]);
});
