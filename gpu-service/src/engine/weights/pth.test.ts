import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { contiguousStride, writeTorchSave } from '../testing/torch-save.ts';
import type { PickleValue, TorchTensor } from '../testing/torch-save.ts';
import { openWeights } from './open.ts';
import { readPth } from './pth.ts';

const tmp = mkdtempSync(join(tmpdir(), 'star-pth-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const f32 = (...v: number[]) => new Uint8Array(Float32Array.from(v).buffer);
const tensor = (storageKey: string, storageNumel: number, shape: number[], extra: Partial<TorchTensor> = {}): TorchTensor => ({
  kind: 'tensor',
  storageKey,
  storageType: 'FloatStorage',
  storageNumel,
  offset: 0,
  shape,
  stride: contiguousStride(shape),
  ...extra,
});

/** A training snapshot shaped like STAR's: the generator state dict at trainer.var_wo_ddp, next to other objects. */
function writeCheckpoint(path: string, options: { zip64?: boolean } = {}) {
  const stateDict: PickleValue = {
    ordered: [
      ['word_embed.weight', tensor('0', 6, [3, 2], { parameter: true })],
      ['word_embed.bias', tensor('1', 3, [3])],
      // Two tensors sharing one storage at different offsets (as views saved together are).
      ['blocks.0.attn.q_bias', tensor('2', 5, [2], { offset: 1 })],
      ['blocks.0.attn.v_bias', tensor('2', 5, [2], { offset: 3 })],
      ['half', tensor('3', 2, [2], { storageType: 'HalfStorage' })],
      ['bf16', tensor('4', 2, [1, 2], { storageType: 'BFloat16Storage' })],
    ],
  };
  const checkpoint: PickleValue = {
    dict: [
      [
        'args',
        {
          kind: 'object',
          module: 'utils.arg_util',
          name: 'Args',
          state: {
            dict: [
              ['depth', 16],
              ['tlr', 1e-4],
              ['tags', ['a', 'b']],
            ],
          },
        },
      ],
      [
        'trainer',
        {
          dict: [
            ['var_wo_ddp', stateDict],
            ['epoch', 3],
            ['big', 2 ** 40],
            ['neg', -7],
          ],
        },
      ],
      ['note', null],
    ],
  };
  writeTorchSave(
    path,
    checkpoint,
    [
      { key: '0', bytes: f32(1, 2, 3, 4, 5, 6) },
      { key: '1', bytes: f32(0.5, -0.5, 0.25) },
      { key: '2', bytes: f32(10, 11, 12, 13, 14) },
      { key: '3', bytes: new Uint8Array(Uint16Array.from([0x3c00, 0xc000]).buffer) }, // 1, -2 in fp16
      { key: '4', bytes: new Uint8Array(Uint16Array.from([0x3f80, 0x4040]).buffer) }, // 1, 3 in bf16
    ],
    options,
  );
}

describe('readPth', () => {
  for (const zip64 of [false, true]) {
    it(`reads the state dict at a nested key with upstream names${zip64 ? ' (ZIP64)' : ''}`, () => {
      const path = join(tmp, `ckpt${zip64 ? '64' : ''}.pth`);
      writeCheckpoint(path, { zip64 });
      const store = readPth(path, { key: 'trainer.var_wo_ddp' });
      assert.deepEqual(store.names, [
        'word_embed.weight',
        'word_embed.bias',
        'blocks.0.attn.q_bias',
        'blocks.0.attn.v_bias',
        'half',
        'bf16',
      ]);
      assert.deepEqual([...store.float32('word_embed.weight', [3, 2])], [1, 2, 3, 4, 5, 6]);
      assert.deepEqual([...store.float32('word_embed.bias')], [0.5, -0.5, 0.25]);
      assert.deepEqual([...store.float32('blocks.0.attn.q_bias')], [11, 12]);
      assert.deepEqual([...store.float32('blocks.0.attn.v_bias')], [13, 14]);
      assert.equal(store.get('half').dtype, 'float16');
      assert.deepEqual([...store.float32('half')], [1, -2]);
      assert.equal(store.get('bf16').dtype, 'bfloat16');
      assert.deepEqual([...store.float32('bf16', [1, 2])], [1, 3]);
    });
  }

  it('finds the generator state dict without a key, and reads plain state dicts', () => {
    const path = join(tmp, 'auto.pth');
    writeCheckpoint(path);
    assert.ok(readPth(path).has('word_embed.bias'));
    const plain = join(tmp, 'vae.pth');
    writeTorchSave(plain, { ordered: [['quantize.embedding.weight', tensor('0', 4, [2, 2])]] }, [{ key: '0', bytes: f32(1, 2, 3, 4) }]);
    assert.deepEqual([...openWeights(plain).float32('quantize.embedding.weight')], [1, 2, 3, 4]);
  });

  it('names the tensor on a missing key, a wrong shape, a truncated file', () => {
    const path = join(tmp, 'errors.pth');
    writeCheckpoint(path);
    const store = readPth(path, { key: 'trainer.var_wo_ddp' });
    assert.throws(() => store.get('head_logits.weight'), /missing tensor "head_logits.weight"/);
    assert.throws(() => store.get('word_embed.weight', [2, 3]), /"word_embed.weight" has shape \[3, 2\], expected \[2, 3\]/);
    assert.throws(
      () => readPth(path, { key: 'trainer.nope' }),
      /no state dict at key "trainer.nope" \(top-level keys: args, trainer, note\)/,
    );
    const bytes = readFileSync(path);
    const cut = join(tmp, 'cut.pth');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 40));
    assert.throws(() => readPth(cut), /truncated|not a zip archive/);
  });

  it('rejects non-contiguous tensors by name', () => {
    const path = join(tmp, 'strided.pth');
    writeTorchSave(path, { ordered: [['w.t', tensor('0', 6, [3, 2], { stride: [1, 3] })]] }, [{ key: '0', bytes: f32(1, 2, 3, 4, 5, 6) }]);
    assert.throws(() => readPth(path).float32('w.t'), /"w.t" \[3,2\] has non-contiguous strides \[1,3\]/);
  });

  it('reports a storage that is too small for its tensor', () => {
    const path = join(tmp, 'overrun.pth');
    writeTorchSave(path, { ordered: [['w', tensor('0', 6, [4, 2])]] }, [{ key: '0', bytes: f32(1, 2, 3, 4, 5, 6) }]);
    assert.throws(() => readPth(path), /tensor "w" \[4,2\] at offset 0 overruns its storage/);
  });
});
