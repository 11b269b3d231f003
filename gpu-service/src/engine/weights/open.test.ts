import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { contiguousStride, legacyTorchSaveBytes, writeTorchSave } from '../testing/torch-save.ts';
import { openWeights } from './open.ts';
import { writeSafetensors } from './safetensors.ts';

const tmp = mkdtempSync(join(tmpdir(), 'star-open-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const VALUES = [1, -2, 0.5, 4];
const f32 = new Uint8Array(Float32Array.from(VALUES).buffer);

describe('openWeights picks the reader by content, not by file name', () => {
  it('reads a torch.save zip file whatever it is called (.pth, .bin, .safetensors)', () => {
    for (const name of ['weights.pth', 'pytorch_model.bin', 'misnamed.safetensors']) {
      const path = join(tmp, name);
      writeTorchSave(
        path,
        {
          ordered: [
            [
              'w',
              {
                kind: 'tensor',
                storageKey: '0',
                storageType: 'FloatStorage',
                storageNumel: 4,
                offset: 0,
                shape: [2, 2],
                stride: contiguousStride([2, 2]),
              },
            ],
          ],
        },
        [{ key: '0', bytes: f32 }],
      );
      assert.deepEqual([...openWeights(path).float32('w', [2, 2])], VALUES, name);
    }
  });

  it('reads safetensors whatever it is called', () => {
    const path = join(tmp, 'model.bin');
    writeSafetensors(path, [{ name: 'w', dtype: 'float32', shape: [4], bytes: () => f32 }]);
    assert.deepEqual([...openWeights(path).float32('w')], VALUES);
  });

  it('refuses legacy (non-zip) torch.save files with a clear message, for every pickle protocol', () => {
    const legacy = legacyTorchSaveBytes({ ordered: [['epoch', 3]] });
    for (const protocol of [2, 4, 5]) {
      const path = join(tmp, `legacy-${protocol}.pth`);
      writeFileSync(path, Buffer.concat([Uint8Array.from([0x80, protocol]), legacy.subarray(2)]));
      assert.throws(
        () => openWeights(path),
        (err: Error) => {
          assert.match(
            err.message,
            /legacy-\d\.pth: legacy torch\.save format is not readable; re-save with torch\.save's default \(zip\) format/,
          );
          assert.doesNotMatch(err.message, /safetensors/);
          return true;
        },
      );
    }
  });

  it('still calls other bytes "not a valid safetensors file", including a pickle that is not torch.save\'s', () => {
    const garbage = join(tmp, 'garbage.bin');
    writeFileSync(garbage, Buffer.from('just some text, long enough to have a header length'));
    assert.throws(() => openWeights(garbage), /garbage.bin: not a valid safetensors file: header length/);
    const plainPickle = join(tmp, 'plain.pkl');
    writeFileSync(plainPickle, Buffer.concat([Uint8Array.from([0x80, 0x02, 0x8a, 0x0a]), Buffer.alloc(20, 1)]));
    assert.throws(() => openWeights(plainPickle), /not a valid safetensors file/);
  });
});
