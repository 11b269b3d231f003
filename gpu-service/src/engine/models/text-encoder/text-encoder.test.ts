import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fixturePath } from '../../testing/fixtures.ts';
import { writeTorchStateDict } from '../../testing/torch-save.ts';
import { readSafetensors } from '../../weights/safetensors.ts';
import { TextEncoder, textEncoderWeightsPath } from './text-encoder.ts';

// clip-text-tiny's reference rows: 0 "a photo of a cat", 1 "hello, world!", …, 5 "".
const ref = readSafetensors(fixturePath('clip-text-tiny/reference.safetensors'));
const D = 64;
const T = 77;
const refHidden = ref.float32('last_hidden_state');
const refPooled = ref.float32('pooler_output');
const refMask = new BigInt64Array(ref.get('attention_mask').bytes().buffer);

const cacheDir = mkdtempSync(join(tmpdir(), 'star-text-'));
let encoder: TextEncoder;
before(async () => {
  encoder = await TextEncoder.load({
    textEncoderDir: fixturePath('clip-text-tiny'),
    tokenizerDir: fixturePath('clip-tokenizer'),
    device: 'cpu',
    threads: 1,
    cacheDir,
  });
});
after(async () => {
  await encoder?.dispose();
  rmSync(cacheDir, { recursive: true, force: true });
});

function assertRow(actual: Float32Array, row: number, expected: Float32Array, refRow: number, width: number, what: string): void {
  let err = 0;
  for (let i = 0; i < width; i++) err = Math.max(err, Math.abs(actual[row * width + i] - expected[refRow * width + i]));
  assert.ok(err <= 1e-4, `${what}: row ${row} vs reference row ${refRow}: max abs error ${err}`);
}

test('encode lays out the CFG batch as prompts then "" and matches HF row by row', async () => {
  const out = await encoder.encode(['a photo of a cat', 'hello, world!']);
  assert.deepEqual(out.hidden.dims, [4, T, D]);
  assert.deepEqual(out.mask.dims, [4, T]);
  assert.deepEqual(out.pooled.dims, [4, D]);
  const hidden = out.hidden.data as Float32Array;
  const pooled = out.pooled.data as Float32Array;
  for (const [row, refRow] of [
    [0, 0],
    [1, 1],
    [2, 5],
    [3, 5],
  ]) {
    assertRow(hidden, row, refHidden, refRow, T * D, 'hidden');
    assertRow(pooled, row, refPooled, refRow, D, 'pooled');
    assert.deepEqual(
      [...(out.mask.data as BigInt64Array).subarray(row * T, (row + 1) * T)],
      [...refMask.subarray(refRow * T, (refRow + 1) * T)],
    );
  }
});

test('a negative prompt replaces the empty unconditional prompt of its own row only', async () => {
  const out = await encoder.encode(['a photo of a cat', '一只猫'], [undefined, 'hello, world!']);
  const hidden = out.hidden.data as Float32Array;
  for (const [row, refRow] of [
    [0, 0],
    [1, 4],
    [2, 5],
    [3, 1],
  ])
    assertRow(hidden, row, refHidden, refRow, T * D, 'hidden');
});

test('bad batches are refused with a clear error', async () => {
  await assert.rejects(encoder.encode([]), /no prompts/);
  await assert.rejects(encoder.encode(['a'], ['b', 'c']), /2 negative prompts for 1 prompts/);
});

test('a text encodes to the same bits alone, in any batch, cached or not', async () => {
  const alone = await encoder.encode(['一只猫']);
  const batched = await encoder.encode(['a photo of a cat', 'hello, world!', '一只猫'], ['', 'a photo of a cat']);
  const rowBits = (t: { data: unknown }, row: number, size: number) => [...(t.data as Float32Array).subarray(row * size, (row + 1) * size)];
  assert.deepEqual(rowBits(batched.hidden, 2, T * D), rowBits(alone.hidden, 0, T * D));
  assert.deepEqual(rowBits(batched.pooled, 2, D), rowBits(alone.pooled, 0, D));
  assert.deepEqual(rowBits(batched.hidden, 4, T * D), rowBits(batched.hidden, 0, T * D), 'negative prompt row = the same text as a prompt');

  const small = await TextEncoder.load({
    textEncoderDir: fixturePath('clip-text-tiny'),
    tokenizerDir: fixturePath('clip-tokenizer'),
    device: 'cpu',
    threads: 1,
    cacheDir,
    cachedTexts: 1,
  });
  try {
    for (let round = 0; round < 2; round++) {
      const out = await small.encode(['a photo of a cat', '一只猫'], ['hello, world!']); // more texts than the cache holds
      for (const [row, refRow] of [
        [0, 0],
        [1, 4],
        [2, 1],
        [3, 5],
      ])
        assertRow(out.hidden.data as Float32Array, row, refHidden, refRow, T * D, 'hidden');
    }
  } finally {
    await small.dispose();
  }
});

test("a torch-saved pytorch_model.bin (what STAR's CLIP/text_encoder/ ships) loads through openWeights and encodes to the same bits", async () => {
  const dir = join(cacheDir, 'bin-text-encoder');
  mkdirSync(dir, { recursive: true });
  copyFileSync(fixturePath('clip-text-tiny/config.json'), join(dir, 'config.json'));
  const tensors = readSafetensors(fixturePath('clip-text-tiny/model.safetensors'));
  // Transformers' state dicts also hold the position_ids buffer (int64), which the graph does not use.
  const positionIds = {
    name: 'text_model.embeddings.position_ids',
    dtype: 'int64' as const,
    shape: [1, T],
    bytes: () => new Uint8Array(BigInt64Array.from({ length: T }, (_, i) => BigInt(i)).buffer),
  };
  writeTorchStateDict(join(dir, 'pytorch_model.bin'), [...tensors.names.map((n) => tensors.get(n)), positionIds]);
  assert.equal(textEncoderWeightsPath(dir), join(dir, 'pytorch_model.bin'));

  const fromBin = await TextEncoder.load({
    textEncoderDir: dir,
    tokenizerDir: fixturePath('clip-tokenizer'),
    device: 'cpu',
    threads: 1,
    cacheDir,
  });
  try {
    const prompts = ['a photo of a cat', '一只猫'];
    const [a, b] = await Promise.all([fromBin.encode(prompts, ['hello, world!']), encoder.encode(prompts, ['hello, world!'])]);
    assert.deepEqual([...(a.hidden.data as Float32Array)], [...(b.hidden.data as Float32Array)]);
    assert.deepEqual([...(a.pooled.data as Float32Array)], [...(b.pooled.data as Float32Array)]);
    assertRow(a.hidden.data as Float32Array, 0, refHidden, 0, T * D, 'hidden from pytorch_model.bin');
  } finally {
    await fromBin.dispose();
  }
});

test('a text encoder folder without weights names the files it looked for', () => {
  assert.throws(() => textEncoderWeightsPath(cacheDir), /no text encoder weights \(model\.safetensors or pytorch_model\.bin\)/);
});
