import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fromUpstreamArgs, totalTokens } from './generator/config.ts';
import { readManifest, RELEASED_MODELS, releasedFiles, releasedManifest, resolveModelDir } from './registry.ts';
import { STAR_TINY_MANIFEST } from './star-tiny.ts';
import { fromUpstream } from './vqvae/config.ts';

const tmp = mkdtempSync(join(tmpdir(), 'star-registry-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('released models (STAR-SPEC §1.2)', () => {
  it('have the spec\'s depth, width, scales and token counts', () => {
    const expected: Record<string, [number, number, number, number]> = {
      'star-256-d16': [16, 1024, 10, 680], 'star-256-d30': [30, 1920, 10, 680], 'star-512-d30': [30, 1920, 10, 2240],
      'star-1024-d30': [30, 1920, 14, 9451], 'star-1024-sampler': [30, 1920, 14, 9451],
    };
    for (const model of RELEASED_MODELS) {
      const manifest = releasedManifest(model);
      const cfg = fromUpstreamArgs(manifest.generator.build_vae_var_args);
      assert.deepEqual([cfg.depth, cfg.width, cfg.patchNums.length, totalTokens(cfg)], expected[model.name], model.name);
      assert.equal(cfg.textDim, 1024);
      assert.equal(cfg.hasSamplerHead, model.name === 'star-1024-sampler');
      assert.equal(cfg.patchNums[cfg.patchNums.length - 1] * 16, manifest.resolution);
      assert.equal(fromUpstream(manifest.vqvae.args).ch, 160);
      assert.equal(manifest.generator.key, 'trainer.var_wo_ddp');
    }
  });

  it('list the generator, the VQVAE, the text encoder and the tokenizer files, each with a source', () => {
    const files = releasedFiles(RELEASED_MODELS[0]).map((f) => f.target);
    assert.deepEqual(files.slice(1), [
      'vae_ch160v4096z32.pth', 'text_encoder/config.json', 'text_encoder/model.safetensors',
      'tokenizer/vocab.json', 'tokenizer/merges.txt', 'tokenizer/tokenizer_config.json', 'tokenizer/special_tokens_map.json',
    ]);
    for (const m of RELEASED_MODELS) for (const f of releasedFiles(m)) assert.ok(f.sources.length > 0, f.target);
  });
});

describe('resolveModelDir / readManifest', () => {
  it('finds star-tiny in the repository and a named model in modelDir', () => {
    assert.match(resolveModelDir('star-tiny'), /gpu-service\/models\/star-tiny$/);
    mkdirSync(join(tmp, 'mine'), { recursive: true });
    writeFileSync(join(tmp, 'mine/model.json'), JSON.stringify({ ...STAR_TINY_MANIFEST, name: 'mine' }));
    assert.equal(resolveModelDir('mine', tmp), join(tmp, 'mine'));
    assert.equal(resolveModelDir(join(tmp, 'mine')), join(tmp, 'mine'));
    assert.equal(readManifest(join(tmp, 'mine')).name, 'mine');
  });

  it('says what is wrong with a manifest', () => {
    mkdirSync(join(tmp, 'broken'), { recursive: true });
    writeFileSync(join(tmp, 'broken/model.json'), JSON.stringify({ format: 1, name: 'broken', resolution: 64 }));
    assert.throws(() => readManifest(join(tmp, 'broken')), /generator.weights .* missing; vqvae.weights .* missing; text_encoder.dir .* missing/);
    assert.throws(() => resolveModelDir(join(tmp, 'nowhere')), /is not a model directory \(no model.json\)/);
  });
});
