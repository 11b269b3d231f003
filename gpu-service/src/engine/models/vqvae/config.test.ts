import assert from 'node:assert/strict';
import { test } from 'node:test';
import { STAR_VQVAE, downsampleFactor, fromUpstream, phiIndex, phiIndexFor, phiPrefix, phiTicks } from './config.ts';
import { randomVqvaeStore } from './random-weights.ts';
import { vqvaeWeights } from './weights.ts';
import { loadFixture } from './testing.ts';

test('φ index tables match STAR-SPEC §1.3 for S = 10 and S = 14', () => {
  const table = (S: number) => Array.from({ length: S }, (_, si) => phiIndex(si, S));
  assert.deepEqual(table(10), [0, 0, 1, 1, 1, 2, 2, 3, 3, 3]);
  assert.deepEqual(table(14), [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3]);
});

for (const name of ['tiny-a', 'tiny-b']) {
  test(`${name}: config, φ ticks and φ indices agree with the fixture's config.json`, () => {
    const fx = loadFixture(name);
    assert.deepEqual(phiTicks(4), fx.phiTicks); // bit-identical to numpy.linspace
    const S = fx.patchNums.length;
    assert.deepEqual(
      Array.from({ length: S }, (_, si) => phiIndexFor(fx.cfg, si, S)),
      fx.phiIndexPerScale,
    );
    assert.equal(fx.cfg.shareQuantResi, 4);
    assert.ok(fx.vae.has(`${phiPrefix(fx.cfg, 3)}.weight`));
  });
}

test('the released VQVAE downsamples ×16', () => {
  assert.equal(downsampleFactor(STAR_VQVAE), 16);
});

test('num_res_blocks may be 0 (one decoder ResBlock per level, as upstream allows) but not negative', () => {
  const args = { vocab_size: 8, z_channels: 4, ch: 32, ch_mult: [2, 1, 2, 2], num_res_blocks: 0, quant_resi: 0.5, share_quant_resi: 4 };
  assert.equal(fromUpstream(args).numResBlocks, 0);
  assert.equal(downsampleFactor(fromUpstream(args)), 8);
  assert.throws(() => fromUpstream({ ...args, num_res_blocks: -1 }), /numResBlocks must be a non-negative integer, got -1/);
});

test('a random stand-in store has exactly the keys and shapes the engine reads', () => {
  const store = randomVqvaeStore(STAR_VQVAE, 10);
  assert.equal(store.names.length, vqvaeWeights(STAR_VQVAE, 10).length);
  assert.deepEqual(store.get('decoder.up.3.block.0.nin_shortcut.weight').shape, [320, 640, 1, 1]);
  assert.deepEqual(store.get('decoder.conv_in.weight').shape, [640, 32, 3, 3]);
  assert.ok(!store.has('decoder.up.0.upsample.conv.weight'));
  assert.deepEqual(store.float32('decoder.up.0.block.1.norm2.weight').subarray(0, 2), Float32Array.from([1, 1]));
});

for (const name of ['tiny-a', 'tiny-b']) {
  test(`${name}: the fixture's VQVAE has every key the engine reads, with the expected shapes`, () => {
    const fx = loadFixture(name);
    for (const { name: key, shape } of vqvaeWeights(fx.cfg, fx.patchNums.length)) fx.vae.get(key, shape);
  });
}
