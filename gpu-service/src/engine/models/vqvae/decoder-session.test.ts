import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cachedModel } from '../../onnx/cache.ts';
import type { SessionOptions } from '../../onnx/runtime.ts';
import { Session, tensor } from '../../onnx/runtime.ts';
import { buildDecoderGraph, DECODER_INPUT, DECODER_OUTPUT } from './decoder.ts';
import { VqvaeDecoder } from './decoder-session.ts';
import { loadFixture } from './testing.ts';

const cacheDir = mkdtempSync(join(tmpdir(), 'star-vqvae-'));
after(() => rmSync(cacheDir, { recursive: true, force: true }));

test('VqvaeDecoder decodes f_hat to one HWC RGB image per row, and small previews with the same session', async () => {
  const fx = loadFixture('tiny-b');
  const decoder = await VqvaeDecoder.load(fx.vae, fx.cfg, { device: 'cpu', threads: 2, weightsKey: 'tiny-b', cacheDir });
  assert.equal(decoder.precision, 'fp32');
  const shape = fx.ref.get('final.f_hat').shape;
  const images = await decoder.decode(tensor('float32', fx.ref.float32('final.f_hat'), shape));
  assert.equal(images.length, 2);
  assert.deepEqual([images[1].width, images[1].height, images[1].data.length], [128, 128, 128 * 128 * 3]);
  // pixel (y 5, x 7) of image 1, channel G, against upstream's img_01
  const ref = fx.ref.float32('final.img_01')[((1 * 3 + 1) * 128 + 5) * 128 + 7];
  assert.ok(Math.abs(images[1].data[(5 * 128 + 7) * 3 + 1] - ref * 255) <= 1);
  const previews = await decoder.preview(tensor('float32', fx.ref.float32('final.f_hat'), shape), 2);
  assert.deepEqual([previews.length, previews[0].width, previews[0].height], [2, 32, 32]);
  await decoder.dispose();
});

/** Decodes tiny-b's f_hat (two rows) in one session run over the batch, `runs` times. */
async function batchRuns(options: SessionOptions, runs: number): Promise<Uint8Array[]> {
  const fx = loadFixture('tiny-b');
  const { modelPath } = cachedModel(
    { test: 'decoder-batch-run' },
    () => buildDecoderGraph(fx.vae, fx.cfg, { precision: 'fp32' }),
    cacheDir,
  );
  const fHat = tensor('float32', fx.ref.float32('final.f_hat'), fx.ref.get('final.f_hat').shape);
  const session = await Session.create(modelPath, options);
  const images: Uint8Array[] = [];
  for (let run = 0; run < runs; run++)
    images.push((await session.run({ [DECODER_INPUT]: fHat }, { fetches: [DECODER_OUTPUT] }))[DECODER_OUTPUT].data as Uint8Array);
  await session.dispose();
  return images;
}

test("with the arena off, the decoder decodes the same bytes in onnxruntime's memory pattern (the default) as without it", async () => {
  const options: SessionOptions = { device: 'cpu', threads: 2, memoryArena: false };
  const images = [...(await batchRuns(options, 2)), ...(await batchRuns({ ...options, memoryPattern: false }, 2))];
  for (const image of images.slice(1)) assert.deepEqual(image, images[0]);
});

test('on CPU the decoder runs one image at a time, with the bytes of one run over the whole batch', async () => {
  const [batchRun] = await batchRuns({ device: 'cpu', threads: 2 }, 1);
  const fx = loadFixture('tiny-b');
  const decoder = await VqvaeDecoder.load(fx.vae, fx.cfg, { device: 'cpu', threads: 2, weightsKey: 'tiny-b', cacheDir });
  const images = await decoder.decode(tensor('float32', fx.ref.float32('final.f_hat'), fx.ref.get('final.f_hat').shape));
  await decoder.dispose();
  assert.equal(images.length, 2);
  const size = images[0].data.length;
  for (const [i, image] of images.entries()) assert.deepEqual(image.data, batchRun.subarray(i * size, (i + 1) * size), `image ${i}`);
});
