import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fixturePath } from '../testing/fixtures.ts';
import { readSafetensors, writeSafetensors } from './safetensors.ts';

const tmp = mkdtempSync(join(tmpdir(), 'star-st-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const bytes = (a: Float32Array | Uint16Array) => new Uint8Array(a.buffer);

test('safetensors round-trips names, dtypes, shapes and bytes', () => {
  const path = join(tmp, 'a.safetensors');
  writeSafetensors(path, [
    { name: 'w', dtype: 'float32', shape: [2, 2], bytes: () => bytes(Float32Array.from([1, 2, 3, 4])) },
    { name: 'h', dtype: 'float16', shape: [2], bytes: () => bytes(Uint16Array.from([0x3c00, 0xc000])) },
  ]);
  const store = readSafetensors(path);
  assert.deepEqual(store.names.sort(), ['h', 'w']);
  assert.deepEqual([...store.float32('w', [2, 2])], [1, 2, 3, 4]);
  assert.deepEqual([...store.float32('h')], [1, -2]);
  assert.equal(store.get('h').dtype, 'float16');
});

test('errors name the tensor: missing key, wrong shape, truncated file', () => {
  const path = join(tmp, 'b.safetensors');
  writeSafetensors(path, [{ name: 'blocks.0.attn.proj.weight', dtype: 'float32', shape: [4], bytes: () => bytes(new Float32Array(4)) }]);
  const store = readSafetensors(path);
  assert.throws(() => store.get('blocks.1.attn.proj.weight'), /missing tensor "blocks.1.attn.proj.weight"/);
  assert.throws(() => store.get('blocks.0.attn.proj.weight', [2, 2]), /"blocks.0.attn.proj.weight" has shape \[4\], expected \[2, 2\]/);
  const full = readFileSync(path);
  writeFileSync(path, full.subarray(0, full.byteLength - 3));
  assert.throws(() => readSafetensors(path), /"blocks.0.attn.proj.weight" is truncated/);
});

test('reads the upstream fixture weights with their key names', () => {
  const store = readSafetensors(fixturePath('star-tiny/tiny-b/var.safetensors'));
  assert.deepEqual(store.get('word_embed.weight').shape, [128, 32]);
  assert.ok(store.has('blocks.1.cross_attn.mat_kv.weight'));
  assert.equal(
    store.float32('blocks.0.attn.zero_k_bias').every((v) => v === 0),
    true,
  );
});
