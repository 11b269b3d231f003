import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readSafetensors } from '../weights/safetensors.ts';
import { generatorTensors } from './random-model.ts';
import { readManifest } from './registry.ts';
import { fromUpstream } from './vqvae/config.ts';
import { vqvaeWeights } from './vqvae/weights.ts';

const SCRIPT = join(import.meta.dirname, '../../../scripts/make-star-tiny-random.ts');
const SHIPPED = join(import.meta.dirname, '../../../models/star-tiny');
const tmp = mkdtempSync(join(tmpdir(), 'star-tiny-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('star-tiny', () => {
  it("ships a text encoder trained from its random twin's (scripts/make-star-tiny-random.ts): same config and tensors, new values", () => {
    const out = execFileSync(process.execPath, [SCRIPT, '--out', tmp], { encoding: 'utf8' });
    const files = out
      .trim()
      .split('\n')
      .map((line) => line.split('\t')[0]);
    assert.deepEqual(files, [
      'model.json',
      'var.safetensors',
      'vae.safetensors',
      'text_encoder/config.json',
      'text_encoder/model.safetensors',
    ]);
    assert.equal(sha256(join(tmp, 'text_encoder/config.json')), sha256(join(SHIPPED, 'text_encoder/config.json')));
    const twin = readSafetensors(join(tmp, 'text_encoder/model.safetensors'));
    const shipped = readSafetensors(join(SHIPPED, 'text_encoder/model.safetensors'));
    assert.deepEqual([...shipped.names].sort(), [...twin.names].sort());
    for (const name of twin.names) assert.deepEqual(shipped.get(name).shape, twin.get(name).shape, name);
    const embedding = 'text_model.embeddings.token_embedding.weight';
    assert.notDeepEqual(shipped.get(embedding).bytes(), twin.get(embedding).bytes(), 'the shipped text encoder is trained');
  });

  it('ships trained weights under every key and shape the engine reads (STAR-SPEC §3.1, §5.1)', () => {
    const manifest = readManifest(SHIPPED);
    const generator = readSafetensors(join(SHIPPED, manifest.generator.weights));
    for (const t of generatorTensors(manifest.generator.build_vae_var_args)) assert.deepEqual(generator.get(t.name).shape, t.shape, t.name);
    const vae = readSafetensors(join(SHIPPED, manifest.vqvae.weights));
    const scales = manifest.generator.build_vae_var_args.patch_nums.length;
    for (const { name, shape } of vqvaeWeights(fromUpstream(manifest.vqvae.args), scales))
      assert.deepEqual(vae.get(name).shape, shape, name);
  });
});
