import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fixturePath } from '../../testing/fixtures.ts';
import { readSafetensors } from '../../weights/safetensors.ts';
import { fromUpstreamArgs, generatorWeightShapes, scaleOffset, totalTokens } from './config.ts';
import { samplingOverride } from './generator.ts';

for (const fixture of ['tiny-a', 'tiny-b']) {
  test(`the config of star-tiny/${fixture} names exactly the keys and shapes of its state dict`, () => {
    const json = JSON.parse(readFileSync(fixturePath(`star-tiny/${fixture}/config.json`), 'utf8'));
    const cfg = fromUpstreamArgs(json.build_vae_var_args);
    assert.equal(cfg.width, json.derived.width);
    assert.equal(cfg.heads, json.derived.heads);
    assert.equal(cfg.mlpHidden, json.derived.mlp_hidden);
    assert.equal(totalTokens(cfg), json.derived.L);
    for (const [si, [begin]] of (json.derived.begin_ends as number[][]).entries()) assert.equal(scaleOffset(cfg, si), begin);
    const store = readSafetensors(fixturePath(`star-tiny/${fixture}/var.safetensors`));
    const shapes = generatorWeightShapes(cfg);
    assert.deepEqual(store.diff(shapes.keys()), { missing: [], unexpected: [] });
    for (const [name, shape] of shapes) store.get(name, shape);
  });
}

test('upstream flags this port does not implement are rejected by name', () => {
  const base = { patch_nums: [1, 2], V: 16, Cvae: 4, depth: 1, in_dim_cross: 8 };
  assert.throws(() => fromUpstreamArgs({ ...base, shared_aln: true }), /shared_aln/);
  assert.throws(() => fromUpstreamArgs({ ...base, rope_emb: false }), /rope_emb/);
  assert.throws(() => fromUpstreamArgs({ ...base, patch_nums: [2, 4] }), /start with 1/);
});

test("sample_version 'old' overrides top-k/top-p per scale as upstream does; other versions never do", () => {
  const base = fromUpstreamArgs({
    patch_nums: [1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 24, 28, 32],
    V: 16,
    Cvae: 4,
    depth: 1,
    in_dim_cross: 8,
  });
  const old = { ...base, sampleVersion: 'old' as const };
  assert.deepEqual(samplingOverride(old, 0), { topK: undefined, topP: 0.8 });
  assert.deepEqual(samplingOverride(old, 9), { topK: 300, topP: 0.8 });
  assert.deepEqual(samplingOverride(old, 11), { topK: 300, topP: 0.8 });
  assert.deepEqual(samplingOverride(old, 12), { topK: 100, topP: 0.8 });
  assert.deepEqual(samplingOverride(base, 12), {});
});
